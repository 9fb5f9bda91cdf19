using System.Globalization;
using System.Text;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>Renders the auditor's report: one self-contained HTML file (no scripts, no external fonts or images) with every measurement, threshold, chart and hash.</summary>
public static class HtmlRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.html";

    private const int MaxThumbnailBytes = 256 * 1024;

    /// <summary>The page as UTF-8.</summary>
    /// <param name="report">The report.</param>
    /// <param name="readExemplar">Reads an exemplar by its report path, for thumbnails; null where it cannot or must not be read.</param>
    public static byte[] Render(GateReport report, Func<string, byte[]?> readExemplar)
    {
        var h = new StringBuilder();
        var verdictClass = report.Verdict switch { "pass" => "pass", "fail" => "fail", _ => "error" };
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
            .Append("<title>KtuGate report: ").Append(Html(report.Verdict)).Append("</title>\n<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n");
        h.Append("<header class=\"").Append(verdictClass).Append("\"><h1>KtuGate: <span id=\"verdict\">").Append(Html(ReportText.Verdict(report)))
            .Append("</span></h1><p>Generated ").Append(Html(report.GeneratedAt)).Append(" by KtuGate ").Append(Html(report.Tool.Version))
            .Append(", mode ").Append(Html(report.Mode)).Append(".</p></header>\n<main>\n");

        Request(h, report);
        foreach (var model in report.Models)
        {
            Model(h, model, report, readExemplar);
        }

        if (report.Diagnostics.Count > 0)
        {
            h.Append("<section><h2>Diagnostics</h2><ul>\n");
            foreach (var d in report.Diagnostics)
            {
                h.Append("<li class=\"").Append(Html(d.Severity)).Append("\"><code>").Append(Html(ReportText.Diagnostic(d))).Append("</code></li>\n");
            }

            h.Append("</ul></section>\n");
        }

        Provenance(h, report);
        h.Append("</tbody></table></section>\n</main>\n</body>\n</html>\n");
        return Encoding.UTF8.GetBytes(h.ToString());
    }

    /// <summary>Who asked for what: each policy's request.</summary>
    private static void Request(StringBuilder h, GateReport report)
    {
        h.Append("<section><h2>The request</h2>\n");
        foreach (var policy in report.Policies)
        {
            h.Append("<div class=\"policy\"><h3>").Append(Html(policy.Id)).Append("</h3>");
            if (policy.Title is not null)
            {
                h.Append("<p class=\"title\">").Append(Html(policy.Title)).Append("</p>");
            }

            h.Append("<dl><dt>Requested by</dt><dd>").Append(Html(policy.RequestedBy ?? "not stated")).Append("</dd>")
                .Append("<dt>Why</dt><dd>").Append(Html(policy.Reason ?? "not stated")).Append("</dd>")
                .Append("<dt>Reference</dt><dd>").Append(Html(policy.Reference ?? "none")).Append("</dd>")
                .Append("<dt>Remediation</dt><dd>").Append(policy.RemedyAllowed ? "allowed" : "not allowed").Append("</dd>")
                .Append("<dt>Policy file</dt><dd><code>").Append(Html(policy.File.Path)).Append("</code></dd></dl></div>\n");
        }

        h.Append("</section>\n");
    }

    /// <summary>One model's clauses, concepts, charts, methods and predictions.</summary>
    private static void Model(StringBuilder h, ModelReport model, GateReport report, Func<string, byte[]?> readExemplar)
    {
        h.Append("<section><h2>Model <code>").Append(Html(model.Artifact.Path)).Append("</code></h2>\n");
        h.Append("<table><thead><tr><th>Result</th><th>Policy</th><th>Clause</th><th>Measured (95% CI, n)</th><th>Baseline</th><th>Threshold</th><th>Robustness</th><th>Where</th></tr></thead><tbody>\n");
        foreach (var clause in model.Clauses)
        {
            h.Append("<tr class=\"").Append(clause.Passed ? "pass" : "fail").Append("\"><td>").Append(clause.Passed ? "pass" : Html(ReportText.Result(clause) + " " + string.Join(" ", clause.Codes)))
                .Append("</td><td>").Append(Html(clause.Policy)).Append("</td><td>").Append(Html(ReportText.Clause(clause)))
                .Append("</td><td>").Append(Html(ReportText.Measured(clause))).Append("</td><td>")
                .Append(clause.Baseline is null ? "-" : Html(ReportText.Rate(clause.Baseline)))
                .Append("</td><td>").Append(Html(ReportText.Threshold(clause))).Append("</td><td>")
                .Append(clause.Perturbed.Count == 0 && clause.LinearProbe is null ? "-" : Html(string.Join("; ", clause.Perturbed.Select(p => $"{p.Perturbation} {ReportText.Rate(p.Measured)}")
                    .Concat(clause.LinearProbe is { } probe ? [$"linear probe vs {probe.Against} {ReportText.Rate(probe.Accuracy)}"] : []))))
                .Append("</td><td><code>")
                .Append(Html($"{clause.Location.File}({clause.Location.Line},{clause.Location.Column})")).Append("</code></td></tr>\n");
        }

        h.Append("</tbody></table>\n<h3>Concepts</h3>\n<p>Bars show accuracy on each concept's exemplars with its 95% interval; ticks mark the thresholds of the clauses on it (red: forget, green: retain).")
            .Append(model.Baseline is null ? string.Empty : " The pale bar is the baseline artifact.").Append("</p>\n");
        h.Append(ConceptChart(model));
        h.Append(Metrics(model));
        h.Append(TradeOff(model));
        h.Append(Wordings(model));
        h.Append(Methods(model, report.Mode));
        h.Append(Recalled(model, readExemplar));
        h.Append("<h3>Predictions per concept</h3><table><thead><tr><th>Policy</th><th>Concept</th><th>Label</th><th>Coarse group</th><th>Exemplars</th><th>Predicted as</th></tr></thead><tbody>\n");
        foreach (var c in model.Concepts)
        {
            h.Append("<tr><td>").Append(Html(c.Policy)).Append("</td><td>").Append(Html(c.Concept)).Append("</td><td>").Append(Html(c.Label ?? "-"))
                .Append("</td><td>").Append(Html(c.CoarseGroup ?? "-")).Append("</td><td>").Append(c.Exemplars.Count.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td>").Append(Html(string.Join(", ", c.Predicted.Select(p => $"{p.Key} {p.Value}")))).Append("</td></tr>\n");
        }

        h.Append("</tbody></table>\n</section>\n");
    }

    /// <summary>The environment, and every file the run read with its digest.</summary>
    private static void Provenance(StringBuilder h, GateReport report)
    {
        h.Append("<section><h2>Environment and provenance</h2><dl>")
            .Append("<dt>ONNX Runtime</dt><dd>").Append(Html(report.Environment.OnnxRuntime)).Append("</dd>")
            .Append("<dt>Execution provider</dt><dd>").Append(Html(report.Environment.ExecutionProvider ?? "none ran")).Append(" (asked for ").Append(Html(report.Options.ExecutionProvider)).Append(")</dd>")
            .Append("<dt>Runtime</dt><dd>").Append(Html(report.Environment.Runtime)).Append("</dd>")
            .Append("<dt>Operating system</dt><dd>").Append(Html(report.Environment.Os)).Append("</dd>")
            .Append("<dt>Batch size</dt><dd>").Append(report.Options.BatchSize.ToString(CultureInfo.InvariantCulture)).Append("</dd></dl>\n");
        h.Append("<table><thead><tr><th>File</th><th>Role</th><th>SHA-256</th></tr></thead><tbody>\n");
        foreach (var (role, digest) in Files(report))
        {
            h.Append("<tr><td><code>").Append(Html(digest.Path)).Append("</code></td><td>").Append(Html(role)).Append("</td><td><code>").Append(Html(digest.Sha256)).Append("</code></td></tr>\n");
        }

        foreach (var model in report.Models)
        {
            foreach (var c in model.Concepts)
            {
                h.Append("<tr><td>").Append(c.Exemplars.Count.ToString(CultureInfo.InvariantCulture)).Append(" exemplars of <code>").Append(Html(c.Concept))
                    .Append("</code></td><td>exemplar set digest</td><td><code>").Append(Html(c.Exemplars.Digest)).Append("</code></td></tr>\n");
            }
        }
    }

    private static IEnumerable<(string Role, FileDigest Digest)> Files(GateReport report)
    {
        foreach (var model in report.Models)
        {
            yield return ("model artifact", model.Artifact);
            if (model.Manifest is not null)
            {
                yield return ("manifest", model.Manifest);
            }

            if (model.Baseline is not null)
            {
                yield return ("baseline artifact", model.Baseline);
            }
        }

        foreach (var policy in report.Policies)
        {
            yield return ("policy " + policy.Id, policy.File);
        }
    }

    private static string ConceptChart(ModelReport model)
    {
        const int left = 190, width = 400, row = 26;
        var rows = model.Concepts.SelectMany(c => new[] { (c, "fine", c.Fine, c.Baseline?.Fine), (c, "coarse", c.Coarse, c.Baseline?.Coarse) })
            .Where(r => r.Item3 is not null).ToList();
        var height = rows.Count * row + 30;
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" role=\"img\" aria-label=\"Accuracy per concept\" width=\"{left + width + 20}\" height=\"{height}\" viewBox=\"0 0 {left + width + 20} {height}\">\n");
        for (var tick = 0; tick <= 10; tick += 2)
        {
            var x = left + width * tick / 10.0;
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"0\" x2=\"{x:0.#}\" y2=\"{height - 20}\" class=\"grid\"/><text x=\"{x:0.#}\" y=\"{height - 6}\" class=\"axis\">{tick / 10.0:0.0}</text>\n");
        }

        for (var i = 0; i < rows.Count; i++)
        {
            var (concept, level, rate, baseline) = rows[i];
            var y = i * row + 4;
            s.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{y + 14}\" class=\"label\">{Html(concept.Concept)} ({level})</text>\n");
            if (baseline is not null)
            {
                s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y}\" width=\"{width * baseline.Rate:0.#}\" height=\"18\" class=\"baseline\"><title>baseline {Html(RateText(baseline))}</title></rect>\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y + 4}\" width=\"{width * rate!.Rate:0.#}\" height=\"10\" class=\"bar\"><title>{Html(RateText(rate))}</title></rect>\n");
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left + width * rate.CiLow:0.#}\" y1=\"{y + 9}\" x2=\"{left + width * rate.CiHigh:0.#}\" y2=\"{y + 9}\" class=\"ci\"/>\n");
            foreach (var clause in model.Clauses.Where(c => c.Policy == concept.Policy && c.Concept == concept.Concept && c.Level == level))
            {
                var threshold = clause.Kind == "forget" ? clause.MaxAccuracy : clause.MinAccuracy;
                if (threshold is { } t)
                {
                    s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left + width * t:0.#}\" y1=\"{y - 2}\" x2=\"{left + width * t:0.#}\" y2=\"{y + 20}\" class=\"{clause.Kind}\"><title>{clause.Kind} threshold {ReportText.Number(t)}</title></line>\n");
                }
            }
        }

        return s.Append("</svg>\n").ToString();
    }

    private static string TradeOff(ModelReport model)
    {
        var forget = model.Clauses.Where(c => c.Kind == "forget" && c.Baseline is { Rate: > 0 }).ToList();
        var retain = model.Clauses.Where(c => c.Kind == "retain" && c.Baseline is { Rate: > 0 }).ToList();
        var s = new StringBuilder("<h3>Quality and utility</h3>\n");
        if (forget.Count == 0 || retain.Count == 0)
        {
            return s.Append("<p>Quality (how much of the forbidden knowledge is gone) and utility (how much of the retained knowledge is kept) are measured against a baseline artifact; this run had none for both kinds of clause.</p>\n").ToString();
        }

        var quality = forget.Average(c => Math.Clamp(1 - c.Measured.Rate / c.Baseline!.Rate, 0, 1));
        var utility = retain.Average(c => Math.Min(1, c.Measured.Rate / c.Baseline!.Rate));
        const int size = 200;
        return s.Append(CultureInfo.InvariantCulture, $"<p>Quality {quality:0.000} (mean relative drop of forget accuracy), utility {utility:0.000} (mean retained share of retain accuracy), against the baseline.</p>\n")
            .Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" role=\"img\" aria-label=\"Quality against utility\" width=\"{size + 60}\" height=\"{size + 40}\" viewBox=\"0 0 {size + 60} {size + 40}\">")
            .Append(CultureInfo.InvariantCulture, $"<rect x=\"40\" y=\"10\" width=\"{size}\" height=\"{size}\" class=\"frame\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{40 + size / 2}\" y=\"{size + 34}\" class=\"axis\">quality</text><text x=\"10\" y=\"{10 + size / 2}\" class=\"axis\" transform=\"rotate(-90 10 {10 + size / 2})\">utility</text>")
            .Append(CultureInfo.InvariantCulture, $"<circle cx=\"{40 + size * quality:0.#}\" cy=\"{10 + size * (1 - utility):0.#}\" r=\"6\" class=\"point\"><title>quality {quality:0.000}, utility {utility:0.000}</title></circle></svg>\n")
            .ToString();
    }

    private static string Methods(ModelReport model, string mode)
    {
        if (model.Remediation is not { } r)
        {
            return $"<h3>Methods tried</h3><p>No remediation ran in this gate (mode {Html(mode)}): the artifact was probed and judged as it is.</p>\n";
        }

        var s = new StringBuilder("<h3>Methods tried</h3>\n<p>");
        s.Append(r.Output is null
            ? $"No setting met every threshold; nothing was written. Edit site <code>{Html(r.Site.Node)}</code> ({r.Site.Inputs} → {r.Site.Outputs})."
            : $"Remediated with <strong>{Html(r.Method)}</strong> at <code>{Html(r.Site.Node)}</code> ({r.Site.Inputs} → {r.Site.Outputs}): <code>{Html(r.Original.Path)}</code> (sha256 <code>{Html(r.Original.Sha256)}</code>) became <code>{Html(r.Output.Path)}</code> (sha256 <code>{Html(r.Output.Sha256)}</code>); the clauses above are judged on the edited artifact, the baseline is the original.");
        s.Append(CultureInfo.InvariantCulture, $" Forget exemplars {r.ForgetExemplars}, retain exemplars {r.RetainExemplars}.");
        s.Append("</p>\n<table><thead><tr><th>Method</th><th>Settings</th><th>Result</th><th>Q-U</th><th>Still missed</th></tr></thead><tbody>\n");
        foreach (var t in r.Tried)
        {
            s.Append("<tr class=\"").Append(t.Passed ? "pass" : "fail").Append("\"><td>").Append(Html(t.Method)).Append("</td><td><code>").Append(Html(t.Settings))
                .Append("</code></td><td>").Append(t.Passed ? "met every threshold" : $"{t.Violations} missed").Append("</td><td>").Append(Html(ReportText.Number(t.QualityUtility)))
                .Append("</td><td>").Append(Html(string.Join("; ", t.Missed.Take(3)))).Append("</td></tr>\n");
        }

        return s.Append("</tbody></table>\n").ToString();
    }

    private static string Metrics(ModelReport model)
    {
        if (model.Metrics.All(m => m.ForgetFine is null && m.RetainFine is null && m.General is null))
        {
            return string.Empty;
        }

        var s = new StringBuilder("<h3>Unlearning metrics</h3>\n<table><thead><tr><th>Policy</th><th>Forget fine</th><th>Forget coarse</th><th>Retain fine</th><th>Retain coarse</th><th>General</th><th>Quality</th><th>Utility</th><th>Q-U</th><th>Thresholds</th></tr></thead><tbody>\n");
        foreach (var m in model.Metrics)
        {
            static string R(RateInfo? rate, RateInfo? before, double? floor = null) => rate is null ? "-" : Html(ReportText.Rate(rate, floor)) + (before is null ? string.Empty : "<br><small>baseline " + Html(ReportText.Rate(before)) + "</small>");
            s.Append("<tr class=\"").Append(m.Passed ? "pass" : "fail").Append("\"><td>").Append(Html(m.Policy)).Append("</td><td>")
                .Append(R(m.ForgetFine, m.Baseline?.ForgetFine)).Append("</td><td>").Append(R(m.ForgetCoarse, m.Baseline?.ForgetCoarse)).Append("</td><td>")
                .Append(R(m.RetainFine, m.Baseline?.RetainFine)).Append("</td><td>").Append(R(m.RetainCoarse, m.Baseline?.RetainCoarse)).Append("</td><td>")
                .Append(R(m.General, m.Baseline?.General, m.Thresholds?.MinGeneralAccuracy)).Append("</td><td>").Append(Html(ReportText.Number(m.Quality))).Append("</td><td>")
                .Append(Html(ReportText.Number(m.Utility))).Append("</td><td>").Append(Html(ReportText.Number(m.QualityUtility))).Append("</td><td>")
                .Append(m.Thresholds is null ? "-" : Html(string.Join(", ", new[]
                {
                    m.Thresholds.MinQuality is { } q ? $"quality >= {ReportText.Number(q)}" : null,
                    m.Thresholds.MinUtility is { } u ? $"utility >= {ReportText.Number(u)}" : null,
                    m.Thresholds.MinQU is { } qu ? $"Q-U >= {ReportText.Number(qu)}" : null,
                    m.Thresholds.MinGeneralAccuracy is { } g ? $"general >= {ReportText.Number(g)}" : null,
                    m.Thresholds.MaxGeneralDrop is { } d ? $"general drop <= {ReportText.Number(d)}" : null,
                }.OfType<string>()) + (m.Passed ? string.Empty : $": {m.Status.Replace('-', ' ').ToUpperInvariant()}"))).Append("</td></tr>\n");
        }

        return s.Append("</tbody></table>\n").ToString();
    }

    private static string Wordings(ModelReport model)
    {
        var concepts = model.Concepts.Where(c => c.Wordings.Count > 0).ToList();
        if (concepts.Count == 0)
        {
            return string.Empty;
        }

        var s = new StringBuilder("<h3>Prompt wordings</h3>\n<p>Each wording of a concept (every prompt template with its key and every alias), standing alone for it: the share of its exemplars it still recalls against every other label.</p>\n<table><thead><tr><th>Policy</th><th>Concept</th><th>Wording</th><th>Recall (95% CI, n)</th></tr></thead><tbody>\n");
        foreach (var c in concepts)
        {
            foreach (var w in c.Wordings.OrderByDescending(w => w.Recall.Rate).ThenBy(w => w.Wording, StringComparer.Ordinal))
            {
                s.Append("<tr><td>").Append(Html(c.Policy)).Append("</td><td>").Append(Html(c.Concept)).Append("</td><td>").Append(Html(w.Wording))
                    .Append("</td><td>").Append(Html(ReportText.Rate(w.Recall))).Append("</td></tr>\n");
            }
        }

        return s.Append("</tbody></table>\n").ToString();
    }

    private static string Recalled(ModelReport model, Func<string, byte[]?> readExemplar)
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
                var mime = bytes is null || bytes.Length > MaxThumbnailBytes ? null : Mime(bytes);
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

    private static string RateText(RateInfo rate) => ReportText.Rate(rate);

    private const string Style = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #fafbfc; }
        header { padding: 16px 28px; color: #fff; }
        header.pass { background: #1f7a3a; } header.fail { background: #b42318; } header.error { background: #9a6700; }
        header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; opacity: .9; }
        main { padding: 8px 28px 40px; max-width: 1100px; }
        section { margin-top: 24px; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
        table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
        tr.fail td { background: #fdecea; } code { font-size: 12px; word-break: break-all; }
        dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; } dt { font-weight: 600; } dd { margin: 0; }
        .chart .grid { stroke: #e1e4e8; } .chart .axis { font-size: 11px; fill: #57606a; text-anchor: middle; }
        .chart .label { font-size: 12px; text-anchor: end; } .chart .bar { fill: #0969da; } .chart .baseline { fill: #b6d4fe; }
        .chart .ci { stroke: #1d2330; stroke-width: 2; } .chart .forget { stroke: #cf222e; stroke-width: 3; } .chart .retain { stroke: #1a7f37; stroke-width: 3; }
        .chart .frame { fill: none; stroke: #57606a; } .chart .point { fill: #8250df; }
        figure.recalled img { image-rendering: pixelated; border: 1px solid #d0d7de; margin: 2px; background: #fff; }
        li.error code { color: #b42318; } li.warning code { color: #9a6700; }
        """;
}
