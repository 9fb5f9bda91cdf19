namespace KtuGate.Reporting;

/// <summary>The complete record of one gate run: what was asked, what was measured, what was decided, and on which files.</summary>
/// <param name="SchemaVersion">The report format's version.</param>
/// <param name="Tool">Which KtuGate wrote it.</param>
/// <param name="GeneratedAt">When it was written (UTC, ISO 8601): the one field that differs between identical runs.</param>
/// <param name="Verdict">"pass", "fail" (a clause is violated) or "error" (the inputs could not be checked).</param>
/// <param name="Mode">The gate mode, e.g. "verify".</param>
/// <param name="Environment">Where it ran.</param>
/// <param name="Options">The options that shaped the run.</param>
/// <param name="Policies">The policies read.</param>
/// <param name="Models">Per model: its files, measurements and clause verdicts.</param>
/// <param name="Summary">Clause counts.</param>
/// <param name="Diagnostics">Every diagnostic of the run, in order.</param>
public sealed record GateReport(
    int SchemaVersion,
    ToolInfo Tool,
    string GeneratedAt,
    string Verdict,
    string Mode,
    EnvironmentInfo Environment,
    OptionsInfo Options,
    IReadOnlyList<PolicyInfo> Policies,
    IReadOnlyList<ModelReport> Models,
    SummaryInfo Summary,
    IReadOnlyList<ReportDiagnostic> Diagnostics)
{
    /// <summary>The version this build writes.</summary>
    public const int CurrentSchemaVersion = 1;
}

/// <summary>The tool that wrote a report.</summary>
public sealed record ToolInfo(string Name, string Version);

/// <summary>Where the gate ran.</summary>
/// <param name="OnnxRuntime">ONNX Runtime's version.</param>
/// <param name="ExecutionProvider">The execution provider that ran the probes, or null when nothing ran.</param>
/// <param name="Runtime">The .NET runtime.</param>
/// <param name="Os">The operating system and architecture.</param>
public sealed record EnvironmentInfo(string OnnxRuntime, string? ExecutionProvider, string Runtime, string Os);

/// <summary>The options of a run that can change its result.</summary>
/// <param name="ExecutionProvider">The provider asked for: auto, cpu or cuda.</param>
/// <param name="BatchSize">Exemplars per inference call.</param>
/// <param name="Seed">The random seed, for runs that draw random numbers; null when nothing random happens (probing is deterministic).</param>
public sealed record OptionsInfo(string ExecutionProvider, int BatchSize, int? Seed);

/// <summary>A file and its SHA-256.</summary>
/// <param name="Path">The path, relative to the gate's base folder where possible, with '/' separators.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of its bytes.</param>
public sealed record FileDigest(string Path, string Sha256);

/// <summary>A policy that was read.</summary>
public sealed record PolicyInfo(string Id, string? Title, string? RequestedBy, string? Reason, string? Reference, FileDigest File, bool RemedyAllowed);

/// <summary>Everything about one model artifact.</summary>
/// <param name="Artifact">The artifact probed.</param>
/// <param name="Manifest">Its manifest.</param>
/// <param name="Baseline">The baseline artifact compared against, if any.</param>
/// <param name="Concepts">Measurements per policy concept.</param>
/// <param name="Clauses">The verdict of every clause.</param>
public sealed record ModelReport(FileDigest Artifact, FileDigest? Manifest, FileDigest? Baseline, IReadOnlyList<ConceptReport> Concepts, IReadOnlyList<ClauseReport> Clauses);

/// <summary>How a model recognised one concept on its exemplars.</summary>
/// <param name="Policy">The policy's id.</param>
/// <param name="Concept">The concept's key.</param>
/// <param name="Label">The model label it matched, for a fine concept.</param>
/// <param name="CoarseGroup">The model's coarse group for it.</param>
/// <param name="Exemplars">How many exemplar files and their combined digest.</param>
/// <param name="Fine">Fine-level accuracy.</param>
/// <param name="Coarse">Coarse-level accuracy.</param>
/// <param name="Predicted">How many exemplars went to each label (labels with none are left out).</param>
/// <param name="Baseline">The same measurements on the baseline model.</param>
/// <param name="Recalled">A few exemplars the model still labels as the concept itself (for a fine concept), for a reader to look at.</param>
public sealed record ConceptReport(
    string Policy,
    string Concept,
    string? Label,
    string? CoarseGroup,
    ExemplarSet Exemplars,
    RateInfo? Fine,
    RateInfo? Coarse,
    IReadOnlyDictionary<string, int> Predicted,
    BaselineRates? Baseline,
    IReadOnlyList<string> Recalled);

/// <summary>A set of exemplar files, by count and digest.</summary>
/// <param name="Count">Files matched by the concept's globs.</param>
/// <param name="Digest">SHA-256 over the sorted list of (relative path, file SHA-256) lines: changes when any file is added, removed, renamed or edited.</param>
public sealed record ExemplarSet(int Count, string Digest);

/// <summary>Rates of the baseline model.</summary>
public sealed record BaselineRates(RateInfo? Fine, RateInfo? Coarse);

/// <summary>A measured rate with its 95% Wilson interval.</summary>
public sealed record RateInfo(double Rate, int Successes, int N, double CiLow, double CiHigh);

/// <summary>The verdict of one clause.</summary>
/// <param name="Policy">The policy's id.</param>
/// <param name="Kind">"forget" or "retain".</param>
/// <param name="Concept">The concept's key.</param>
/// <param name="Level">"fine" or "coarse".</param>
/// <param name="Passed">Whether it holds.</param>
/// <param name="Measured">The rate judged.</param>
/// <param name="Baseline">The baseline's rate, if any.</param>
/// <param name="MaxAccuracy">The forget threshold, on the upper bound.</param>
/// <param name="MinAccuracy">The retain floor.</param>
/// <param name="MaxDrop">The allowed drop against the baseline.</param>
/// <param name="Location">Where the clause is written.</param>
/// <param name="Codes">Codes of the diagnostics it raised.</param>
public sealed record ClauseReport(
    string Policy,
    string Kind,
    string Concept,
    string Level,
    bool Passed,
    RateInfo Measured,
    RateInfo? Baseline,
    double? MaxAccuracy,
    double? MinAccuracy,
    double? MaxDrop,
    ReportLocation Location,
    IReadOnlyList<string> Codes);

/// <summary>A file position in a report.</summary>
public sealed record ReportLocation(string File, int Line, int Column);

/// <summary>Clause counts.</summary>
public sealed record SummaryInfo(int Clauses, int Passed, int Failed, int Errors, int Warnings);

/// <summary>A diagnostic as recorded in a report.</summary>
public sealed record ReportDiagnostic(string Code, string Severity, string Message, string? File, int Line, int Column);
