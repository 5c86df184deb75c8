namespace Microkernel.Plugins.Behavior.Reconstruction;

/// <summary>APIs whose call entries C2's MonitorProcessLog rewrites before reporting.</summary>
internal static class CallModifiers
{
    private static readonly HashSet<string> Names = new(StringComparer.Ordinal)
    {
        "COleScript_Compile",
        "CWindow_AddTimeoutCode",
        "CElement_put_innerHTML",
        "CDocument_write",
        "CIFrameElement_CreateElement",
        "OpenServiceA",
        "OpenServiceW",
        "CreateServiceA",
        "CreateServiceW",
        "StartServiceA",
        "StartServiceW",
        "ControlService",
        "DeleteService",
        "vbe6_CreateObject",
        "vbe6_GetObject",
        "vbe6_Import",
        "vbe6_GetIDFromName",
        "vbe6_CallByName",
        "vbe6_Invoke",
        "pdf_eval",
        "pdf_unescape",
        "__exception__",
    };

    public static bool Applies(string apiName) => Names.Contains(apiName);
}
