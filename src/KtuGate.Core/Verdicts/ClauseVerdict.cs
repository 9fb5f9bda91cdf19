using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;

namespace KtuGate.Verdicts;

/// <summary>Whether a forget or retain clause holds for a model, and the numbers it was judged on.</summary>
/// <param name="Policy">The policy's id.</param>
/// <param name="Kind">"forget" or "retain".</param>
/// <param name="Concept">The concept's key.</param>
/// <param name="Level">The level measured.</param>
/// <param name="Measured">The model's rate.</param>
/// <param name="Baseline">The baseline model's rate, when a baseline was probed.</param>
/// <param name="MaxAccuracy">The forget threshold (on the upper 95% bound).</param>
/// <param name="MinAccuracy">The retain floor (on the rate).</param>
/// <param name="MaxDrop">The largest drop allowed against the baseline.</param>
/// <param name="Passed">Whether the clause holds: every threshold checked and met.</param>
/// <param name="Diagnostics">Why it fails (KTU3xxx), or warnings about what could not be checked.</param>
/// <param name="Location">Where the clause is written.</param>
public sealed record ClauseVerdict(
    string Policy,
    string Kind,
    string Concept,
    KnowledgeLevel Level,
    Proportion Measured,
    Proportion? Baseline,
    double? MaxAccuracy,
    double? MinAccuracy,
    double? MaxDrop,
    bool Passed,
    IReadOnlyList<Diagnostic> Diagnostics,
    SourceLocation Location)
{
    /// <summary>Whether it holds, was violated, or could not be decided; only <see cref="ClauseStatus.Pass"/> is <see cref="Passed"/>.</summary>
    public ClauseStatus Status { get; init; } = Passed ? ClauseStatus.Pass : ClauseStatus.Fail;

    /// <summary>For a retain clause with a 'maxDrop': the rate the drop was measured from, and what it is; null where it was not checked.</summary>
    public DropReference? DropFrom { get; init; }
}

/// <summary>What a retain clause's 'maxDrop' is measured from: "the original".</summary>
/// <param name="Rate">The original's rate on the same exemplars at the same level.</param>
/// <param name="Name"><see cref="Baseline"/> (Verify: the KtuModel's Baseline) or <see cref="Original"/> (Remediate: the unedited artifact of the same run).</param>
public sealed record DropReference(Proportion Rate, string Name)
{
    /// <summary>The KtuModel's Baseline artifact (--baseline), in Verify.</summary>
    public const string Baseline = "baseline";

    /// <summary>The unedited artifact measured in the same Remediate run.</summary>
    public const string Original = "original";
}

/// <summary>What became of a clause (or a policy's metric thresholds).</summary>
public enum ClauseStatus
{
    /// <summary>Every threshold was checked and holds.</summary>
    Pass,

    /// <summary>A threshold is missed.</summary>
    Fail,

    /// <summary>No threshold is missed, but one could not be shown for too few exemplars (KTU3006); never a pass.</summary>
    InsufficientEvidence,

    /// <summary>No threshold is missed, but one was not checked for want of a baseline (KTU3004); never a pass.</summary>
    NotChecked,
}

/// <summary>How statuses are named in reports.</summary>
public static class ClauseStatuses
{
    /// <summary>"pass", "fail", "insufficient-evidence" or "not-checked".</summary>
    public static string Name(ClauseStatus status) => status switch
    {
        ClauseStatus.Pass => "pass",
        ClauseStatus.Fail => "fail",
        ClauseStatus.InsufficientEvidence => "insufficient-evidence",
        _ => "not-checked",
    };

    /// <summary>The status that diagnostics give: a missed threshold fails; else too few exemplars; else a threshold not checked; else a pass.</summary>
    public static ClauseStatus Of(IEnumerable<Diagnostic> diagnostics)
    {
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Code).ToList();
        return errors.Count == 0 ? ClauseStatus.Pass
            : errors.Any(c => c != DiagnosticCodes.InsufficientEvidence.Code && c != DiagnosticCodes.BaselineMissing.Code) ? ClauseStatus.Fail
            : errors.Contains(DiagnosticCodes.InsufficientEvidence.Code) ? ClauseStatus.InsufficientEvidence
            : ClauseStatus.NotChecked;
    }
}
