using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;

namespace KtuGate.Verdicts;

/// <summary>Judges policy clauses against measured rates.</summary>
public static class ClauseJudge
{
    /// <summary>A forget clause holds when the upper bound of the 95% interval is at most the allowed accuracy, so a few lucky exemplars cannot pass it.</summary>
    /// <remarks>
    /// It is violated (KTU3001) when the measured rate itself is above the allowed accuracy. When the rate is within it but the upper bound is
    /// not, the exemplars are too few to decide: insufficient evidence (KTU3006, an error that names how many exemplars would do), never a pass.
    /// </remarks>
    public static ClauseVerdict Forget(string policyId, ForgetClause clause, Proportion measured, Proportion? baseline)
    {
        var passed = measured.N > 0 && !Thresholds.Above(measured.High, clause.MaxAccuracy);
        var undecided = !passed && !Thresholds.Above(measured.Rate, clause.MaxAccuracy);
        var diagnostics = passed
            ? []
            : new[]
            {
                undecided
                    ? Undecided(clause.Location, clause.Concept, LevelName(clause.Level), measured, clause.MaxAccuracy)
                    : DiagnosticCodes.ConceptStillKnown.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                        V(measured.Rate, clause.MaxAccuracy), F(measured.Low), V(measured.High, clause.MaxAccuracy), measured.N, G(clause.MaxAccuracy)),
            };
        return new ClauseVerdict(policyId, "forget", clause.Concept, clause.Level, measured, baseline,
            clause.MaxAccuracy, null, null, passed, diagnostics, clause.Location)
        {
            Status = ClauseStatuses.Of(diagnostics),
        };
    }

    /// <summary>KTU3006 for an upper-bound threshold the measured rate is within but its interval is not, e.g. "'sneaker' is not shown forgotten: fine accuracy ...".</summary>
    public static Diagnostic Undecided(SourceLocation location, string concept, string what, Proportion measured, double maxAccuracy)
        => DiagnosticCodes.InsufficientEvidence.Create(location, concept, what,
            V(measured.Rate, maxAccuracy), F(measured.Low), V(measured.High, maxAccuracy), measured.N, G(maxAccuracy), Needed(maxAccuracy, measured));

    /// <summary>What would decide an upper-bound threshold the measured rate is within, e.g. "add exemplars (need at least 73 ...)".</summary>
    public static string Needed(double maxAccuracy, Proportion measured)
    {
        var atRate = Proportion.ExemplarsNeeded(maxAccuracy, measured.Rate);
        var atZero = Proportion.ExemplarsNeeded(maxAccuracy);
        return atRate is { } n
            ? measured.Successes == 0
                ? string.Create(CultureInfo.InvariantCulture, $"add exemplars (need at least {n})")
                : string.Create(CultureInfo.InvariantCulture, $"add exemplars (need at least {n} at this rate, {atZero} with none recognised)")
            : atZero is { } z
                ? string.Create(CultureInfo.InvariantCulture, $"no number of exemplars shows a rate of {V(measured.Rate, maxAccuracy)} under {G(maxAccuracy)}; fewer must be recognised (with none recognised, at least {z} exemplars)")
                : $"no number of exemplars shows an accuracy of {G(maxAccuracy)}: the upper bound is always above 0; allow a higher accuracy";
    }

    /// <summary>A retain clause holds when the measured rate is at least its floor and has dropped from the original by at most its 'maxDrop'.</summary>
    /// <remarks>
    /// The floor is judged on the measured rate, as the README documents, so n of n always meets it: a retain clause never lacks evidence.
    /// The drop is measured from <paramref name="original"/> where given (in Remediate, the unedited artifact), else from the baseline.
    /// </remarks>
    public static ClauseVerdict Retain(string policyId, RetainClause clause, Proportion measured, Proportion? baseline, DropReference? original = null)
    {
        var reference = original ?? (baseline is null ? null : new DropReference(baseline, DropReference.Baseline));
        var diagnostics = new List<Diagnostic>();
        if (measured.N == 0 || (clause.MinAccuracy is { } min && Thresholds.Below(measured.Rate, min)))
        {
            diagnostics.Add(DiagnosticCodes.RetentionLost.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                V(measured.Rate, clause.MinAccuracy), F(measured.Low), F(measured.High), measured.N, G(clause.MinAccuracy ?? 0)));
        }

        if (clause.MaxDrop is { } maxDrop)
        {
            if (reference is null)
            {
                diagnostics.Add(DiagnosticCodes.BaselineMissing.Create(clause.Location, clause.Concept, "maxDrop"));
            }
            else if (Thresholds.Above(reference.Rate.Rate - measured.Rate, maxDrop))
            {
                diagnostics.Add(DiagnosticCodes.RetentionDropped.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                    V(reference.Rate.Rate - measured.Rate, maxDrop), F(reference.Rate.Rate), F(measured.Rate), measured.N, G(maxDrop), reference.Name));
            }
        }

        // A maxDrop with no baseline to compare with is not checked (KTU3004, an error): the clause is "not-checked", never passed.
        var status = ClauseStatuses.Of(diagnostics);
        return new ClauseVerdict(policyId, "retain", clause.Concept, clause.Level, measured, baseline,
            null, clause.MinAccuracy, clause.MaxDrop, status == ClauseStatus.Pass, diagnostics, clause.Location)
        {
            Status = status,
            DropFrom = clause.MaxDrop is null ? null : reference,
        };
    }

    /// <summary>
    /// Upper-bound thresholds that no result on the policy's exemplars could meet: with n exemplars even none recognised has an upper bound
    /// of z²/(n + z²), so such a clause could only ever end in insufficient evidence.
    /// </summary>
    /// <remarks>Retain floors are judged on the measured rate, which n of n always meets, so they are never unreachable.</remarks>
    /// <param name="policy">The policy.</param>
    /// <param name="probes">How many probes an exemplar file gives (a kind whose files hold records); null: one per file.</param>
    public static IEnumerable<Diagnostic> Unreachable(Policy policy, Func<string, int>? probes = null)
    {
        foreach (var clause in policy.Forget)
        {
            var n = policy.GetConcept(clause.Concept).Files.Sum(f => probes?.Invoke(f) ?? 1);
            var bounds = new List<(string What, double Max, SourceLocation Location)>
            {
                ($"Forget clause '{clause.Concept}' (maxAccuracy)", clause.MaxAccuracy, clause.Location),
            };
            if (policy.Metrics is { } metrics)
            {
                if (metrics.MaxPerturbedAccuracy is { } perturbed)
                {
                    bounds.Add(($"metrics.maxPerturbedAccuracy on '{clause.Concept}'", perturbed, metrics.Location));
                }

                if (metrics.MaxWordingRecall is { } recall && clause.Level == KnowledgeLevel.Fine)
                {
                    bounds.Add(($"metrics.maxWordingRecall on '{clause.Concept}'", recall, metrics.Location));
                }
            }

            foreach (var (what, max, location) in bounds)
            {
                var zero = new Proportion(0, n);
                if (n > 0 && Thresholds.Above(zero.High, max))
                {
                    var needed = Proportion.ExemplarsNeeded(max);
                    yield return DiagnosticCodes.ThresholdUnreachable.Create(location, what, n, V(zero.High, max), G(max),
                        needed is { } k
                            ? string.Create(CultureInfo.InvariantCulture, $"it needs at least {k} exemplars of '{clause.Concept}'")
                            : "no number of exemplars shows an accuracy of 0 (the upper bound is always above it); allow a higher accuracy");
                }
            }
        }
    }

    /// <summary>The level as written in policies.</summary>
    public static string LevelName(KnowledgeLevel level) => level == KnowledgeLevel.Fine ? "fine" : "coarse";

    private static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static string G(double value) => Thresholds.Text(value);

    private static string V(double value, double? threshold) => Thresholds.Value(value, threshold);
}
