using System.Globalization;
using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Reporting;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Runs the KtuGate engine in a child process and turns its report into located MSBuild errors and warnings.</summary>
/// <remarks>The engine loads ONNX Runtime and native image codecs; keeping them out of MSBuild's long-lived worker nodes means nothing stays locked or stale between builds.</remarks>
public sealed class KtuRunGate : ToolTask
{
    private static readonly string[] s_modes = ["Verify", "Remediate", "Off"];

    /// <summary>The model artifacts, with <c>Manifest</c> and optional <c>Baseline</c> metadata.</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The policy files.</summary>
    [Required]
    public ITaskItem[] Policies { get; set; } = [];

    /// <summary>Where the report goes.</summary>
    [Required]
    public string ReportDirectory { get; set; } = "";

    /// <summary>The engine, <c>ktu.dll</c>.</summary>
    [Required]
    public string EnginePath { get; set; } = "";

    /// <summary>The project's folder: the engine runs there and report paths are relative to it.</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>A folder of NuGet packages where the engine's package dependencies can be found, when they do not sit beside it (the packaged engine).</summary>
    public string? ProbingPath { get; set; }

    /// <summary>A PEM file with the ECDSA P-256 key to sign the report's statement with.</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>The name of an environment variable that holds the PEM signing key.</summary>
    public string? SigningKeyEnvironmentVariable { get; set; }

    /// <summary>Where Remediate writes the remediated artifact.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>The gate mode: Verify (default), Remediate or Off.</summary>
    public string Mode { get; set; } = "Verify";

    /// <summary>auto, cpu or cuda.</summary>
    public string ExecutionProvider { get; set; } = "auto";

    /// <summary>A file written only when the gate passes, so an incremental build reruns a failed gate.</summary>
    public string? StampFile { get; set; }

    /// <summary>The report that was written.</summary>
    [Output]
    public string? ReportFile { get; private set; }

    /// <summary>pass, fail or error.</summary>
    [Output]
    public string? Verdict { get; private set; }

    /// <inheritdoc />
    protected override string ToolName => "dotnet";

    /// <inheritdoc />
    public override bool Execute()
    {
        if (!s_modes.Contains(Mode, StringComparer.OrdinalIgnoreCase))
        {
            LogDiagnostic(DiagnosticCodes.UnknownMode.Create(null, Mode, string.Join(", ", s_modes)));
            return false;
        }

        if (string.Equals(Mode, "Off", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!File.Exists(EnginePath))
        {
            LogDiagnostic(DiagnosticCodes.EngineNotFound.Create(null, EnginePath));
            return false;
        }

        if (StampFile is not null && File.Exists(StampFile))
        {
            File.Delete(StampFile);
        }

        ReportFile = Path.Combine(ReportDirectory, ReportJson.FileName);
        foreach (var name in ReportWriter.FileNames)
        {
            // A stale report must not be mistaken for this run's if the engine dies early.
            var stale = Path.Combine(ReportDirectory, name);
            if (File.Exists(stale))
            {
                File.Delete(stale);
            }
        }

        var ok = base.Execute();
        if (ok && StampFile is not null)
        {
            AtomicFile.Write(StampFile, System.Text.Encoding.UTF8.GetBytes(GenerateCommandLineCommands() + "\n"));
        }

        return ok && !Log.HasLoggedErrors;
    }

    /// <inheritdoc />
    protected override string GenerateFullPathToTool()
    {
        // The dotnet CLI tells MSBuild which host runs it; use the same one for the engine.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"))
            .FirstOrDefault(File.Exists);
        return onPath ?? "dotnet";
    }

    /// <inheritdoc />
    protected override string GetWorkingDirectory() => ProjectDirectory;

    /// <inheritdoc />
    protected override string GenerateCommandLineCommands()
    {
        var builder = new CommandLineBuilder();
        builder.AppendSwitch("exec");
        if (!string.IsNullOrEmpty(ProbingPath))
        {
            builder.AppendSwitchIfNotNull("--additionalprobingpath ", ProbingPath.TrimEnd('/', '\\'));
        }

        builder.AppendFileNameIfNotNull(EnginePath);
        builder.AppendTextUnquoted(" check --format json");
        if (string.Equals(Mode, "Remediate", StringComparison.OrdinalIgnoreCase))
        {
            builder.AppendTextUnquoted(" --mode remediate");
            builder.AppendSwitchIfNotNull("--output-dir ", OutputDirectory);
        }

        var anyBaseline = Models.Any(m => !string.IsNullOrEmpty(m.GetMetadata("Baseline")));
        foreach (var model in Models)
        {
            builder.AppendSwitchIfNotNull("--model ", model.ItemSpec);
            builder.AppendSwitchIfNotNull("--manifest ", model.GetMetadata("Manifest"));
            if (anyBaseline)
            {
                // Baselines pair with models by position; an empty one keeps the positions aligned.
                if (model.GetMetadata("Baseline") is { Length: > 0 } baseline)
                {
                    builder.AppendSwitchIfNotNull("--baseline ", baseline);
                }
                else
                {
                    builder.AppendSwitch("--baseline \"\"");
                }
            }
        }

        foreach (var policy in Policies)
        {
            builder.AppendSwitchIfNotNull("--policy ", policy.ItemSpec);
        }

        builder.AppendSwitchIfNotNull("--report-dir ", ReportDirectory);
        builder.AppendSwitchIfNotNull("--base-dir ", ProjectDirectory);
        builder.AppendSwitchIfNotNull("--execution-provider ", ExecutionProvider.ToLowerInvariant());
        if (!string.IsNullOrEmpty(SigningKeyFile))
        {
            builder.AppendSwitchIfNotNull("--signing-key ", SigningKeyFile);
        }
        else if (!string.IsNullOrEmpty(SigningKeyEnvironmentVariable))
        {
            builder.AppendSwitchIfNotNull("--signing-key-env ", SigningKeyEnvironmentVariable);
        }

        return builder.ToString();
    }

    /// <inheritdoc />
    protected override int ExecuteTool(string pathToTool, string responseFileCommands, string commandLineCommands)
    {
        var exitCode = base.ExecuteTool(pathToTool, responseFileCommands, commandLineCommands);
        LogReport();
        return exitCode;
    }

    /// <inheritdoc />
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        // The engine prints the report as JSON; the task logs the report's diagnostics itself, with locations.
        Log.LogMessage(MessageImportance.Low, "{0}", singleLine);
    }

    /// <inheritdoc />
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors)
        {
            LogDiagnostic(DiagnosticCodes.EngineFailed.Create(null, ExitCode, ReportFile ?? "no report"));
        }

        return false;
    }

    private void LogReport()
    {
        if (ReportFile is null || !File.Exists(ReportFile))
        {
            return;
        }

        GateReport report;
        try
        {
            report = ReportJson.Deserialize(File.ReadAllBytes(ReportFile));
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            LogDiagnostic(DiagnosticCodes.EngineFailed.Create(null, ExitCode, $"unreadable report: {e.Message}"));
            return;
        }

        Verdict = report.Verdict;
        foreach (var d in report.Diagnostics)
        {
            var severity = Enum.TryParse<DiagnosticSeverity>(d.Severity, ignoreCase: true, out var s) ? s : DiagnosticSeverity.Error;
            LogDiagnostic(new Diagnostic(d.Code, severity, d.Message, d.File is null ? null : new SourceLocation(d.File, d.Line, d.Column)));
        }

        foreach (var model in report.Models)
        {
            var failed = model.Clauses.Count(c => !c.Passed);
            Log.LogMessage(MessageImportance.High, string.Format(CultureInfo.InvariantCulture,
                "KtuGate: {0} on {1}: {2} of {3} clauses hold.", model.Artifact.Path, report.Environment.ExecutionProvider,
                model.Clauses.Count - failed, model.Clauses.Count));
        }

        Log.LogMessage(MessageImportance.High, "KtuGate: verdict {0}; report {1}", report.Verdict, Path.GetFullPath(ReportFile));
    }

    private void LogDiagnostic(Diagnostic d)
    {
        var file = d.Location?.File;
        var line = d.Location?.Line ?? 0;
        var column = d.Location?.Column ?? 0;
        switch (d.Severity)
        {
            case DiagnosticSeverity.Error:
                Log.LogError(null, d.Code, d.Code, file, line, column, 0, 0, "{0}", d.Message);
                break;
            case DiagnosticSeverity.Warning:
                Log.LogWarning(null, d.Code, d.Code, file, line, column, 0, 0, "{0}", d.Message);
                break;
            default:
                Log.LogMessage(null, d.Code, d.Code, file, line, column, 0, 0, MessageImportance.Normal, "{0}", d.Message);
                break;
        }
    }
}
