using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;

namespace KtuGate;

/// <summary>A model artifact for the gate to check.</summary>
/// <param name="Artifact">The ONNX file.</param>
/// <param name="Manifest">Its manifest; null means the <c>.ktu.json</c> file beside it.</param>
/// <param name="Baseline">An earlier artifact to compare retention against, if any.</param>
public sealed record GateModelInput(string Artifact, string? Manifest = null, string? Baseline = null);

/// <summary>What the gate is asked to do.</summary>
/// <param name="Models">The artifacts to check.</param>
/// <param name="Policies">The policy files that apply to every artifact.</param>
/// <param name="ReportDirectory">Where <c>ktu-report.json</c> goes, or null to write no report.</param>
public sealed record GateRequest(IReadOnlyList<GateModelInput> Models, IReadOnlyList<string> Policies, string? ReportDirectory)
{
    /// <summary>Verify (probe and judge) or Remediate (also unlearn violated concepts where the policy allows, and probe the edited artifact).</summary>
    public GateMode Mode { get; init; } = GateMode.Verify;

    /// <summary>The remediation methods to try, in order, instead of those the policies list (for comparing methods); null for the policies'.</summary>
    /// <remarks>Each must be a name of <see cref="Unlearning.UnlearningMethods"/>; another makes a remediating run throw <see cref="ArgumentException"/>.</remarks>
    public IReadOnlyList<string>? RemedyMethods { get; init; }

    /// <summary>What an edit may train, instead of the policies' <c>remedy.scope</c>: <c>last</c>, <c>all</c>, node names or initializer-name prefixes; null for the policies'.</summary>
    public IReadOnlyList<string>? RemedyScope { get; init; }

    /// <summary>Where Remediate writes the remediated artifact (same file name as the input); the report folder when null.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Whether Remediate also writes the model's manifest beside the remediated artifact (<c>MODEL.ktu.json</c>), so that the output can be checked on its own; <c>ktu unlearn</c> asks for it.</summary>
    /// <remarks>Relative paths the manifest names are rebased to the new folder; a manifest already there is left alone, and another input there is never overwritten (KTU5050).</remarks>
    public bool ManifestBesideOutput { get; init; }

    /// <summary>Which execution provider to ask ONNX Runtime for.</summary>
    public ExecutionProviderPreference ExecutionProvider { get; init; } = ExecutionProviderPreference.Auto;

    /// <summary>Exemplars per inference call.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>The folder report paths are relative to; the current folder when null.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>An ECDSA P-256 private key in PEM form to sign the report's statement with, or null to leave it unsigned.</summary>
    public string? SigningKeyPem { get; init; }

    /// <summary>Where the signing key came from, for messages (a file name or an environment variable's name).</summary>
    public string? SigningKeySource { get; init; }

    /// <summary>Told what is being probed and how far it has got, for progress displays.</summary>
    public IProgress<ProbeProgress>? Progress { get; init; }

    /// <summary>
    /// Judges every candidate edit with ONNX Runtime (<c>OnnxRuntimeJudge</c>) even where the site judge applies, so that tests can
    /// hold the two judges to the same verdicts on a real model; the gate itself never sets it.
    /// </summary>
    internal bool ProbeEveryCandidate { get; init; }

    /// <summary>The report's timestamp; when null, <c>SOURCE_DATE_EPOCH</c> if set, else now.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The most memory, in bytes, a model may declare (one tensor, or its initializers together); null for the machine's memory.</summary>
    /// <remarks>A model beyond it is refused (KTU2028) before ONNX Runtime or an edit reads it.</remarks>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>The limits models are checked against before they run.</summary>
    internal ModelLimits Limits => new(MaxMemoryBytes ?? ModelLimits.DefaultMaxMemoryBytes, BatchSize);
}

/// <summary>What the gate does.</summary>
public enum GateMode
{
    /// <summary>Probe every artifact and judge every clause.</summary>
    Verify,

    /// <summary>Verify; where a forget clause fails and its policy allows, edit the artifact to unlearn it, write the edited copy and judge that.</summary>
    Remediate,
}

/// <summary>How far probing (or the search for a setting) has got.</summary>
/// <param name="Model">The artifact's file name.</param>
/// <param name="Concept">The concept being probed; while searching settings, the unlearning method whose settings are tried.</param>
/// <param name="Done">Exemplars classified so far for this concept; while searching, the method's settings judged so far.</param>
/// <param name="Total">Exemplar files the concept has; while searching, the method's settings.</param>
public sealed record ProbeProgress(string Model, string Concept, int Done, int Total)
{
    /// <summary>
    /// The phase, one of <see cref="Reporting.ProgressText.Phases"/>; probing, recording and verifying count exemplars, searching counts a
    /// method's settings (its first report, before any method's, has none), writing has no count (<see cref="Total"/> 0).
    /// </summary>
    public string Phase { get; init; } = Reporting.ProgressText.Probing;

    /// <summary>Exemplars classified so far in this pass over the model, over every concept and general set (while searching, settings judged).</summary>
    public int PassDone { get; init; }

    /// <summary>Exemplars the pass classifies, over every concept and general set: the overall bar's end (while searching, the method's settings).</summary>
    public int PassTotal { get; init; }

    /// <summary>
    /// While searching, how the setting being trained through the network stands at its last checkpoint, e.g. "step 20 judged: 1 clause
    /// missed: KTU3001" (a setting can train for many minutes between the setting counts); empty otherwise.
    /// </summary>
    public string Detail { get; init; } = string.Empty;
}

/// <summary>How a gate run ended; the values are the <c>ktu</c> exit codes.</summary>
public enum GateOutcome
{
    /// <summary>Every clause holds.</summary>
    Pass = 0,

    /// <summary>At least one clause is violated.</summary>
    Violated = 1,

    /// <summary>A policy, manifest, model or exemplar could not be used.</summary>
    InvalidInput = 2,

    /// <summary>KtuGate failed.</summary>
    InternalError = 3,

    /// <summary>No clause is violated, but a threshold could not be shown (too few exemplars) or checked (no baseline); never a pass.</summary>
    InsufficientEvidence = 4,
}

/// <summary>The result of a gate run.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Report">The full report.</param>
/// <param name="Diagnostics">Every diagnostic, in order.</param>
/// <param name="ReportPath">Where the report was written, or null.</param>
/// <param name="Written">Every report file written, with its SHA-256.</param>
public sealed record GateResult(GateOutcome Outcome, GateReport Report, IReadOnlyList<Diagnostic> Diagnostics, string? ReportPath, IReadOnlyList<FileDigest> Written)
{
    /// <summary>Every file the run read whose bytes can change its verdict, by full path, with its SHA-256 (empty when the inputs could not be read).</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();
}
