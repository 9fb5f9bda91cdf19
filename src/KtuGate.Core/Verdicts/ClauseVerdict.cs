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
/// <param name="Passed">Whether the clause holds.</param>
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
    SourceLocation Location);
