using System.Globalization;
using System.Text;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>Renders the auditor's report: one self-contained HTML file (no scripts, no external fonts or images) with every measurement, threshold, chart and hash.</summary>
public static class HtmlRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.html";

    internal const int MaxThumbnailBytes = 256 * 1024;

    /// <summary>The page as UTF-8.</summary>
    /// <param name="report">The report.</param>
    /// <param name="readExemplar">Reads an exemplar by its report path, for thumbnails; null where it cannot or must not be read.</param>
    /// <param name="signed">Whether the run signs its in-toto statement (a DSSE envelope is written beside the report).</param>
    public static byte[] Render(GateReport report, Func<string, byte[]?> readExemplar, bool signed = false)
    {
        var h = new StringBuilder();
        var verdictClass = report.Verdict switch { "pass" => "pass", "fail" => "fail", _ => "error" };
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
            .Append("<title>KtuGate report: ").Append(Html(report.Verdict)).Append("</title>\n<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n");
        h.Append("<header class=\"").Append(verdictClass).Append("\"><h1>KtuGate: <span id=\"verdict\">").Append(Html(ReportText.Verdict(report)))
            .Append("</span></h1><p>Generated ").Append(Html(report.GeneratedAt)).Append(" by KtuGate ").Append(Html(report.Tool.Version))
            .Append(", mode ").Append(Html(report.Mode)).Append(".</p></header>\n<main>\n");

        Decision(h, report, signed);
        Request(h, report);
        foreach (var model in report.Models)
        {
            Model(h, model, report, readExemplar);
        }

        if (report.Diagnostics.Count > 0)
        {
            h.Append("<section><h2>Diagnostics</h2><ul class=\"diagnostics\">\n");
            foreach (var d in report.Diagnostics)
            {
                h.Append("<li class=\"").Append(Html(d.Severity)).Append("\"><code>").Append(Html(ReportText.Diagnostic(d))).Append("</code></li>\n");
            }

            h.Append("</ul></section>\n");
        }

        Provenance(h, report);
        h.Append("</tbody></table></div></section>\n</main>\n</body>\n</html>\n");
        return Encoding.UTF8.GetBytes(h.ToString());
    }

    /// <summary>The first screen: the decision, what failed, what remediation may do and did, the next step, and how to check the report later.</summary>
    private static void Decision(StringBuilder h, GateReport report, bool signed)
    {
        var undecided = report.Models.SelectMany(m => m.Clauses).Where(c => c.Status != "pass").ToList();
        var missedMetrics = report.Models.SelectMany(m => m.Metrics).Where(m => m.Thresholds is not null && !m.Passed).ToList();
        h.Append("<section id=\"decision\"><h2>Decision</h2>\n<dl class=\"decision\">");
        h.Append("<dt>Next step</dt><dd id=\"next-step\"><strong>").Append(Html(ReportText.NextStep(report))).Append("</strong></dd>");
        h.Append("<dt>Clauses not holding</dt><dd>");
        if (undecided.Count == 0)
        {
            h.Append(report.Summary.Clauses == 0 ? "none judged" : "none: every clause holds");
        }
        else
        {
            h.Append("<ul class=\"failed\">");
            foreach (var c in undecided)
            {
                h.Append("<li><span class=\"status ").Append(c.Status == "fail" ? "fail" : "undecided").Append("\">").Append(Html(ReportText.Result(c))).Append("</span> ")
                    .Append(Html(c.Policy)).Append(": <strong>").Append(Html(ReportText.Clause(c))).Append("</strong> measured ")
                    .Append(V(ReportText.Measured(c))).Append(", threshold ").Append(V(ReportText.Threshold(c))).Append(' ')
                    .Append(Html(string.Join(" ", c.Codes))).Append(" <code class=\"path\">").Append(Html($"{c.Location.File}({c.Location.Line},{c.Location.Column})")).Append("</code></li>");
            }

            h.Append("</ul>");
        }

        h.Append("</dd>");
        if (missedMetrics.Count > 0)
        {
            h.Append("<dt>Metric thresholds missed</dt><dd><ul class=\"failed\">");
            foreach (var m in missedMetrics)
            {
                h.Append("<li><span class=\"status ").Append(m.Status == "fail" ? "fail" : "undecided").Append("\">").Append(Html(m.Status.Replace('-', ' ').ToUpperInvariant()))
                    .Append("</span> ").Append(Html(m.Policy)).Append(": ").Append(V(QualityUtilityText(m.Quality, m.Utility, m.QualityUtility, m.Thresholds)))
                    .Append("; ").Append(Html(ReportText.MetricThresholds(m.Thresholds))).Append("</li>");
            }

            h.Append("</ul></dd>");
        }

        h.Append("<dt>Remediation allowed</dt><dd>").Append(Html(string.Join("; ", report.Policies.Select(p => $"{p.Id}: {(p.RemedyAllowed ? "yes" : "no")}")))).Append("</dd>");
        foreach (var model in report.Models)
        {
            if (model.Remediation is { } r)
            {
                h.Append("<dt>Remediation did</dt><dd><strong>").Append(r.Output is null ? "no setting met every threshold; nothing was written" : "wrote a remediated artifact that meets every threshold")
                    .Append("</strong><dl class=\"fields\">");
                foreach (var (name, value) in RemediationFields(r))
                {
                    h.Append("<dt>").Append(Html(name)).Append("</dt><dd>").Append(value).Append("</dd>");
                }

                h.Append("</dl></dd>");
            }
        }

        h.Append("<dt>Signature</dt><dd id=\"signature\">").Append(signed
            ? "signed: <code>" + Html(Reporting.Provenance.EnvelopeFileName) + "</code> holds the in-toto statement signed with ECDSA P-256 (SHA-256)."
            : "not signed: <code>" + Html(Reporting.Provenance.StatementFileName) + "</code> ties this report to the SHA-256 of every file it judged, but a rewritten report with a rewritten statement matches too (KTU6008). Sign with <code>KtuSigningKeyFile</code> or <code>ktu check --signing-key</code>.")
            .Append("</dd><dt>Verify later</dt><dd><code>ktu verify ").Append(Html(ReportJson.FileName)).Append(signed ? " --public-key key.pub.pem" : string.Empty)
            .Append("</code> from the project folder: checks this report against its statement")
            .Append(signed ? " and signature" : string.Empty).Append(" and recomputes the SHA-256 of the artifact, policies and exemplars (add <code>--artifact</code> for the file about to ship).</dd>");
        h.Append("</dl>\n</section>\n");
    }

    /// <summary>What remediation did, one name and HTML value per field: a field added to <see cref="RemediationReport"/> is one line here.</summary>
    private static IEnumerable<(string Name, string Value)> RemediationFields(RemediationReport r)
    {
        var kept = r.Output is null ? null : r.Tried[^1];
        yield return ("Method", Html(r.Method));
        yield return ("Site", $"<code>{Html(r.Site.Node)}</code> (weight <code>{Html(r.Site.Weight)}</code>, {r.Site.Inputs} → {r.Site.Outputs})");
        if (r.Scope is { } scope)
        {
            yield return ("Scope", string.Create(CultureInfo.InvariantCulture,
                $"<code>{Html(string.Join(", ", scope))}</code>: {r.TrainedInitializers} initializer(s) trained, {r.ChangedParameters:N0} parameters changed"));
        }

        yield return ("Setting", kept is null ? $"none of {r.Tried.Count} met every threshold" : $"<code>{Html(kept.Settings)}</code>, after {r.Tried.Count} tried");
        yield return ("Q, U, Q-U", kept is null
            ? $"best Q-U {V(HtmlCharts.Value(r.Tried.Select(t => t.QualityUtility).Max()))} against the original"
            : $"{V(QualityUtilityText(kept.Quality, kept.Utility, kept.QualityUtility, null))} against the original");
        yield return ("Exemplars", string.Create(CultureInfo.InvariantCulture, $"{r.ForgetExemplars} forget, {r.RetainExemplars} retain, {r.HeldOutExemplars} held out"));
        yield return ("Judged", r.JudgedInMemory ? "settings judged first from the edit site's recorded inputs; the one kept was probed" : "every setting probed with ONNX Runtime");
        if (ReportText.Recovery(r) is { } recovery)
        {
            yield return ("Recovery profile", $"linear probe, before → after: {V(recovery)}");
        }

        yield return ("Wrote", r.Output is null ? "nothing" : $"<code class=\"path\">{Html(r.Output.Path)}</code> (sha256 <code>{Html(r.Output.Sha256[..12])}</code>)");
    }

    /// <summary>Where the kept edit was made: "at <c>NODE</c> (in → out)" for the last layer, "through the network (scope ...)" for a deeper scope.</summary>
    internal static string EditText(RemediationReport r)
        => r.ThroughTheNetwork()
            ? $"through the network (scope <code>{Html(string.Join(", ", r.Scope!))}</code>)"
            : $"at <code>{Html(r.Site.Node)}</code> ({r.Site.Inputs} → {r.Site.Outputs})";

    /// <summary>Measured text, each space-separated piece kept on one line: a line may break between "0.987" and "(95% CI", never inside "0.966-0.995".</summary>
    internal static string V(string text) => string.Join(' ', Html(text).Split(' ').Select(piece => $"<span class=\"v\">{piece}</span>"));

    /// <summary>"Q 0.998, U 0.991, Q-U 0.994", each measured value with three decimals, or more where its threshold needs them.</summary>
    private static string QualityUtilityText(double? quality, double? utility, double? qualityUtility, MetricThresholdsInfo? t)
        => $"Q {HtmlCharts.Value(quality, t?.MinQuality)}, U {HtmlCharts.Value(utility, t?.MinUtility)}, Q-U {HtmlCharts.Value(qualityUtility, t?.MinQU)}";

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
                .Append("<dt>Policy file</dt><dd><code class=\"path\">").Append(Html(policy.File.Path)).Append("</code></dd></dl></div>\n");
        }

        h.Append("</section>\n");
    }

    /// <summary>One model's clauses, concepts, charts, methods and predictions.</summary>
    private static void Model(StringBuilder h, ModelReport model, GateReport report, Func<string, byte[]?> readExemplar)
    {
        h.Append("<section><h2>Model <code class=\"path\">").Append(Html(model.Artifact.Path)).Append("</code></h2>\n");
        h.Append("<div class=\"scroll\"><table><thead><tr><th>Result</th><th>Policy</th><th>Clause</th><th>Measured (95% CI, n)</th><th>Baseline</th><th>Threshold</th><th>Robustness</th><th>Where</th></tr></thead><tbody>\n");
        foreach (var clause in model.Clauses)
        {
            h.Append("<tr class=\"").Append(clause.Passed ? "pass" : "fail").Append("\"><td>").Append(clause.Passed ? "pass" : Html(ReportText.Result(clause) + " " + string.Join(" ", clause.Codes)))
                .Append("</td><td>").Append(Html(clause.Policy)).Append("</td><td>").Append(Html(ReportText.Clause(clause)))
                .Append("</td><td>").Append(V(ReportText.Measured(clause))).Append("</td><td>")
                .Append(clause.Baseline is null ? "-" : V(ReportText.Rate(clause.Baseline)))
                .Append("</td><td>").Append(Html(ReportText.Threshold(clause))).Append("</td><td>")
                .Append(clause.Perturbed.Count == 0 && clause.LinearProbe is null ? "-" : string.Join("<br>", clause.Perturbed.Select(p => $"{Html(p.Perturbation)} {V(ReportText.Rate(p.Measured))}")
                    .Concat(clause.LinearProbe is { } probe ? [$"linear probe vs {Html(probe.Against)} {V(ReportText.Rate(probe.Accuracy))}"] : [])))
                .Append("</td><td><code class=\"path\">")
                .Append(Html($"{clause.Location.File}({clause.Location.Line},{clause.Location.Column})")).Append("</code></td></tr>\n");
        }

        h.Append("</tbody></table></div>\n<h3>Concepts</h3>\n<p>Each bar is the accuracy on a concept's exemplars, coloured by its clauses (green: they hold; red: one fails; amber: not decided; blue: no clause), with its 95% interval as a whisker; ticks mark the thresholds (red: forget, green: retain).")
            .Append(model.Baseline is null ? string.Empty : " The pale bar is the baseline artifact.").Append("</p>\n");
        h.Append(HtmlModelParts.ConceptChart(model));
        h.Append(HtmlModelParts.TradeOff(model));
        h.Append(HtmlModelParts.Metrics(model));
        h.Append(HtmlModelParts.Methods(model, report.Mode));
        h.Append(HtmlModelParts.Wordings(model));
        h.Append(HtmlModelParts.Recalled(model, readExemplar));
        h.Append("<h3>Predictions per concept</h3><div class=\"scroll\"><table><thead><tr><th>Policy</th><th>Concept</th><th>Label</th><th>Coarse group</th><th>Exemplars</th><th>Predicted as</th></tr></thead><tbody>\n");
        foreach (var c in model.Concepts)
        {
            h.Append("<tr><td>").Append(Html(c.Policy)).Append("</td><td>").Append(Html(c.Concept)).Append("</td><td>").Append(Html(c.Label ?? "-"))
                .Append("</td><td>").Append(Html(c.CoarseGroup ?? "-")).Append("</td><td>").Append(c.Exemplars.Count.ToString(CultureInfo.InvariantCulture))
                .Append("</td><td>").Append(Html(string.Join(", ", c.Predicted.Select(p => $"{p.Key} {p.Value}")))).Append("</td></tr>\n");
        }

        h.Append("</tbody></table></div>\n</section>\n");
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
        h.Append("<div class=\"scroll\"><table><thead><tr><th>File</th><th>Role</th><th>SHA-256</th></tr></thead><tbody>\n");
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

    private const string Style = """
        body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #fafbfc; }
        header { padding: 16px 28px; color: #fff; }
        header.pass { background: #1f7a3a; } header.fail { background: #b42318; } header.error { background: #9a6700; }
        header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; opacity: .9; }
        main { padding: 8px 28px 40px; max-width: 1240px; }
        section { margin-top: 24px; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
        #decision { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 16px 12px; }
        #next-step { font-size: 15px; } ul.failed { margin: 0; padding-left: 18px; }
        .status { font-weight: 700; } .status.fail { color: #b42318; } .status.undecided { color: #9a6700; }
        .scroll { overflow-x: auto; max-width: 100%; }
        table { border-collapse: collapse; margin: 8px 0; font-size: 13px; } th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
        tr.fail td { background: #fdecea; }
        .v { white-space: nowrap; } code { font-size: 12px; } code.path { overflow-wrap: anywhere; }
        dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 12px; } dt { font-weight: 600; } dd { margin: 0; min-width: 0; }
        dl.fields { margin: 6px 0 0; gap: 0 10px; font-size: 13px; }
        .chart { max-width: 100%; height: auto; } figure { margin: 8px 0; }
        .chart .grid { stroke: #e1e4e8; } .chart .axis { font-size: 11px; fill: #57606a; text-anchor: middle; } .chart .axis.end { text-anchor: end; }
        .chart .axis.title { font-size: 12px; fill: #1d2330; }
        .chart .label { font-size: 12px; text-anchor: end; } .chart .value, .chart .legend { font-size: 12px; }
        .chart .bar.pass { fill: #2da44e; } .chart .bar.fail { fill: #cf222e; } .chart .bar.undecided { fill: #d4a72c; } .chart .bar.none { fill: #0969da; }
        .chart .baseline { fill: #d0d7de; }
        .chart .ci { stroke: #1d2330; stroke-width: 2; fill: none; } .chart .forget { stroke: #a40e26; stroke-width: 3; } .chart .retain { stroke: #116329; stroke-width: 3; }
        .chart .frame { fill: none; stroke: #57606a; } .chart .threshold { stroke: #57606a; stroke-width: 1.5; stroke-dasharray: 5 3; fill: none; }
        .chart .point.pass { fill: #2da44e; } .chart .point.fail { fill: #cf222e; } .chart .point.tried { fill: #fff; stroke: #8250df; stroke-width: 1.5; }
        .multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 8px 16px; }
        figure.wordings figcaption { font-weight: 600; }
        figure.recalled img { image-rendering: pixelated; border: 1px solid #d0d7de; margin: 2px; background: #fff; }
        li.error code { color: #b42318; } li.warning code { color: #9a6700; } ul.diagnostics code { overflow-wrap: anywhere; }
        @media (max-width: 640px) {
          header, main { padding-left: 12px; padding-right: 12px; }
          dl { grid-template-columns: minmax(0, 1fr); } dd { margin-bottom: 6px; }
        }
        """;
}
