using KtuGate.Tests;

namespace KtuGate.Cli.Tests;

/// <summary>The engine runs the CPU build of ONNX Runtime it ships; CUDA comes only from a GPU build named by KTU_ONNXRUNTIME_DIR.</summary>
public sealed class OnnxRuntimeSelectionTests
{
    private const string OnnxRuntimeLibraryVariable = "KTU_ONNXRUNTIME_DIR";

    private static readonly string[] s_check =
        ["check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json"];

    // The CUDA build of ONNX Runtime for Linux that the KtuGate.Cuda package brings; the test project downloads it.
    private static string GpuRuntimeFolder => Path.Combine(
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        "microsoft.ml.onnxruntime.gpu.linux", "1.31.0", "runtimes", "linux-x64", "native");

    private static (int ExitCode, string Stdout, string Stderr) Check(string? runtimeFolder, string provider, string reportDir) =>
        KtuCommandTests.KtuWith(TestPaths.Sample(), new Dictionary<string, string> { [OnnxRuntimeLibraryVariable] = runtimeFolder ?? "" },
            [.. s_check, "--execution-provider", provider, "--report-dir", reportDir]);

    [Fact]
    public void Cuda_without_the_gpu_runtime_is_a_coded_error_not_a_cpu_run()
    {
        using var temp = new TempFolder();
        var (exit, stdout, stderr) = Check(null, "cuda", temp.Path);

        Assert.Equal(2, exit);
        Assert.Contains("error KTU5040: Execution provider 'cuda' was requested, but the ONNX Runtime in use (1.31.0) is the CPU-only build", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("on CPUExecutionProvider", stdout, StringComparison.Ordinal);
        Assert.Contains("\"verdict\": \"error\"", File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")), StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_on_the_cpu_runtime_says_it_runs_on_cpu_and_why()
    {
        using var temp = new TempFolder();
        var (exit, stdout, _) = Check(null, "auto", temp.Path);

        Assert.Equal(1, exit);
        Assert.Contains("info KTU5001: CUDA execution provider not available (the CPU-only ONNX Runtime is installed; the KtuGate.Cuda package brings the GPU one); probing on CPU", stdout, StringComparison.Ordinal);
        Assert.Contains("on CPUExecutionProvider", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_runtime_folder_without_the_library_is_a_coded_error_never_the_shipped_runtime()
    {
        using var temp = new TempFolder();
        var empty = temp.File("empty/.keep", "");
        var (exit, _, stderr) = Check(Path.GetDirectoryName(empty), "cpu", temp.Path);

        Assert.Equal(2, exit);
        Assert.Contains("error KTU5041", stderr, StringComparison.Ordinal);
        Assert.Contains("it holds no libonnxruntime.so", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_gpu_runtime_named_by_folder_is_the_one_loaded()
    {
        Assert.True(File.Exists(Path.Combine(GpuRuntimeFolder, "libonnxruntime_providers_cuda.so")), $"the test project downloads Microsoft.ML.OnnxRuntime.Gpu.Linux into {GpuRuntimeFolder}");
        using var temp = new TempFolder();
        var (exit, stdout, stderr) = Check(GpuRuntimeFolder, "cuda", temp.Path);

        // The GPU build has the CUDA provider: never KTU5040. Here (no GPU, no CUDA libraries) it cannot load them, KTU5004;
        // on a machine with a GPU the gate runs on CUDA and says so.
        Assert.DoesNotContain("KTU5040", stderr, StringComparison.Ordinal);
        Assert.True(
            (exit == 2 && stderr.Contains("error KTU5004", StringComparison.Ordinal))
            || (exit == 1 && stdout.Contains("CUDAExecutionProvider", StringComparison.Ordinal)),
            stdout + stderr);
    }
}
