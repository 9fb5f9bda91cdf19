using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Core.Tests;

/// <summary>The engine's ONNX Runtime environment where the process already has one.</summary>
public sealed class OrtEnvironmentTests
{
    [Fact]
    public void An_environment_created_before_the_engine_s_is_taken_over_and_quietened_not_an_error()
    {
        // A session opened before the engine's first (a host's, or a test's) creates ONNX Runtime's default environment, and a process
        // has only one. Creating the engine's must then take that one over with its logging quietened, not throw: it once did, and
        // every later session of the test run failed with "OrtEnv singleton instance already exists".
        var existing = OrtEnv.Instance();
        existing.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING;

        var environment = SessionFactory.CreateEnvironment();

        Assert.Same(existing, environment);
        Assert.Equal(OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, environment.EnvLogLevel);
    }
}
