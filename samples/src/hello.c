/* The Microkernel sample: a tiny Windows console program that "drops" a note and a
 * config file and mentions a C2-looking URL, so every file module has something to show.
 * Built by build.sh with mingw-w64; never meant to be run for real. CC0-1.0. */
#include <windows.h>
#include <stdio.h>

static const char gate[] = "http://sample.microkernel.invalid/gate.php?id=1";
static const wchar_t banner[] = L"Microkernel sample (wide string)";

int main(void)
{
    char path[MAX_PATH];
    DWORD written = 0;
    GetTempPathA(sizeof(path), path);
    lstrcatA(path, "note.txt");
    HANDLE file = CreateFileA(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file != INVALID_HANDLE_VALUE) {
        WriteFile(file, gate, sizeof(gate) - 1, &written, NULL);
        CloseHandle(file);
    }
    MessageBoxW(NULL, banner, L"Microkernel", MB_OK);
    printf("hello from the Microkernel sample: %s\n", gate);
    return 0;
}
