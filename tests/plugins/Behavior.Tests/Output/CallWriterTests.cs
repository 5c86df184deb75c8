using System.Text.Json;
using Microkernel.TestSupport;

namespace Microkernel.Plugins.Behavior.Tests.Output;

/// <summary>
/// The call lists: values of every BSON type, the optional fields, and the per-API rewrites of
/// C2's MonitorProcessLog (services, VBA, PDF, scripts, exceptions).
/// </summary>
public sealed class CallWriterTests
{
    private static readonly DateTime Start = new(2024, 5, 1, 12, 0, 0, 250, DateTimeKind.Utc);

    /// <summary>A log touching every call-list path; also the input of the byte-for-byte check.</summary>
    internal static void WriteScenario(MonitorLogWriter log)
    {
        log.WriteProcess(
            7,
            1,
            @"C:\t\app.exe",
            "app.exe",
            Start,
            modules: [(@"C:\t\app.exe", 0x400000, 0x10000), (@"C:\w\vbe6.dll", 0x10000000, 0x2000)]
        );
        log.DeclareApi(
            "Mixed",
            "misc",
            ["int", "long", "double", "text", "bytes", "flag", "none", "nested", "list"]
        );
        log.DeclareApi(
            "OpenServiceW",
            "services",
            ["service_manager_handle", "service_name", "desired_access"]
        );
        log.DeclareApi(
            "StartServiceW",
            "services",
            [MonitorLogWriter.Pointer("service_handle"), "arguments"]
        );
        log.DeclareApi("vbe6_CreateObject", "vba", ["this", "object_name"]);
        log.DeclareApi("vbe6_GetIDFromName", "vba", ["this", "funcidx", "funcname"]);
        log.DeclareApi("vbe6_Invoke", "vba", ["this", "funcidx", "args"]);
        log.DeclareApi("vbe6_Import", "vba", ["library", "function"]);
        log.DeclareApi("vbe6_CallByName", "vba", ["this", "funcname"]);
        log.DeclareApi("pdf_unescape", "pdf", ["string"]);
        log.DeclareApi("pdf_eval", "pdf", ["script"]);
        log.DeclareApi("COleScript_Compile", "iexplore", ["script"]);
        log.DeclareApi("CIFrameElement_CreateElement", "iexplore", ["attributes"]);
        log.DeclareApi("__exception__", "exception", ["exception", "registers"]);

        byte[] bytes = [0, 1, 9, 10, 13, 34, 39, 60, 92, 127, 128, 160, 173, 200, 255];
        log.Call(
            "Mixed",
            8,
            1,
            1,
            -5,
            -7,
            long.MinValue,
            2.5,
            "caf\u00e9 \"q\" \\ \t \u2028 \U0001F600 <&>",
            bytes,
            true,
            null,
            new List<(string, object?)> { ("a", 1), ("b", "x") },
            new List<object?> { 1, "two", 3.0 }
        );
        log.WriteBuffer([1, 2, 3]);
        log.WriteCall(
            log.IndexOf("Mixed"),
            8,
            2,
            [
                0,
                unchecked((int)0xC0000022),
                0,
                0L,
                double.NaN,
                "",
                Array.Empty<byte>(),
                false,
                null,
                new List<(string, object?)>(),
                new List<object?>(),
            ],
            errors: (5, unchecked((int)0xC0000022)),
            stacktrace: ["kernel32+0x10", "ntdll+0x20"]
        );
        log.Call("OpenServiceW", 8, 3, 1, 0x1234, 0x100, "Spooler", 0xF01FF);
        log.Call("StartServiceW", 8, 3, 1, 0, 0x1234, 0);
        log.Call("StartServiceW", 8, 3, 0, 0, 0x9999, 0);
        log.Call("vbe6_CreateObject", 8, 4, 1, 0, 0x500, "Shell.Application");
        log.Call("vbe6_GetIDFromName", 8, 4, 1, 0, 0x500, 3, "ShellExecute");
        log.Call("vbe6_Invoke", 8, 4, 1, 0, 0x500, 3, new List<object?> { "calc.exe" });
        log.Call("vbe6_Invoke", 8, 4, 1, 0, 0x600, 3, new List<object?>());
        log.Call("vbe6_Import", 8, 5, 1, 0, "VBE6.DLL", "");
        log.Call("vbe6_Import", 8, 5, 1, 0, "kernel32", "Sleep");
        log.Call("vbe6_CallByName", 8, 5, 1, 0, 0x500, "Run");
        log.Call("pdf_unescape", 8, 6, 1, 0, "%u4141%42%u00e9");
        log.Call("pdf_eval", 8, 6, 1, 0, "app.alert(1)");
        log.Call("COleScript_Compile", 8, 6, 1, 0, "var x = 1;");
        log.Call(
            "CIFrameElement_CreateElement",
            8,
            7,
            1,
            0,
            new List<(string, object?)> { ("SRC", "http://x"), ("Width", "1") }
        );
        log.Call(
            "__exception__",
            8,
            8,
            1,
            0,
            new List<(string, object?)>
            {
                ("address", "0x10000010"),
                ("exception_code", "0xc0000005"),
            },
            new List<(string, object?)> { ("eax", "0x0") }
        );
    }

    private static async Task<JsonElement> CallsOfScenario()
    {
        using var analysis = TempDirectory.Create();
        Directory.CreateDirectory(analysis.Combine("logs"));
        using (var log = MonitorLogWriter.Create(analysis.Combine("logs", "7.bson")))
        {
            WriteScenario(log);
        }
        using var result = await ModuleHarness.RunAsync(new BehaviorAnalysis(), analysis.Path);
        return result!.RootElement.GetProperty("processes")[0].GetProperty("calls").Clone();
    }

    [Fact]
    public async Task Writes_every_value_type_and_the_optional_fields()
    {
        var calls = await CallsOfScenario();
        var first = calls[0];
        var arguments = first.GetProperty("arguments");
        Assert.Equal(4294967289, arguments.GetProperty("int").GetInt64()); // 32-bit: unsigned
        Assert.Equal(0, arguments.GetProperty("long").GetInt64()); // 32-bit: the low 32 bits
        Assert.Equal(2.5, arguments.GetProperty("double").GetDouble());
        Assert.Equal(
            "caf\u00e9 \"q\" \\ \t \u2028 \U0001F600 <&>",
            arguments.GetProperty("text").GetString()
        );
        Assert.Equal(
            new string([
                .. new byte[]
                {
                    0,
                    1,
                    9,
                    10,
                    13,
                    34,
                    39,
                    60,
                    92,
                    127,
                    128,
                    160,
                    173,
                    200,
                    255,
                }.Select(b => (char)b),
            ]),
            arguments.GetProperty("bytes").GetString()
        );
        Assert.True(arguments.GetProperty("flag").GetBoolean());
        Assert.Equal(JsonValueKind.Null, arguments.GetProperty("none").ValueKind);
        Assert.Equal("x", arguments.GetProperty("nested").GetProperty("b").GetString());
        Assert.Equal(3, arguments.GetProperty("list").GetArrayLength());
        Assert.Equal(-5, first.GetProperty("return_value").GetInt64() - 4294967296); // retval -5, 32-bit
        Assert.False(first.TryGetProperty("last_error", out _));
        Assert.Equal(0, first.GetProperty("stacktrace").GetArrayLength());

        var second = calls[1];
        Assert.Equal("NaN", second.GetProperty("arguments").GetProperty("double").GetString());
        Assert.Equal(5, second.GetProperty("last_error").GetInt32());
        Assert.Equal(unchecked((int)0xC0000022), second.GetProperty("nt_status").GetInt32());
        Assert.Equal(
            ["kernel32+0x10", "ntdll+0x20"],
            second.GetProperty("stacktrace").EnumerateArray().Select(s => s.GetString())
        );
        Assert.Equal(40, second.GetProperty("buffer").GetString()!.Length);
    }

    [Fact]
    public async Task Rewrites_service_vba_pdf_script_and_exception_calls_like_cuckoo()
    {
        var calls = (await CallsOfScenario()).EnumerateArray().Skip(2).ToList();
        string Api(int i) => calls[i].GetProperty("api").GetString()!;
        JsonElement Args(int i) => calls[i].GetProperty("arguments");

        Assert.Equal("OpenServiceW", Api(0));
        Assert.Equal("Spooler", Args(1).GetProperty("service_name").GetString()); // by handle
        Assert.Equal(JsonValueKind.Null, Args(2).GetProperty("service_name").ValueKind); // unknown handle

        // vbe6: GetIDFromName and CallByName are dropped, so is the VBE6.DLL self-import.
        Assert.Equal(
            ["vbe6_CreateObject", "vbe6_Invoke", "vbe6_Invoke", "vbe6_Import", "pdf_unescape"],
            Enumerable.Range(3, 5).Select(Api)
        );
        Assert.Equal("ShellExecute", Args(4).GetProperty("funcname").GetString());
        Assert.False(Args(4).TryGetProperty("funcidx", out _));
        Assert.Equal(
            "Shell.Application",
            calls[4].GetProperty("flags").GetProperty("this").GetString()
        );
        Assert.False(calls[5].GetProperty("flags").TryGetProperty("this", out _));

        Assert.Equal("AA" + "B\u00e9\u0000", Args(7).GetProperty("unescaped").GetString());
        Assert.Equal(
            ["string", "unescaped"],
            calls[7].GetProperty("raw").EnumerateArray().Select(r => r.GetString())
        );
        Assert.Equal(
            ["script"],
            calls[8].GetProperty("raw").EnumerateArray().Select(r => r.GetString())
        );
        Assert.Equal(
            ["script"],
            calls[9].GetProperty("raw").EnumerateArray().Select(r => r.GetString())
        );
        Assert.Equal("http://x", Args(10).GetProperty("attributes").GetProperty("src").GetString());

        var exception = Args(11).GetProperty("exception");
        Assert.Equal("vbe6.dll", exception.GetProperty("module").GetString());
        Assert.Equal(0x10, exception.GetProperty("offset").GetInt64());
    }
}
