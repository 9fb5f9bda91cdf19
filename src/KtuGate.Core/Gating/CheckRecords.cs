using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using KtuGate.Verdicts;

namespace KtuGate;

/// <summary>What <see cref="ModelCheck.CheckModel"/> probed and judged.</summary>
/// <param name="Report">The model's report, or null where it could not be probed.</param>
/// <param name="Verdicts">Every clause's verdict.</param>
/// <param name="Provider">The execution provider that ran it (null when nothing ran).</param>
/// <param name="Tallies">The model's probe results per exemplar set (the baseline of a remediation's trials).</param>
internal sealed record Checked(ModelReport? Report, IReadOnlyList<ClauseVerdict> Verdicts, string? Provider, IReadOnlyDictionary<string, ProbeTally> Tallies)
{
    /// <summary>Thresholds missed beyond the clauses: metrics, perturbed exemplars, wordings (KTU3005).</summary>
    public IReadOnlyList<Diagnostic> Judgements { get; init; } = [];
}

/// <summary>A new weight for the edit site, judged from the site's recorded inputs instead of by running the model.</summary>
/// <param name="Weight">The site's new weight, [out, in].</param>
/// <param name="Bias">The site's new bias.</param>
/// <param name="Activations">The site's inputs, recorded while the original was verified.</param>
internal sealed record SiteEdit(double[,] Weight, double[] Bias, SiteActivations Activations);

/// <summary>How <see cref="ModelCheck.CheckModel"/> runs beyond the request.</summary>
internal sealed record CheckOptions
{
    /// <summary>The model's kind, open for the whole run (a dual encoder's text tower: every prompt is embedded once).</summary>
    public KindSession? Kind { get; init; }

    /// <summary>The baseline's probe results, known already (a remediation's trials: the original's); the baseline is then not run.</summary>
    public IReadOnlyDictionary<string, ProbeTally>? BaselineTallies { get; init; }

    /// <summary>The phase progress reports name, where it is neither probing nor recording (remediation verifying the artifact it wrote).</summary>
    public string? Phase { get; init; }

    /// <summary>The model to run instead of the artifact's bytes (the artifact with the edit site's input as an extra output).</summary>
    public byte[]? ModelBytes { get; init; }

    /// <summary>Initializers to run the artifact with in place of its own (a candidate edit judged by ONNX Runtime).</summary>
    public IReadOnlyList<InitializerOverride>? Overrides { get; init; }

    /// <summary>Where to record the edit site's inputs while probing.</summary>
    public SiteActivations? Record { get; init; }

    /// <summary>An edit to judge without running the model.</summary>
    public SiteEdit? Edit { get; init; }

    /// <summary>The side of the hold-out split this pass probes and judges (a remediation's candidates: the held-out part); null for every exemplar.</summary>
    public ExemplarSplit? Split { get; init; }

    /// <summary>Whether this pass measures the unedited artifact of a Remediate run, which is its own original for a 'maxDrop'.</summary>
    public bool IsOriginal { get; init; }

    /// <summary>File digests known already in this run.</summary>
    public DigestCache? Digests { get; init; }
}
