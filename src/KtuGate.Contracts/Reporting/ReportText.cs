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
            $"{RateValue(rate, rateThreshold)} (95% CI {rate.CiLow:0.000}-{Thresholds.Value(rate.CiHigh, upperThreshold)}, n={rate.N})");

    /// <summary>A rate alone, as <see cref="Rate"/> begins, e.g. "0.987": where a chart labels a bar, it reads as the table beside it does.</summary>
    public static string RateValue(RateInfo rate, double? threshold = null)
        => Thresholds.Value(rate.N == 0 ? 0 : (double)rate.Successes / rate.N, threshold);

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

    /// <summary>
    /// What remediation did to a model, e.g. "remediated with nhl-kl at /fc2/Gemm (lr=0.003 kl=1 steps=40, after 2 settings), Q-U 0.994
    /// against the original; wrote gated/model.onnx", or that no setting met every threshold; null where it did not run.
    /// </summary>
    public static string? Remediation(ModelReport model)
    {
        if (model.Remediation is not { } r)
        {
            return null;
        }

        if (r.Output is null)
        {
            var best = r.Tried.Select(t => t.QualityUtility).Where(q => q is not null).DefaultIfEmpty(null).Max();
            return $"remediation with {r.Method} {r.Where()} tried {Settings(r.Tried.Count)}, none met every threshold (best Q-U {Number(best)} against the original); nothing written";
        }

        var chosen = r.Tried[^1];
        return $"remediated with {r.Method} {r.Where()} ({chosen.Settings}, after {Settings(r.Tried.Count)}), Q-U {Number(chosen.QualityUtility)} against the original; wrote {r.Output.Path}";
    }

    /// <summary>
    /// The remediation's recovery profile on one line, e.g. "sneaker vs siblings at /fc1/Gemm_output_0 0.967 → 0.700, at relu (site input)
    /// 0.964 → 0.690": the linear probe's held-out accuracy per depth, before → after; null where none was recorded.
    /// </summary>
    public static string? Recovery(RemediationReport r)
        => r.RecoveryProfile is not { Count: > 0 } profile ? null : string.Join("; ", profile.GroupBy(d => (d.Policy, d.Concept, d.Against)).Select(g =>
            $"{g.Key.Concept} vs {g.Key.Against} " + string.Join(", ", g.Select(d =>
                $"at {d.Features}{(d.SiteInput ? " (site input)" : string.Empty)} {Number(d.Before.Rate)} → {Number(d.After.Rate)}"))));

    /// <summary>What to do next, from the verdict and what failed, e.g. "build with KtuGateMode=Remediate (or run ktu unlearn): ...".</summary>
    public static string NextStep(GateReport report)
    {
        var remediations = report.Models.Select(m => m.Remediation).OfType<RemediationReport>().ToList();
        var failedForget = report.Models.SelectMany(m => m.Clauses).Where(c => c.Status == "fail" && c.Kind == "forget").Select(c => c.Policy).ToHashSet(StringComparer.Ordinal);
        var remediable = report.Policies.Where(p => p.RemedyAllowed && failedForget.Contains(p.Id)).ToList();
        return report.Verdict switch
        {
            "pass" => remediations.Any(r => r.Output is not null)
                ? "ship the remediated artifact named above (not the original) with this report; check both later with ktu verify ktu-report.json."
                : "ship the artifact with this report; check both later with ktu verify ktu-report.json.",
            "insufficient-evidence" => "add exemplars where a threshold was not shown (KTU3006 says how many) or give a baseline where one was not checked (KTU3004); until then the gate does not pass.",
            "error" => "fix the input errors listed below; what they concern was not judged.",
            _ when remediations.Any(r => r.Output is null) => "no remediation setting met every threshold (KTU4001): try other methods (ktu unlearn --method), more exemplars, or ask the policy's owner about its thresholds; the settings tried are in the HTML and JSON reports.",
            _ when report.Mode != "remediate" && remediable.Count > 0 => $"the failing forget clauses' policies allow remediation ({string.Join(", ", remediable.Select(p => p.Id))}): build with -p:KtuGateMode=Remediate or run ktu unlearn to unlearn them, then gate the result.",
            _ when failedForget.Count > 0 => "the policy does not allow remediation: retrain or edit the model so it no longer knows the concept, or ask the policy's owner.",
            _ => "a retained concept or metric threshold is missed: remediation only unlearns, so fix the model (or the edit) so that it keeps what the policy retains.",
        };
    }

    private static string Settings(int count) => count == 1 ? "1 setting" : $"{count} settings";

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
