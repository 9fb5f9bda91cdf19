using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;
using KtuGate.Reporting;

namespace KtuGate.Verdicts;

/// <summary>Judges a policy's thresholds on the unlearning metrics.</summary>
public static class MetricsJudge
{
    /// <summary>The metrics as reported, and KTU3005 for each threshold missed (KTU3004, an error, where a baseline is needed and absent).</summary>
    public static (PolicyMetricsReport Report, IReadOnlyList<Diagnostic> Diagnostics) Judge(Policy policy, PaperMetrics metrics, string baseDirectory)
    {
        var diagnostics = new List<Diagnostic>();
        var t = policy.Metrics;
        if (t is not null)
        {
            void AtLeast(string name, double? value, double? min, bool needsBaseline)
            {
                if (min is null)
                {
                    return;
                }

                if (value is null)
                {
                    diagnostics.Add(needsBaseline
                        ? DiagnosticCodes.BaselineMissing.Create(t.Location, policy.Id, name)
                        : DiagnosticCodes.MetricMissed.Create(t.Location, policy.Id, name, "not measurable", "needs", "exemplars for it"));
                }
                else if (Thresholds.Below(value.Value, min.Value))
                {
                    diagnostics.Add(DiagnosticCodes.MetricMissed.Create(t.Location, policy.Id, name, Thresholds.Value(value.Value, min), "below the required", Thresholds.Text(min.Value)));
                }
            }

            AtLeast("quality", metrics.Quality, t.MinQuality, true);
            AtLeast("utility", metrics.Utility, t.MinUtility, true);
            AtLeast("Q-U", metrics.QualityUtility, t.MinQualityUtility, true);
            AtLeast("general accuracy", metrics.General?.Rate, t.MinGeneralAccuracy, false);
            if (t.MaxGeneralDrop is { } maxDrop)
            {
                if (metrics.Baseline?.General is not { } before || metrics.General is not { } after)
                {
                    diagnostics.Add(DiagnosticCodes.BaselineMissing.Create(t.Location, policy.Id, "general accuracy drop"));
                }
                else if (Thresholds.Above(before.Rate - after.Rate, maxDrop))
                {
                    diagnostics.Add(DiagnosticCodes.MetricMissed.Create(t.Location, policy.Id, "general accuracy drop", Thresholds.Value(before.Rate - after.Rate, maxDrop), "above the allowed", Thresholds.Text(maxDrop)));
                }
            }
        }

        var report = new PolicyMetricsReport(
            policy.Id,
            ReportAssembly.Rate(metrics.ForgetFine), ReportAssembly.Rate(metrics.ForgetCoarse), ReportAssembly.Rate(metrics.RetainFine), ReportAssembly.Rate(metrics.RetainCoarse), ReportAssembly.Rate(metrics.General),
            metrics.Baseline is { } b ? new BaselineMetrics(ReportAssembly.Rate(b.ForgetFine), ReportAssembly.Rate(b.ForgetCoarse), ReportAssembly.Rate(b.RetainFine), ReportAssembly.Rate(b.RetainCoarse), ReportAssembly.Rate(b.General)) : null,
            Round(metrics.Quality, t?.MinQuality), Round(metrics.Utility, t?.MinUtility), Round(metrics.QualityUtility, t?.MinQualityUtility),
            t is null ? null : new MetricThresholdsInfo(t.MinQuality, t.MinUtility, t.MinQualityUtility, t.MinGeneralAccuracy, t.MaxGeneralDrop, new ReportLocation(Digests.Relative(baseDirectory, t.Location.File), t.Location.Line, t.Location.Column)),
            !diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
        {
            // A threshold that needs a baseline and has none is recorded as not checked (KTU3004), never as passed.
            Status = ClauseStatuses.Name(ClauseStatuses.Of(diagnostics)),
        };
        return (report, diagnostics);
    }

    private static double? Round(double? value, double? threshold) => value is { } v ? Thresholds.Recorded(v, threshold) : null;
}
