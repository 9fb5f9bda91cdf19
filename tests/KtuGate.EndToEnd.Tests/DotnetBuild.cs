using System.Diagnostics;
using System.Text;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>Runs the real <c>dotnet</c> CLI on a temporary model-release project.</summary>
internal static class DotnetBuild
{
    public sealed record Result(int ExitCode, string Output, string BinaryLog);

    /// <summary>Runs <c>dotnet build</c> in <paramref name="projectFolder"/>, always with a binary log beside the project.</summary>
    public static Result Run(string projectFolder, string name, params string[] extraArguments)
    {
        var binlog = Path.Combine(projectFolder, "logs", name + ".binlog");
        var arguments = new List<string> { "build", "-nologo", "-clp:NoSummary;ForceNoAlign", $"-bl:{binlog}" };
        arguments.AddRange(extraArguments);
        return Exec(projectFolder, arguments, binlog);
    }

    public static Result Exec(string workingDirectory, IEnumerable<string> arguments, string binlog = "")
        => ExecFile("dotnet", workingDirectory, arguments, binlog);

    /// <summary>Runs a program with the test host's MSBuild settings removed (and <paramref name="environment"/> added), collecting all its output.</summary>
    public static Result ExecFile(string program, string workingDirectory, IEnumerable<string> arguments, string binlog = "", IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The test host runs inside 'dotnet test'; its MSBuild settings must not leak into the build under test.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "VSTEST_HOST_DEBUG").ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = arguments.Contains("-nodeReuse:true") ? "0" : "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        using var stdoutClosed = new ManualResetEventSlim();
        using var stderrClosed = new ManualResetEventSlim();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Collect(e.Data, output, stdoutClosed);
        process.ErrorDataReceived += (_, e) => Collect(e.Data, output, stderrClosed);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // With a timeout, WaitForExit does not wait for reused build nodes that inherited the output pipes.
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in 5 minutes:\n{output}");
        }

        // The last lines can arrive after the exit; wait for the end of both streams, but not for ever where
        // a reused node still holds them open.
        var drain = arguments.Contains("-nodeReuse:true") ? TimeSpan.FromSeconds(5) : TimeSpan.FromMinutes(1);
        WaitHandle.WaitAll([stdoutClosed.WaitHandle, stderrClosed.WaitHandle], drain);
        lock (output)
        {
            return new Result(process.ExitCode, output.ToString(), binlog);
        }
    }

    private static void Collect(string? line, StringBuilder output, ManualResetEventSlim closed)
    {
        if (line is null)
        {
            closed.Set();
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    /// <summary>Writes a model-release project that uses the gate built from this repository, as a package user would; in <paramref name="subfolder"/> of the folder where one is given.</summary>
    public static void WriteProject(TempFolder folder, string projectXmlItems, string subfolder = "")
    {
        var build = Path.Combine(TestPaths.RepoRoot, "src", "KtuGate.Tasks", "build");
        folder.File(Path.Combine(subfolder, "Directory.Build.props"), $"""
            <Project>
              <PropertyGroup>
                <KtuGateTasksAssembly>{TestPaths.TasksAssembly}</KtuGateTasksAssembly>
                <KtuEnginePath>{TestPaths.EnginePath}</KtuEnginePath>
                <KtuExecutionProvider>cpu</KtuExecutionProvider>
              </PropertyGroup>
              <Import Project="{Path.Combine(build, "KtuGate.props")}" />
            </Project>
            """);
        folder.File(Path.Combine(subfolder, "Directory.Build.targets"), $"""
            <Project>
              <Import Project="{Path.Combine(build, "KtuGate.targets")}" />
            </Project>
            """);
        folder.File(Path.Combine(subfolder, "Release.csproj"), $"""
            <Project Sdk="Microsoft.Build.NoTargets/3.7.0">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
              </PropertyGroup>
              <ItemGroup>
            {projectXmlItems}
              </ItemGroup>
            </Project>
            """);
        var artifacts = Path.Combine(folder.Path, subfolder, "artifacts");
        Directory.CreateDirectory(artifacts);
        File.Copy(TestPaths.SampleModel, Path.Combine(artifacts, "fashion-classifier.onnx"));
        File.Copy(TestPaths.SampleManifest, Path.Combine(artifacts, "fashion-classifier.ktu.json"));
    }
}
