using System.Globalization;
using System.Text;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>The parts of a model's section of the HTML report: the concept chart, the trade-off, the methods tried, the metrics, the wordings and the recalled exemplars.</summary>
internal static class HtmlModelParts
{
    internal static string ConceptChart(ModelReport model)
    {
        var bars = model.Concepts.SelectMany(c => new[] { (c, Level: "fine", Rate: c.Fine, Baseline: c.Baseline?.Fine), (c, Level: "coarse", Rate: c.Coarse, Baseline: c.Baseline?.Coarse) })
            .Where(r => r.Rate is not null)
            .Select(r =>
            {
                var clauses = model.Clauses.Where(c => c.Policy == r.c.Policy && c.Concept == r.c.Concept && c.Level == r.Level).ToList();
                var thresholds = clauses.Select(c => (Value: c.Kind == "forget" ? c.MaxAccuracy : c.MinAccuracy, c.Kind)).Where(t => t.Value is not null).Select(t => (t.Value!.Value, t.Kind)).ToList();
                return new HtmlCharts.Bar($"{r.c.Concept} ({r.Level})", r.Rate!, Status(clauses), r.Baseline, thresholds);
            }).ToList();
        return bars.Count == 0 ? "<p>No concept was measured.</p>\n" : HtmlCharts.Bars("Accuracy per concept", bars);
    }

    /// <summary>The colour a set of clauses gives its bar: "none" without clauses, else the worst of them.</summary>
    private static string Status(IReadOnlyCollection<ClauseReport> clauses)
        => clauses.Count == 0 ? "none" : clauses.Any(c => c.Status == "fail") ? "fail" : clauses.All(c => c.Status == "pass") ? "pass" : "undecided";

    internal static string TradeOff(ModelReport model)
    {
        var s = new StringBuilder("<h3>Quality and utility</h3>\n");
        var points = model.Metrics.Where(m => m.Quality is not null && m.Utility is not null)
            .Select(m => new HtmlCharts.Point(m.Policy, m.Quality!.Value, m.Utility!.Value, m.Passed ? "pass" : "fail")).ToList();
        var tried = model.Remediation?.Tried.Where(t => t.Quality is not null && t.Utility is not null)
            .Select(t => new HtmlCharts.Point($"{t.Method} {t.Settings}", t.Quality!.Value, t.Utility!.Value, "tried")).ToList() ?? [];
        if (points.Count == 0 && tried.Count == 0)
        {
            return s.Append("<p>Quality (how much of the forbidden knowledge is gone) and utility (how much of the retained knowledge is kept) are measured against a baseline artifact, or in Remediate against the original; this run had neither.</p>\n").ToString();
        }

        var against = model.Remediation?.Output is not null ? "the original artifact" : "the baseline artifact";
        s.Append("<p>Each policy's quality Q (relative drop of forget accuracy) against its utility U (retained share of what it keeps), against ").Append(against)
            .Append(tried.Count == 0 ? string.Empty : "; small circles are the remediation settings tried").Append(". Dashed lines are the policy's thresholds: Q and U floors, and the curve where Q-U (their harmonic mean) meets its floor.</p>\n");

        // Thresholds are drawn for a single policy only: with several, each has its own and one set of lines would mislead.
        var thresholds = model.Metrics.Count == 1 ? model.Metrics[0].Thresholds : null;
        return s.Append("<figure>").Append(HtmlCharts.QualityUtility([.. tried, .. points], thresholds)).Append("</figure>\n").ToString();
    }

    internal static string Methods(ModelReport model, string mode)
    {
        if (model.Remediation is not { } r)
        {
            return $"<h3>Methods tried</h3><p>No remediation ran in this gate (mode {Html(mode)}): the artifact was probed and judged as it is.</p>\n";
        }

        var s = new StringBuilder("<h3>Methods tried</h3>\n<p>");
        s.Append(r.Output is null
            ? $"No setting met every threshold; nothing was written. Edit site <code>{Html(r.Site.Node)}</code> ({r.Site.Inputs} → {r.Site.Outputs})."
            : $"Remediated with <strong>{Html(r.Method)}</strong> {HtmlRenderer.EditText(r)}: <code class=\"path\">{Html(r.Original.Path)}</code> became <code class=\"path\">{Html(r.Output.Path)}</code>; the clauses above are judged on the edited artifact, the baseline is the original.");
        s.Append(CultureInfo.InvariantCulture, $" Forget exemplars {r.ForgetExemplars}, retain exemplars {r.RetainExemplars}.");
        s.Append("</p>\n<div class=\"scroll\"><table><thead><tr><th>Method</th><th>Settings</th><th>Result</th><th>Q</th><th>U</th><th>Q-U</th><th>Still missed</th></tr></thead><tbody>\n");
        foreach (var t in r.Tried)
        {
            s.Append("<tr class=\"").Append(t.Passed ? "pass" : "fail").Append("\"><td>").Append(Html(t.Method)).Append("</td><td><code>").Append(Html(t.Settings))
                .Append("</code></td><td>").Append(t.Passed ? "met every threshold" : $"{t.Violations} missed").Append("</td><td>").Append(HtmlRenderer.V(HtmlCharts.Value(t.Quality)))
                .Append("</td><td>").Append(HtmlRenderer.V(HtmlCharts.Value(t.Utility))).Append("</td><td>").Append(HtmlRenderer.V(HtmlCharts.Value(t.QualityUtility)))
                .Append("</td><td>").Append(Html(string.Join("; ", t.Missed.Take(3)))).Append("</td></tr>\n");
        }

        return s.Append("</tbody></table></div>\n").ToString();
    }

    internal static string Metrics(ModelReport model)
    {
        if (model.Metrics.All(m => m.ForgetFine is null && m.RetainFine is null && m.General is null))
        {
            return string.Empty;
        }

        var s = new StringBuilder("<h3>Unlearning metrics</h3>\n<div class=\"scroll\"><table><thead><tr><th>Policy</th><th>Forget fine</th><th>Forget coarse</th><th>Retain fine</th><th>Retain coarse</th><th>General</th><th>Quality</th><th>Utility</th><th>Q-U</th><th>Thresholds</th></tr></thead><tbody>\n");
        foreach (var m in model.Metrics)
        {
            static string R(RateInfo? rate, RateInfo? before, double? floor = null) => rate is null ? "-" : HtmlRenderer.V(ReportText.Rate(rate, floor)) + (before is null ? string.Empty : "<br><small>baseline " + HtmlRenderer.V(ReportText.Rate(before)) + "</small>");
            s.Append("<tr class=\"").Append(m.Passed ? "pass" : "fail").Append("\"><td>").Append(Html(m.Policy)).Append("</td><td>")
                .Append(R(m.ForgetFine, m.Baseline?.ForgetFine)).Append("</td><td>").Append(R(m.ForgetCoarse, m.Baseline?.ForgetCoarse)).Append("</td><td>")
                .Append(R(m.RetainFine, m.Baseline?.RetainFine)).Append("</td><td>").Append(R(m.RetainCoarse, m.Baseline?.RetainCoarse)).Append("</td><td>")
                .Append(R(m.General, m.Baseline?.General, m.Thresholds?.MinGeneralAccuracy)).Append("</td><td>").Append(HtmlRenderer.V(HtmlCharts.Value(m.Quality, m.Thresholds?.MinQuality))).Append("</td><td>")
                .Append(HtmlRenderer.V(HtmlCharts.Value(m.Utility, m.Thresholds?.MinUtility))).Append("</td><td>").Append(HtmlRenderer.V(HtmlCharts.Value(m.QualityUtility, m.Thresholds?.MinQU))).Append("</td><td>")
                .Append(Html(ReportText.MetricThresholds(m.Thresholds) + (m.Thresholds is null || m.Passed ? string.Empty : $": {m.Status.Replace('-', ' ').ToUpperInvariant()}"))).Append("</td></tr>\n");
        }

        return s.Append("</tbody></table></div>\n").ToString();
    }

    /// <summary>One small chart per concept of how often each wording alone still recalls it, instead of a table with a row per wording.</summary>
    internal static string Wordings(ModelReport model)
    {
        var concepts = model.Concepts.Where(c => c.Wordings.Count > 0).ToList();
        if (concepts.Count == 0)
        {
            return string.Empty;
        }

        var s = new StringBuilder("<h3>Prompt wordings</h3>\n<p>Each wording of a concept (every prompt template with its key and every alias), standing alone for it: the share of its exemplars it still recalls against every other label, with its 95% interval. For a concept a clause forgets, a bar is red where its upper bound is above the clause's allowed accuracy (the red tick).</p>\n<div class=\"multiples\">\n");
        foreach (var c in concepts)
        {
            var forget = model.Clauses.FirstOrDefault(k => k.Kind == "forget" && k.Policy == c.Policy && k.Concept == c.Concept && k.Level == "fine" && k.MaxAccuracy is not null);
            var bars = c.Wordings.OrderByDescending(w => w.Recall.Rate).ThenBy(w => w.Wording, StringComparer.Ordinal)
                .Select(w => new HtmlCharts.Bar(w.Wording, w.Recall,
                    forget is null ? "none" : Policies.Thresholds.Above(w.Recall.CiHigh, forget.MaxAccuracy!.Value) ? "fail" : "pass",
                    null, forget is null ? [] : [(forget.MaxAccuracy!.Value, "forget")])).ToList();
            s.Append("<figure class=\"wordings\"><figcaption>").Append(Html(c.Concept)).Append(" (").Append(Html(c.Policy)).Append(CultureInfo.InvariantCulture, $"): {c.Wordings.Count} wordings</figcaption>")
                .Append(HtmlCharts.Bars($"Recall per wording of {c.Concept}", bars)).Append("</figure>\n");
        }

        return s.Append("</div>\n").ToString();
    }

    internal static string Recalled(ModelReport model, Func<string, byte[]?> readExemplar)
    {
        var failing = model.Clauses.Where(c => c.Kind == "forget" && !c.Passed).Select(c => (c.Policy, c.Concept)).ToHashSet();
        var s = new StringBuilder("<h3>Exemplars that still recall a forbidden concept</h3>\n");
        var any = false;
        foreach (var concept in model.Concepts.Where(c => failing.Contains((c.Policy, c.Concept)) && c.Recalled.Count > 0))
        {
            any = true;
            s.Append("<figure class=\"recalled\">");
            foreach (var path in concept.Recalled)
            {
                var bytes = readExemplar(path);
                var mime = bytes is null || bytes.Length > HtmlRenderer.MaxThumbnailBytes ? null : Mime(bytes);
                s.Append(mime is null
                    ? $"<span class=\"missing\">{Html(path)}</span>"
                    : $"<img src=\"data:{mime};base64,{Convert.ToBase64String(bytes!)}\" alt=\"{Html(path)}\" title=\"{Html(path)}\" width=\"84\" height=\"84\">");
            }

            s.Append("<figcaption>").Append(Html(concept.Concept)).Append(" (").Append(Html(concept.Policy)).Append("): still labelled as the concept</figcaption></figure>\n");
        }

        return any ? s.ToString() : s.Append("<p>None: no forget clause failed.</p>\n").ToString();
    }

    private static string? Mime(byte[] bytes) => bytes switch
    {
        [0x89, 0x50, 0x4E, 0x47, ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        _ => null,
    };
}
