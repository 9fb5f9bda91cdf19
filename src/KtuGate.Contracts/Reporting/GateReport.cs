namespace KtuGate.Reporting;

/// <summary>The complete record of one gate run: what was asked, what was measured, what was decided, and on which files.</summary>
/// <param name="SchemaVersion">The report format's version.</param>
/// <param name="Tool">Which KtuGate wrote it.</param>
/// <param name="GeneratedAt">When it was written (UTC, ISO 8601): the one field that differs between identical runs.</param>
/// <param name="Verdict">"pass", "fail" (a clause is violated), "insufficient-evidence" (nothing violated, but a threshold could not be shown or checked: never a pass) or "error" (the inputs could not be checked).</param>
/// <param name="Mode">The gate mode: "verify" or "remediate".</param>
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
public sealed record ModelReport(FileDigest Artifact, FileDigest? Manifest, FileDigest? Baseline, IReadOnlyList<ConceptReport> Concepts, IReadOnlyList<ClauseReport> Clauses)
{
    /// <summary>For a dual encoder: the text tower's model file.</summary>
    public FileDigest? TextTower { get; init; }

    /// <summary>For a dual encoder: the text tower's vocabulary file.</summary>
    public FileDigest? TextTowerVocabulary { get; init; }

    /// <summary>For a dual encoder: the external-data files of the text tower's model, if it has any.</summary>
    public IReadOnlyList<FileDigest>? TextTowerExternalData { get; init; }

    /// <summary>The external-data files of the artifact (the remediated one, when one was written), if it has any.</summary>
    public IReadOnlyList<FileDigest>? ExternalData { get; init; }

    /// <summary>For a dual encoder: how many distinct prompts were embedded (each once per run).</summary>
    public int? PromptsEmbedded { get; init; }

    /// <summary>The unlearning metrics of each policy.</summary>
    public IReadOnlyList<PolicyMetricsReport> Metrics { get; init; } = [];

    /// <summary>What remediation did to this model, in KtuGateMode=Remediate.</summary>
    public RemediationReport? Remediation { get; init; }

    /// <summary>For a causal language model whose manifest names a retain model: TOFU's forget quality of this artifact (the remediated one, when one was written).</summary>
    public ForgetQualityReport? ForgetQuality { get; init; }
}

/// <summary>
/// TOFU's forget quality: the two-sample Kolmogorov-Smirnov test of the forget records' truth ratios on the model against the retain
/// model's (one never trained on them). A high p-value (at least 0.05) means the two cannot be told apart; it is measured, never a threshold.
/// </summary>
/// <param name="PValue">The test's p-value.</param>
/// <param name="N">The forget records measured (the records of the policies' forget clauses' concepts that have perturbed answers), on each model.</param>
/// <param name="Statistic">The largest distance between the two empirical distributions.</param>
/// <param name="RetainModel">The retain model's file.</param>
public sealed record ForgetQualityReport(double PValue, int N, double Statistic, FileDigest RetainModel);

/// <summary>How an artifact was remediated: where it was edited, every setting tried, and the artifact written.</summary>
/// <param name="Method">The method whose edit was written, or the methods tried when none met the thresholds.</param>
/// <param name="Site">The edited layer.</param>
/// <param name="Original">The artifact as it came in (never modified).</param>
/// <param name="Output">The remediated artifact written, or null when no setting met every threshold.</param>
/// <param name="ForgetExemplars">Exemplars whose outputs were moved away from the forbidden concepts.</param>
/// <param name="RetainExemplars">Exemplars whose outputs were held.</param>
/// <param name="Tried">Every setting tried, in order, and how the edited artifact fared.</param>
public sealed record RemediationReport(string Method, EditSiteInfo Site, FileDigest Original, FileDigest? Output, int ForgetExemplars, int RetainExemplars, IReadOnlyList<RemediationAttemptInfo> Tried)
{
    /// <summary>Whether settings were judged first from the edit site's recorded inputs (doing so reproduced every probe result of the original exactly); the one kept was always probed.</summary>
    public bool JudgedInMemory { get; init; }

    /// <summary>The external-data files of the original artifact, if it has any (the remediated artifact's are the model's).</summary>
    public IReadOnlyList<FileDigest>? OriginalExternalData { get; init; }

    /// <summary>How many exemplars were held out from the edit (remedy.holdOut) and every threshold judged on; the edit was fitted on the others.</summary>
    public int HeldOutExemplars { get; init; }

    /// <summary>What the kept edit trained: <c>last</c> (the site's weight and bias), or the deeper scope's entries; null where nothing was kept.</summary>
    public IReadOnlyList<string>? Scope { get; init; }

    /// <summary>How many initializers the kept edit trained; null where nothing was kept.</summary>
    public int? TrainedInitializers { get; init; }

    /// <summary>How many of the model's parameters (float32 values) the kept edit changed; null where nothing was kept.</summary>
    public long? ChangedParameters { get; init; }

    /// <summary>
    /// For each forget clause, the linear probe (against its siblings, as <see cref="ClauseReport.LinearProbe"/>) at every depth the kept edit
    /// trained (each trained layer's output) and at the edit site's input (the penultimate features), on the original and on the edited artifact.
    /// </summary>
    public IReadOnlyList<RecoveryDepth>? RecoveryProfile { get; init; }

    /// <summary>Whether the kept edit trained a scope deeper than the edit site (not only <c>last</c>).</summary>
    public bool ThroughTheNetwork() => Scope is not null && !Scope.SequenceEqual([Policies.RemedyOptions.LastScope]);

    /// <summary>Where the edit was made, for messages: "at NODE" for the edit site, "through the network" for a deeper scope (whose settings name it).</summary>
    public string Where() => ThroughTheNetwork() ? "through the network" : $"at {Site.Node}";
}

/// <summary>The layer remediation edited.</summary>
public sealed record EditSiteInfo(string Node, string Input, string Weight, string? Bias, int Inputs, int Outputs);

/// <summary>One setting tried and its outcome.</summary>
/// <param name="Method">The method: a name from <see cref="Unlearning.UnlearningMethodNames"/>.</param>
/// <param name="Settings">Its settings, e.g. "ridge=0.01 forgetWeight=1 margin=2" or "lr=0.003 kl=1 steps=150".</param>
/// <param name="Passed">Whether the edited artifact met every threshold when probed.</param>
/// <param name="Violations">Errors the edited artifact still had.</param>
/// <param name="QualityUtility">The lowest Q-U over the policies, against the original.</param>
/// <param name="Missed">The thresholds the edited artifact still missed, as their diagnostics' codes and messages.</param>
public sealed record RemediationAttemptInfo(string Method, string Settings, bool Passed, int Violations, double? QualityUtility, IReadOnlyList<string> Missed)
{
    /// <summary>Whether the edited artifact was written and probed with ONNX Runtime (otherwise it was judged from the edit site's recorded inputs only).</summary>
    public bool Probed { get; init; }

    /// <summary>Quality (Q) of the policy with the lowest Q-U, against the original; null where no policy's Q-U was measured.</summary>
    public double? Quality { get; init; }

    /// <summary>Utility (U) of the policy with the lowest Q-U, against the original; null where no policy's Q-U was measured.</summary>
    public double? Utility { get; init; }
}

/// <summary>The seed paper's metrics for one policy on one model; see the README for their definitions.</summary>
/// <param name="Policy">The policy's id.</param>
/// <param name="ForgetFine">Fine accuracy on the forget concepts' exemplars (should fall).</param>
/// <param name="ForgetCoarse">Coarse accuracy on the forget concepts' exemplars (should stay).</param>
/// <param name="RetainFine">Fine accuracy on the other retained concepts' exemplars (should stay).</param>
/// <param name="RetainCoarse">Coarse accuracy on the other retained concepts' exemplars (should stay).</param>
/// <param name="General">Fine accuracy on the general probe set.</param>
/// <param name="Baseline">The same rates on the baseline artifact.</param>
/// <param name="Quality">Relative drop of forget fine accuracy against the baseline.</param>
/// <param name="Utility">Mean retained share of the forget-coarse, retain-fine and retain-coarse accuracies against the baseline.</param>
/// <param name="QualityUtility">Q-U: the harmonic mean of quality and utility.</param>
/// <param name="Thresholds">The policy's thresholds on these metrics, if any.</param>
/// <param name="Passed">Whether every threshold was checked and holds (true without thresholds); false for one not checked.</param>
public sealed record PolicyMetricsReport(
    string Policy,
    RateInfo? ForgetFine,
    RateInfo? ForgetCoarse,
    RateInfo? RetainFine,
    RateInfo? RetainCoarse,
    RateInfo? General,
    BaselineMetrics? Baseline,
    double? Quality,
    double? Utility,
    double? QualityUtility,
    MetricThresholdsInfo? Thresholds,
    bool Passed)
{
    /// <summary>"pass", "fail", or "not-checked" (a threshold needs a baseline and none was given: not a pass).</summary>
    public string Status { get; init; } = Passed ? "pass" : "fail";
}

/// <summary>The metrics' rates on the baseline artifact.</summary>
public sealed record BaselineMetrics(RateInfo? ForgetFine, RateInfo? ForgetCoarse, RateInfo? RetainFine, RateInfo? RetainCoarse, RateInfo? General);

/// <summary>A policy's metric thresholds, as reports record them.</summary>
public sealed record MetricThresholdsInfo(double? MinQuality, double? MinUtility, double? MinQU, double? MinGeneralAccuracy, double? MaxGeneralDrop, ReportLocation Location);

/// <summary>How often one prompt wording alone still recalls a concept.</summary>
/// <param name="Wording">The prompt.</param>
/// <param name="Recall">Share of the concept's exemplars for which it outscores every other label.</param>
public sealed record WordingReport(string Wording, RateInfo Recall);

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
    IReadOnlyList<string> Recalled)
{
    /// <summary>For a dual encoder's fine concept: each prompt wording (template and name) and how often it alone still recalls the concept.</summary>
    public IReadOnlyList<WordingReport> Wordings { get; init; } = [];
}

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
/// <param name="Passed">Whether it holds: every threshold checked and met (see <see cref="ClauseReport.Status"/>).</param>
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
    IReadOnlyList<string> Codes)
{
    /// <summary>"pass", "fail", "insufficient-evidence" (too few exemplars to show the threshold, KTU3006) or "not-checked" (a maxDrop without a baseline, KTU3004); only "pass" is <see cref="Passed"/>.</summary>
    public string Status { get; init; } = Passed ? "pass" : "fail";

    /// <summary>For a forget clause: the same rate on lightly perturbed exemplars (mirrored; with noise), to see whether forgetting holds beyond the exact images.</summary>
    public IReadOnlyList<PerturbedRate> Perturbed { get; init; } = [];

    /// <summary>For a forget clause, where the edit site's inputs were recorded: can a linear probe on them still tell the concept apart?</summary>
    public LinearProbeReport? LinearProbe { get; init; }

    /// <summary>For a retain clause with a 'maxDrop': what the drop was measured from, "baseline" (Verify: the KtuModel's Baseline) or "original" (Remediate: the unedited artifact of the same run); null where it was not checked.</summary>
    public string? DropFrom { get; init; }

    /// <summary>The drop measured against <see cref="DropFrom"/>: its rate minus this one (negative for a gain); null where it was not checked.</summary>
    public double? Drop { get; init; }

    /// <summary>For a remediated artifact: the same rate on the exemplars the edit was fitted on (<see cref="Measured"/> is the held-out part it was judged on).</summary>
    public RateInfo? Fit { get; init; }
}

/// <summary>A forget clause's rate on perturbed exemplars.</summary>
/// <param name="Perturbation">"flip" or "noise".</param>
/// <param name="Measured">The rate at the clause's level.</param>
public sealed record PerturbedRate(string Perturbation, RateInfo Measured);

/// <summary>Held-out balanced accuracy of a logistic-regression probe telling a forgotten concept's exemplars apart by the features just below the edit site (which an edit of that layer leaves unchanged): near 0.5 means nothing to read out; near 1, the knowledge is still there.</summary>
/// <param name="Features">The tensor the probe reads: the edit site's input.</param>
/// <param name="Against">"siblings" (the other labels of the concept's coarse group) or "others" (every other exemplar, where it has no siblings).</param>
/// <param name="Accuracy">The held-out accuracy, with its interval and n (the held-out half).</param>
public sealed record LinearProbeReport(string Features, string Against, RateInfo Accuracy);

/// <summary>One forget clause's linear probe at one depth of the network, before and after the edit: how much of the concept can still be recovered there.</summary>
/// <param name="Policy">The policy's id.</param>
/// <param name="Concept">The forget clause's concept.</param>
/// <param name="Features">The tensor the probe reads.</param>
/// <param name="SiteInput">Whether it is the edit site's input (the penultimate features, which a policy's maxLinearProbeAccuracy bounds).</param>
/// <param name="Against">"siblings" or "others", as <see cref="LinearProbeReport.Against"/>.</param>
/// <param name="Before">The probe's held-out accuracy on the original artifact.</param>
/// <param name="After">The same on the edited artifact.</param>
public sealed record RecoveryDepth(string Policy, string Concept, string Features, bool SiteInput, string Against, RateInfo Before, RateInfo After);

/// <summary>A file position in a report.</summary>
public sealed record ReportLocation(string File, int Line, int Column);

/// <summary>Clause counts.</summary>
public sealed record SummaryInfo(int Clauses, int Passed, int Failed, int Errors, int Warnings);

/// <summary>A diagnostic as recorded in a report.</summary>
public sealed record ReportDiagnostic(string Code, string Severity, string Message, string? File, int Line, int Column);
