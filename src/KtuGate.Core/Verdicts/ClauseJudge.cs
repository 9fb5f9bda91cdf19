using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;

namespace KtuGate.Verdicts;

/// <summary>Judges policy clauses against measured rates.</summary>
public static class ClauseJudge
{
    /// <summary>A forget clause holds when the upper bound of the 95% interval is at most the allowed accuracy, so a few lucky exemplars cannot pass it.</summary>
    public static ClauseVerdict Forget(string policyId, ForgetClause clause, Proportion measured, Proportion? baseline)
    {
        var passed = measured.N > 0 && measured.High <= clause.MaxAccuracy;
        var diagnostics = passed
            ? []
            : new[]
            {
                DiagnosticCodes.ConceptStillKnown.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                    F(measured.Rate), F(measured.Low), F(measured.High), measured.N, G(clause.MaxAccuracy)),
            };
        return new ClauseVerdict(policyId, "forget", clause.Concept, clause.Level, measured, baseline,
            clause.MaxAccuracy, null, null, passed, diagnostics, clause.Location);
    }

    /// <summary>A retain clause holds when the measured rate is at least its floor and, with a baseline, has dropped by at most the allowed amount.</summary>
    public static ClauseVerdict Retain(string policyId, RetainClause clause, Proportion measured, Proportion? baseline)
    {
        var diagnostics = new List<Diagnostic>();
        if (measured.N == 0 || (clause.MinAccuracy is { } min && measured.Rate < min))
        {
            diagnostics.Add(DiagnosticCodes.RetentionLost.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                F(measured.Rate), F(measured.Low), F(measured.High), measured.N, G(clause.MinAccuracy ?? 0)));
        }

        if (clause.MaxDrop is { } maxDrop)
        {
            if (baseline is null)
            {
                diagnostics.Add(DiagnosticCodes.BaselineMissing.Create(clause.Location, clause.Concept, "maxDrop"));
            }
            else if (baseline.Rate - measured.Rate > maxDrop)
            {
                diagnostics.Add(DiagnosticCodes.RetentionDropped.Create(clause.Location, clause.Concept, LevelName(clause.Level),
                    F(baseline.Rate - measured.Rate), F(baseline.Rate), F(measured.Rate), measured.N, G(maxDrop)));
            }
        }

        var passed = !diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
        return new ClauseVerdict(policyId, "retain", clause.Concept, clause.Level, measured, baseline,
            null, clause.MinAccuracy, clause.MaxDrop, passed, diagnostics, clause.Location);
    }

    /// <summary>The level as written in policies.</summary>
    public static string LevelName(KnowledgeLevel level) => level == KnowledgeLevel.Fine ? "fine" : "coarse";

    private static string F(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static string G(double value) => value.ToString(CultureInfo.InvariantCulture);
}
