using System.Globalization;
using KtuGate.Policies;

namespace KtuGate.Reporting;

/// <summary>The wording every human-readable rendering uses for rates, thresholds and clauses.</summary>
public static class ReportText
{
    /// <summary>A rate with its interval and n, e.g. "0.987 (95% CI 0.966-0.995, n=300)".</summary>
    /// <remarks>
    /// Where the rate or the upper bound is judged against a threshold, it is printed by <see cref="Thresholds.Value"/>: with the digits it
    /// takes to show on which side of the threshold it lies. The rate is the exact successes / n, not the report's rounded value.
    /// </remarks>
    public static string Rate(RateInfo rate, double? rateThreshold = null, double? upperThreshold = null)
        => string.Create(CultureInfo.InvariantCulture,
            $"{Thresholds.Value(rate.N == 0 ? 0 : (double)rate.Successes / rate.N, rateThreshold)} (95% CI {rate.CiLow:0.000}-{Thresholds.Value(rate.CiHigh, upperThreshold)}, n={rate.N})");

    /// <summary>A clause's measured rate, printed against its thresholds: a forget clause's rate and upper bound against its allowed accuracy, a retain clause's rate against its floor.</summary>
    public static string Measured(ClauseReport clause)
        => clause.Kind == "forget" ? Rate(clause.Measured, clause.MaxAccuracy, clause.MaxAccuracy) : Rate(clause.Measured, clause.MinAccuracy);

    /// <summary>A clause's thresholds, e.g. "upper bound &lt;= 0.05" or "&gt;= 0.9, drop &lt;= 0.02".</summary>
    public static string Threshold(ClauseReport clause)
        => clause.Kind == "forget"
            ? $"upper bound <= {Number(clause.MaxAccuracy)}"
            : string.Join(", ", new[]
            {
                clause.MinAccuracy is null ? null : $">= {Number(clause.MinAccuracy)}",
                clause.MaxDrop is null ? null : $"drop <= {Number(clause.MaxDrop)}",
            }.OfType<string>());

    /// <summary>What a clause checks, e.g. "forget sneaker (fine)".</summary>
    public static string Clause(ClauseReport clause) => $"{clause.Kind} {clause.Concept} ({clause.Level})";

    /// <summary>A clause's result in capitals, e.g. "PASS", "FAIL", "INSUFFICIENT EVIDENCE" or "NOT CHECKED".</summary>
    public static string Result(ClauseReport clause) => clause.Status.Replace('-', ' ').ToUpperInvariant();

    /// <summary>The verdict in capitals with clause counts, e.g. "FAIL: 5 of 6 clauses hold" or "INSUFFICIENT EVIDENCE: 5 of 6 clauses hold".</summary>
    public static string Verdict(GateReport report)
        => $"{report.Verdict.Replace('-', ' ').ToUpperInvariant()}: {report.Summary.Passed} of {report.Summary.Clauses} clauses hold"
            + (report.Summary.Errors > 0 && report.Verdict == "error" ? $", {report.Summary.Errors} input error(s)" : string.Empty);

    /// <summary>A threshold or rate as written, invariant.</summary>
    public static string Number(double? value) => value is { } v ? Thresholds.Text(v) : "-";

    /// <summary>A diagnostic as a compiler prints one.</summary>
    public static string Diagnostic(ReportDiagnostic d)
        => (d.File is null ? string.Empty : d.Line > 0 ? $"{d.File}({d.Line},{d.Column}): " : $"{d.File}: ") + $"{d.Severity} {d.Code}: {d.Message}";
}
