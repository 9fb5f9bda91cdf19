using KtuGate.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>Which ONNX Runtime execution provider to ask for.</summary>
public enum ExecutionProviderPreference
{
    /// <summary>CUDA when it loads, otherwise CPU.</summary>
    Auto,

    /// <summary>CPU only.</summary>
    Cpu,

    /// <summary>CUDA or fail.</summary>
    Cuda,
}

/// <summary>Opens ONNX Runtime sessions on the best execution provider available.</summary>
public static class SessionFactory
{
    /// <summary>The name reported for the CPU provider.</summary>
    public const string Cpu = "CPUExecutionProvider";

    /// <summary>The name reported for the CUDA provider.</summary>
    public const string Cuda = "CUDAExecutionProvider";

    /// <summary>The ONNX Runtime version in use.</summary>
    public static string OnnxRuntimeVersion
    {
        get
        {
            EnsureQuietEnvironment();
            return OrtEnv.Instance().GetVersionString();
        }
    }

    /// <summary>Makes session options for the preferred provider and says which provider they use.</summary>
    /// <param name="preference">What the user asked for.</param>
    /// <param name="diagnostics">
    /// Receives KTU5001 when CUDA was wanted but not loaded, KTU5004 when it was required, KTU5040 when it was required from
    /// the CPU-only runtime, or KTU5041 when the ONNX Runtime folder named by KTU_ONNXRUNTIME_DIR cannot be used.
    /// </param>
    /// <param name="provider">The provider the options use, or null when none could be made.</param>
    public static SessionOptions? CreateOptions(ExecutionProviderPreference preference, DiagnosticBag diagnostics, out string? provider)
    {
        OnnxRuntimeLibrary.EnsureSelected();
        if (OnnxRuntimeLibrary.Problem is { } problem)
        {
            // A runtime asked for by folder and not found must not turn, unnoticed, into the shipped CPU build.
            diagnostics.Add(DiagnosticCodes.OnnxRuntimeDirectoryInvalid, null, OnnxRuntimeLibrary.Directory, problem);
            provider = null;
            return null;
        }

        EnsureQuietEnvironment();
        if (preference != ExecutionProviderPreference.Cpu && !OrtEnv.Instance().GetAvailableProviders().Contains(Cuda))
        {
            // The CPU-only build has no CUDA provider to load: say so, rather than quote the build's own error.
            var providers = string.Join(", ", OrtEnv.Instance().GetAvailableProviders());
            if (preference == ExecutionProviderPreference.Cuda)
            {
                diagnostics.Add(DiagnosticCodes.GpuRuntimeNotInstalled, null, OnnxRuntimeVersion, providers);
                provider = null;
                return null;
            }

            diagnostics.Add(DiagnosticCodes.CudaUnavailable, null, "the CPU-only ONNX Runtime is installed; the KtuGate.Cuda package brings the GPU one");
            preference = ExecutionProviderPreference.Cpu;
        }

        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (preference != ExecutionProviderPreference.Cpu)
        {
            try
            {
                options.AppendExecutionProvider_CUDA(0);
                provider = Cuda;
                return options;
            }
            catch (OnnxRuntimeException e)
            {
                var reason = FirstLine(e.Message);
                if (preference == ExecutionProviderPreference.Cuda)
                {
                    diagnostics.Add(DiagnosticCodes.CudaRequired, null, reason);
                    options.Dispose();
                    provider = null;
                    return null;
                }

                diagnostics.Add(DiagnosticCodes.CudaUnavailable, null, reason);

                // The failed append can leave the options half-configured; start from fresh ones for the CPU.
                options.Dispose();
                options = new SessionOptions
                {
                    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                    LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
                };
            }
        }

        provider = Cpu;
        return options;
    }

    private static readonly Lazy<OrtEnv> s_environment = new(() =>
        CreateEnvironment());

    internal static OrtEnv CreateEnvironment()
    {
        var options = new EnvironmentCreationOptions { logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, logId = "KtuGate" };
        try
        {
            return OrtEnv.CreateInstanceWithOptions(ref options);
        }
        catch (OnnxRuntimeException e) when (e.Message.Contains("already exists", StringComparison.Ordinal))
        {
            // Something else in the process (a host, a test) opened a session first and so created ONNX Runtime's default
            // environment; a process has one: quiet that one instead of failing every later session.
            var existing = OrtEnv.Instance();
            existing.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            return existing;
        }
    }

    // ONNX Runtime logs a failed CUDA load to stderr as an error; KtuGate reports it as KTU5001 instead, once.
    private static void EnsureQuietEnvironment()
    {
        OnnxRuntimeLibrary.EnsureSelected();
        _ = s_environment.Value;
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length > 300 ? line[..300] + "..." : line;
    }
}
