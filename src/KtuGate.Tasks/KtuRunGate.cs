using System.Globalization;
using System.Text;
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
    private static readonly string[] s_providers = ["auto", "cpu", "cuda"];

    private readonly StringBuilder _standardOutput = new();
    private readonly List<string> _standardError = [];
    private readonly System.Diagnostics.Stopwatch _running = new();

    /// <summary>The files this run writes: cleared before it, stamped after a pass.</summary>
    private readonly GateOutputs _outputs;

    /// <summary>Asks the engine to stop when the build is cancelled, before ToolTask kills it.</summary>
    private readonly EngineStop _stop = new();

    /// <summary>Makes the task.</summary>
    public KtuRunGate() => _outputs = new GateOutputs(this);

    /// <summary>The model artifacts, with <c>Manifest</c> and optional <c>Baseline</c> metadata.</summary>
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The policy files.</summary>
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

    /// <summary>The most memory a model may declare (<c>ktu check --max-memory</c>), e.g. <c>8G</c>; empty for the engine's default, the machine's memory.</summary>
    public string? MaxMemory { get; set; }

    /// <summary>A file written only when the gate passes: the settings, every file the run read and every artifact it wrote, with their SHA-256.</summary>
    public string? StampFile { get; set; }

    /// <summary>Where the engine lists the files it read (<c>ktu check --inputs-file</c>).</summary>
    public string? InputsFile { get; set; }

    /// <summary>
    /// After how many seconds the engine's progress lines (probing, recording, searching settings, writing) are logged at high importance,
    /// so that a long run shows where it is at the default verbosity; before that they are low importance, and a quick run stays quiet.
    /// </summary>
    public int ProgressAfterSeconds { get; set; } = 5;

    /// <summary>How long a cancelled build waits for the engine to stop on its own (between batches and training steps) before killing it.</summary>
    public int StopGraceSeconds { get; set; } = 30;

    /// <summary>The gate's settings, recorded in the stamp.</summary>
    public string[] Settings { get; set; } = [];

    /// <summary>Files the gate's items resolve to and KtuGate itself, recorded in the stamp beside those the engine read.</summary>
    public ITaskItem[] Inputs { get; set; } = [];

    /// <summary>The report that was written.</summary>
    [Output]
    public string? ReportFile { get; private set; }

    /// <summary>pass, fail or error.</summary>
    [Output]
    public string? Verdict { get; private set; }

    /// <summary>The remediated artifacts this run wrote, each with <c>OriginalPath</c>: the artifact it replaces as the build's output.</summary>
    [Output]
    public ITaskItem[] RemediatedModels { get; private set; } = [];

    /// <inheritdoc />
    protected override string ToolName => "dotnet";

    /// <inheritdoc />
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Low;

    /// <inheritdoc />
    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.Normal;

    internal bool Remediate => string.Equals(Mode, "Remediate", StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override bool Execute()
    {
        if (!s_modes.Contains(Mode, StringComparer.OrdinalIgnoreCase))
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.UnknownMode.Create(null, Mode, string.Join(", ", s_modes)));
            return false;
        }

        if (string.Equals(Mode, "Off", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!s_providers.Contains(ExecutionProvider, StringComparer.OrdinalIgnoreCase))
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.UnknownExecutionProvider.Create(null, ExecutionProvider, string.Join(", ", s_providers)));
        }

        // Checked here, before the engine starts, so that a typo is its own coded error and never the engine's KTU5003.
        if (!string.IsNullOrWhiteSpace(MaxMemory) && !Onnx.ModelLimits.TryParseSize(MaxMemory, out _))
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.MemoryLimitInvalid.Create(null, MaxMemory));
        }

        if (Models.Length == 0)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.NoModels.Create(null, Policies.Length, Policies.Length == 1 ? "y" : "ies"));
        }
        else if (Policies.Length == 0)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.NoPolicies.Create(null, Models[0].ItemSpec));
        }

        if (!File.Exists(EnginePath))
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.EngineNotFound.Create(null, EnginePath));
        }

        if (Log.HasLoggedErrors || !_outputs.Clear())
        {
            return false;
        }

        ReportFile = Path.Combine(ReportDirectory, ReportJson.FileName);
        var ok = base.Execute() && !Log.HasLoggedErrors;
        if (ok && StampFile is not null)
        {
            _outputs.WriteStamp();
        }

        return ok && !Log.HasLoggedErrors;
    }

    /// <summary>A path as the engine sees it: relative paths are relative to the project folder, where the engine runs.</summary>
    internal string Full(string path) => Path.GetFullPath(path, Path.GetFullPath(ProjectDirectory));

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
    /// <remarks>The command line names every policy, model and folder: a file name with a line break or ESC must not forge a log line.</remarks>
    protected override void LogToolCommand(string message) => base.LogToolCommand(TextSafety.Printable(message));

    /// <inheritdoc />
    protected override void LogPathToTool(string toolName, string pathToTool) => base.LogPathToTool(TextSafety.Printable(toolName), TextSafety.Printable(pathToTool));

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
        if (Remediate)
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
        if (!string.IsNullOrWhiteSpace(MaxMemory))
        {
            builder.AppendSwitchIfNotNull("--max-memory ", MaxMemory.Trim());
        }

        if (!string.IsNullOrEmpty(SigningKeyFile))
        {
            builder.AppendSwitchIfNotNull("--signing-key ", SigningKeyFile);
        }
        else if (!string.IsNullOrEmpty(SigningKeyEnvironmentVariable))
        {
            builder.AppendSwitchIfNotNull("--signing-key-env ", SigningKeyEnvironmentVariable);
        }

        if (!string.IsNullOrEmpty(InputsFile))
        {
            builder.AppendSwitchIfNotNull("--inputs-file ", InputsFile);
        }

        return builder.ToString();
    }

    /// <inheritdoc />
    protected override int ExecuteTool(string pathToTool, string responseFileCommands, string commandLineCommands)
    {
        _running.Restart();
        var exitCode = base.ExecuteTool(pathToTool, responseFileCommands, commandLineCommands);
        LogResult(exitCode);
        return exitCode;
    }

    /// <inheritdoc />
    protected override System.Diagnostics.Process StartToolProcess(System.Diagnostics.Process proc) => _stop.Started(base.StartToolProcess(proc));

    /// <inheritdoc />
    public override void Cancel() => _stop.Request(TimeSpan.FromSeconds(StopGraceSeconds), base.Cancel);

    /// <inheritdoc />
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        // The engine prints the report as JSON on standard output, and problems it could not put in a report on standard error.
        if (messageImportance == StandardErrorImportanceToUse)
        {
            _standardError.Add(singleLine);
        }
        else
        {
            _standardOutput.AppendLine(singleLine);
        }

        if (ProgressText.IsLogLine(singleLine))
        {
            var late = _running.Elapsed.TotalSeconds >= ProgressAfterSeconds;
            KtuLog.Message(Log, late ? MessageImportance.High : MessageImportance.Low, "KtuGate: {0}", singleLine);
            return;
        }

        KtuLog.Message(Log, MessageImportance.Low, "{0}", singleLine);
    }

    /// <inheritdoc />
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors && !_stop.Requested)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.EngineFailed.Create(null, ExitCode, EngineReason()));
        }

        return false;
    }

    /// <summary>The engine's own words for a failure it gave no code for: the last lines it wrote on standard error.</summary>
    private string EngineReason()
    {
        var lines = _standardError.Where(l => l.Trim().Length > 0 && !ProgressText.IsLogLine(l)).TakeLast(5).ToList();
        return lines.Count == 0 ? $"no report at {ReportFile ?? ReportDirectory} and nothing on standard error" : string.Join(" | ", lines.Select(l => l.Trim()));
    }

    private void LogResult(int exitCode)
    {
        var report = EngineReport.Read(_standardOutput.ToString(), ReportFile, out var unreadable);
        var logged = new HashSet<(string Code, string Message)>();
        if (report is not null)
        {
            foreach (var d in report.Diagnostics)
            {
                var severity = Enum.TryParse<DiagnosticSeverity>(d.Severity, ignoreCase: true, out var s) ? s : DiagnosticSeverity.Error;
                KtuLog.Diagnostic(Log, new Diagnostic(d.Code, severity, d.Message, d.File is null ? null : new SourceLocation(d.File, d.Line, d.Column)));
                logged.Add((d.Code, d.Message));
            }
        }

        // What the engine said on standard error with a code (a key it could not read, an inputs list it could not write, an internal error).
        foreach (var line in _standardError)
        {
            if (EngineReport.Coded(line) is { } coded && logged.Add((coded.Code, coded.Message)))
            {
                KtuLog.Diagnostic(Log, coded);
            }
        }

        if (report is null)
        {
            if (_stop.Requested)
            {
                KtuLog.Message(Log, MessageImportance.High, "KtuGate: the build was cancelled; the engine {0}", EngineStop.Ended(exitCode));
            }
            else if (exitCode != 0 && !Log.HasLoggedErrors)
            {
                KtuLog.Diagnostic(Log, DiagnosticCodes.EngineFailed.Create(null, exitCode, unreadable ?? EngineReason()));
            }
            else if (exitCode == 0)
            {
                // Exit code 0 with nothing to show for it proves nothing: before, this passed and wrote the stamp.
                KtuLog.Diagnostic(Log, DiagnosticCodes.EngineResultUnusable.Create(null, exitCode, unreadable ?? $"it printed no report and wrote none to '{ReportFile}'"));
            }

            return;
        }

        Verdict = report.Verdict;
        if (exitCode != 0 && report.Verdict == "pass" && !Log.HasLoggedErrors)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.EngineFailed.Create(null, exitCode, EngineReason()));
        }

        if (exitCode == 0 && EngineReport.WhyNotAPass(report, ReportFile, Models.Select(m => Full(m.ItemSpec)), Full) is { } why)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.EngineResultUnusable.Create(null, exitCode, why));
        }

        RemediatedModels = report.Models.Select(m => m.Remediation).OfType<RemediationReport>()
            .Where(r => r.Output is not null)
            .Select(r => (ITaskItem)new TaskItem(Path.GetFullPath(Path.Combine(ProjectDirectory, r.Output!.Path)),
                new Dictionary<string, string> { ["OriginalPath"] = Path.GetFullPath(Path.Combine(ProjectDirectory, r.Original.Path)) }))
            .ToArray();

        foreach (var model in report.Models)
        {
            var failed = model.Clauses.Count(c => !c.Passed);
            KtuLog.Message(Log, MessageImportance.High, "KtuGate: {0} on {1}: {2} of {3} clauses hold.", model.Artifact.Path, report.Environment.ExecutionProvider,
                (model.Clauses.Count - failed).ToString(CultureInfo.InvariantCulture), model.Clauses.Count.ToString(CultureInfo.InvariantCulture));
            if (ReportText.Remediation(model) is { } remediation)
            {
                // The log says what was shipped in place of the input, and how it fared, without opening the report.
                KtuLog.Message(Log, MessageImportance.High, "KtuGate: {0}: {1}.", model.Remediation!.Original.Path, remediation);
            }
        }

        KtuLog.Message(Log, MessageImportance.High, "KtuGate: next step: {0}", ReportText.NextStep(report));

        KtuLog.Message(Log, MessageImportance.High, "KtuGate: verdict {0}; report {1}", report.Verdict,
            File.Exists(ReportFile) ? Path.GetFullPath(ReportFile!) : "not written");
    }
}
