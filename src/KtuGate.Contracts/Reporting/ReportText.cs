using System.Globalization;

namespace KtuGate.Reporting;

/// <summary>The wording every human-readable rendering uses for rates, thresholds and clauses.</summary>
public static class ReportText
{
    /// <summary>A rate with its interval and n, e.g. "0.987 (95% CI 0.966-0.995, n=300)".</summary>
    public static string Rate(RateInfo rate)
        => string.Create(CultureInfo.InvariantCulture, $"{rate.Rate:0.000} (95% CI {rate.CiLow:0.000}-{rate.CiHigh:0.000}, n={rate.N})");

    /// <summary>A clause's thresholds, e.g. "upper bound &lt;= 0.05" or "&gt;= 0.9, drop &lt;= 0.02".</summary>
    public static string Threshold(ClauseReport clause)
        => clause.Kind == "forget"
            ? $"upper bound <= {Number(clause.MaxAccuracy)}"
            : string.Join(", ", new[]
            {
                clause.MinAccuracy is null ? null : $">= {Number(clause.MinAccuracy)}",
                clause.MaxDrop is null ? null : $"drop <= {Number(clause.MaxDrop)}",
            }.OfType<string>());

    /// <summary>A policy's metric thresholds, e.g. "Q-U &gt;= 0.99, general drop &lt;= 0.01", or "no metric thresholds".</summary>
    public static string MetricThresholds(MetricThresholdsInfo? t)
    {
        var parts = t is null ? [] : new[]
        {
            t.MinQuality is null ? null : $"Q >= {Number(t.MinQuality)}",
            t.MinUtility is null ? null : $"U >= {Number(t.MinUtility)}",
            t.MinQU is null ? null : $"Q-U >= {Number(t.MinQU)}",
            t.MinGeneralAccuracy is null ? null : $"general >= {Number(t.MinGeneralAccuracy)}",
            t.MaxGeneralDrop is null ? null : $"general drop <= {Number(t.MaxGeneralDrop)}",
        }.OfType<string>().ToArray();
        return parts.Length == 0 ? "no metric thresholds" : string.Join(", ", parts);
    }

    /// <summary>Q, U and Q-U as a line reads them, e.g. "Q 0.998, U 0.991, Q-U 0.994" ("-" for one not measured).</summary>
    public static string QualityUtility(double? quality, double? utility, double? qualityUtility)
        => $"Q {Number(quality)}, U {Number(utility)}, Q-U {Number(qualityUtility)}";

    /// <summary>What a clause checks, e.g. "forget sneaker (fine)".</summary>
    public static string Clause(ClauseReport clause) => $"{clause.Kind} {clause.Concept} ({clause.Level})";

    /// <summary>A clause's result in capitals, e.g. "PASS", "FAIL", "INSUFFICIENT EVIDENCE" or "NOT CHECKED".</summary>
    public static string Result(ClauseReport clause) => clause.Status.Replace('-', ' ').ToUpperInvariant();

    /// <summary>The verdict in capitals with clause counts, e.g. "FAIL: 5 of 6 clauses hold" or "INSUFFICIENT EVIDENCE: 5 of 6 clauses hold".</summary>
    public static string Verdict(GateReport report)
        => $"{report.Verdict.Replace('-', ' ').ToUpperInvariant()}: {report.Summary.Passed} of {report.Summary.Clauses} clauses hold"
            + (report.Summary.Errors > 0 && report.Verdict == "error" ? $", {report.Summary.Errors} input error(s)" : string.Empty);

    /// <summary>A threshold or rate as written, invariant.</summary>
    public static string Number(double? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>A diagnostic as a compiler prints one.</summary>
    public static string Diagnostic(ReportDiagnostic d)
        => (d.File is null ? string.Empty : d.Line > 0 ? $"{d.File}({d.Line},{d.Column}): " : $"{d.File}: ") + $"{d.Severity} {d.Code}: {d.Message}";
}
