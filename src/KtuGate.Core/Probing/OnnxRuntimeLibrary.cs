using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>Chooses which native ONNX Runtime library the engine loads: the CPU build it ships, or the one a folder names.</summary>
/// <remarks>
/// KtuGate ships the CPU build; the CUDA build is opt-in (the KtuGate.Cuda package, or <see cref="DirectoryVariable"/> for ktu).
/// The folder is checked before any ONNX Runtime call, so that a folder without the library fails with a coded error
/// instead of falling back, unnoticed, to the CPU build.
/// </remarks>
public static class OnnxRuntimeLibrary
{
    /// <summary>The environment variable that names the folder holding the native ONNX Runtime library to load.</summary>
    public const string DirectoryVariable = "KTU_ONNXRUNTIME_DIR";

    private static readonly Lazy<Selection> s_selection = new(Select);

    /// <summary>The folder named by <see cref="DirectoryVariable"/>, or null when the shipped CPU build is used.</summary>
    public static string? Directory => s_selection.Value.Directory;

    /// <summary>Why the named folder cannot be used, or null when it can (or none is named).</summary>
    public static string? Problem => s_selection.Value.Problem;

    /// <summary>Installs the library choice; call before the first ONNX Runtime call. Later calls do nothing.</summary>
    public static void EnsureSelected() => _ = s_selection.Value;

    private static Selection Select()
    {
        var directory = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (string.IsNullOrWhiteSpace(directory))
        {
            return new Selection(null, null);
        }

        directory = Path.GetFullPath(directory);
        var file = Path.Combine(directory, LibraryFileName());
        if (!System.IO.Directory.Exists(directory))
        {
            return new Selection(directory, "the folder does not exist");
        }

        if (!File.Exists(file))
        {
            return new Selection(directory, $"it holds no {LibraryFileName()}");
        }

        // Loaded here, by its full path, so that a library that does not load is reported as this folder's fault.
        if (!NativeLibrary.TryLoad(file, out var handle))
        {
            return new Selection(directory, $"{LibraryFileName()} does not load (missing dependencies, or built for another platform)");
        }

        // ONNX Runtime's own resolver would look beside the managed assembly only; it must step aside for this one.
        OrtEnv.DisableDllImportResolver = true;
        NativeLibrary.SetDllImportResolver(typeof(OrtEnv).Assembly, (name, _, _) =>
            name is "onnxruntime" or "libonnxruntime" or "onnxruntime.dll" or "libonnxruntime.so" or "libonnxruntime.dylib" ? handle : IntPtr.Zero);
        return new Selection(directory, null);
    }

    private static string LibraryFileName() =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    private sealed record Selection(string? Directory, string? Problem);
}
