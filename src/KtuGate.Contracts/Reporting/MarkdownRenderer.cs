using System.Text;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>Renders a short Markdown summary for a pull-request comment or a CI step summary: verdict first, and no relative links (they do not resolve there).</summary>
public static class MarkdownRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.md";

    /// <summary>The summary as UTF-8.</summary>
    public static byte[] Render(GateReport report)
    {
        var md = new StringBuilder();
        var mark = report.Verdict switch { "pass" => "✅", "fail" => "❌", _ => "⚠️" };
        md.Append("## ").Append(mark).Append(" KtuGate ").Append(Markdown(ReportText.Verdict(report))).Append("\n\n");

        foreach (var model in report.Models)
        {
            md.Append("Model `").Append(Code(model.Artifact.Path)).Append("` (sha256 `").Append(model.Artifact.Sha256[..12]).Append("`)");
            if (model.Baseline is not null)
            {
                md.Append(", baseline `").Append(Code(model.Baseline.Path)).Append('`');
            }

            md.Append(" on ").Append(Markdown(report.Environment.ExecutionProvider)).Append(".\n\n");
            if (ReportText.Remediation(model) is { } remediation)
            {
                md.Append("**Remediation:** ").Append(Markdown(remediation)).Append(".\n\n");
                if (ReportText.Recovery(model.Remediation!) is { } recovery)
                {
                    md.Append("**Recovery profile** (linear probe, before → after): ").Append(Markdown(recovery)).Append(".\n\n");
                }
            }

            if (model.ForgetQuality is { } quality)
            {
                md.Append("**Forget quality** (TOFU: KS test of the forget records' truth ratios against the retain model `").Append(Code(quality.RetainModel.Path))
                    .Append("`): p = ").Append(quality.PValue.ToString("G3", System.Globalization.CultureInfo.InvariantCulture))
                    .Append(", n = ").Append(quality.N.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(".\n\n");
            }

            md.Append("| Result | Policy | Clause | Measured | Baseline | Threshold |\n| --- | --- | --- | --- | --- | --- |\n");
            foreach (var clause in model.Clauses)
            {
                md.Append("| ").Append(clause.Passed ? "pass" : "**" + ReportText.Result(clause) + "** " + Markdown(string.Join(" ", clause.Codes)))
                    .Append(" | ").Append(Markdown(clause.Policy))
                    .Append(" | ").Append(Markdown(ReportText.Clause(clause)))
                    .Append(" | ").Append(Markdown(ReportText.Measured(clause)))
                    .Append(" | ").Append(clause.Baseline is null ? "-" : Markdown(ReportText.Rate(clause.Baseline)))
                    .Append(" | ").Append(Markdown(ReportText.Threshold(clause)))
                    .Append(" |\n");
            }

            md.Append('\n');
            var measured = model.Metrics.Where(m => m.QualityUtility is not null || m.General is not null || m.Thresholds is not null).ToList();
            if (measured.Count > 0)
            {
                md.Append("| Policy | Forget fine | Forget coarse | Retain fine | Retain coarse | General | Quality | Utility | Q-U | Thresholds |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
                foreach (var m in measured)
                {
                    static string R(RateInfo? r) => r is null ? "-" : ReportText.Number(r.Rate);
                    md.Append("| ").Append(Markdown(m.Policy)).Append(" | ").Append(R(m.ForgetFine)).Append(" | ").Append(R(m.ForgetCoarse)).Append(" | ")
                        .Append(R(m.RetainFine)).Append(" | ").Append(R(m.RetainCoarse)).Append(" | ").Append(R(m.General)).Append(" | ")
                        .Append(ReportText.Number(m.Quality)).Append(" | ").Append(ReportText.Number(m.Utility)).Append(" | ").Append(ReportText.Number(m.QualityUtility)).Append(" | ")
                        .Append(m.Thresholds is null ? "-" : m.Passed ? "pass" : "**" + m.Status.Replace('-', ' ').ToUpperInvariant() + "**").Append(" |\n");
                }

                md.Append('\n');
            }
        }

        md.Append("**Next step:** ").Append(Markdown(ReportText.NextStep(report))).Append("\n\n");

        var shown = report.Diagnostics.Where(d => d.Severity != "info").ToList();
        if (shown.Count > 0)
        {
            md.Append("### Diagnostics\n\n");
            foreach (var d in shown)
            {
                md.Append("- ").Append(Markdown(ReportText.Diagnostic(d))).Append('\n');
            }

            md.Append('\n');
        }

        // No links: a job summary or a pull-request comment has no folder to resolve a relative link against (GitHub drops or breaks
        // them), and an absolute one would tie the report to one host. The files are named; CI keeps them as the run's artifact.
        md.Append("Details: `").Append(HtmlRenderer.FileName).Append("` (HTML), `").Append(ReportJson.FileName).Append("`, `")
            .Append(SarifRenderer.FileName).Append("` and `").Append(JUnitRenderer.FileName)
            .Append("` beside this file (in CI, the run's gate report artifact). KtuGate ").Append(Markdown(report.Tool.Version))
            .Append(", generated ").Append(Markdown(report.GeneratedAt)).Append(".\n");
        return Encoding.UTF8.GetBytes(md.ToString());
    }

    // Inside a code span only the backtick needs care; a path with one is shown without it.
    private static string Code(string text) => Printable(text).Replace('`', '\'');
}
