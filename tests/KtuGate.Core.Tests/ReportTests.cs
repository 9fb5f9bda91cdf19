using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Json.Schema;
using KtuGate.Diagnostics;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>Every rendering of the report, checked by the tools its readers use.</summary>
public sealed class ReportTests
{
    private static readonly DateTimeOffset s_fixedTime = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static string Data(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Data", .. parts]);

    // A fixed checkout folder keeps the SARIF snapshot the same on every machine.
    private static readonly SourceRoots s_fixedRoots = new("/repo/samples/FashionGate", "/repo");

    private static GateReport FixedReport() => ReportJson.Deserialize(File.ReadAllBytes(Data("reports", "fixed-report.json")));

    private static GateResult RunSample(string reportDir, string? policy = null, string? signingKeyPem = null, string? baseDirectory = null)
        => Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [policy ?? TestPaths.SamplePolicy], reportDir)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = baseDirectory ?? TestPaths.Sample(),
            Timestamp = s_fixedTime,
            SigningKeyPem = signingKeyPem,
        });

    [Fact]
    public void Every_run_writes_all_renderings_and_the_statement()
    {
        using var temp = new TempFolder();
        var result = RunSample(temp.Path);

        Assert.Equal(
            ["ktu-report.html", "ktu-report.intoto.json", "ktu-report.json", "ktu-report.junit.xml", "ktu-report.md", "ktu-report.sarif"],
            Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(6, result.Written.Count);
        Assert.All(result.Written, w => Assert.Equal(TestPaths.Sha256(Path.Combine(temp.Path, w.Path)), w.Sha256));
    }

    [Fact]
    public void Json_report_validates_against_its_published_schema()
    {
        using var temp = new TempFolder();
        RunSample(temp.Path);
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "ktu-report.schema.json")));

        foreach (var json in new[] { File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")), File.ReadAllText(Data("reports", "fixed-report.json")) })
        {
            var results = schema.Evaluate(JsonNode.Parse(json), new EvaluationOptions { OutputFormat = OutputFormat.List });
            Assert.True(results.IsValid, string.Join("\n", results.Details.Where(d => d.HasErrors).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
        }

        // The schema is strict: an unknown field is caught.
        var tampered = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")))!;
        tampered["verdictt"] = "pass";
        Assert.False(schema.Evaluate(tampered).IsValid);
    }

    [Fact]
    public void Sarif_passes_the_sarif_multitool_with_github_rules()
    {
        using var temp = new TempFolder();
        RunSample(temp.Path);
        var sarif = Path.Combine(temp.Path, "ktu-report.sarif");
        var output = Path.Combine(temp.Path, "validation.sarif");

        var (exit, text) = ExternalTools.Run(ExternalTools.SarifMultitool, "validate", "--rule-kind", "Sarif;Gh", "-o", output, sarif);

        Assert.True(exit == 0, text);
        var findings = JsonNode.Parse(File.ReadAllText(output))!["runs"]![0]!["results"]?.AsArray() ?? [];
        Assert.True(findings.Count == 0, "Multitool findings:\n" + string.Join("\n", findings.Select(f => f!.ToJsonString())));

        // And it says what SARIF consumers need: the violated clause, located, with its rule.
        var log = JsonNode.Parse(File.ReadAllText(sarif))!;
        var run = log["runs"]![0]!;
        Assert.Equal("KtuGate", (string?)run["tool"]!["driver"]!["name"]);
        var result = Assert.Single(run["results"]!.AsArray(), r => (string?)r!["ruleId"] == "KTU3001")!;
        var location = result["locations"]![0]!["physicalLocation"]!;
        Assert.Equal("samples/FashionGate/policies/retire-sneaker.ktu.json", (string?)location["artifactLocation"]!["uri"]);
        Assert.Equal(6, (int)location["region"]!["startLine"]!);
        Assert.Equal("error", (string?)result["level"]);
        Assert.Contains(run["tool"]!["driver"]!["rules"]!.AsArray(), r => (string?)r!["id"] == "KTU3001" && ((string?)r["help"]!["text"])!.Length > 20);
        Assert.All(run["tool"]!["driver"]!["rules"]!.AsArray(), r => Assert.Equal(DiagnosticHelp.Link((string)r!["id"]!).AbsoluteUri, (string?)r["helpUri"]));
    }

    [Fact]
    public void Sarif_from_a_project_in_a_subfolder_of_a_repository_resolves_to_the_policy_line()
    {
        using var temp = new TempFolder();
        var (init, output) = ExternalTools.Run("git", "init", "-q", temp.Path);
        Assert.True(init == 0, output);
        var project = temp.CopySampleProject();
        RunSample(Path.Combine(temp.Path, "out"), Path.Combine(project, "policies", "retire-sneaker.ktu.json"), baseDirectory: project);

        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "out", "ktu-report.sarif")))!["runs"]![0]!;
        var baseUri = new Uri((string)run["originalUriBaseIds"]!["REPOROOT"]!["uri"]!);
        Assert.Equal(new Uri(temp.Path + "/").AbsoluteUri, baseUri.AbsoluteUri);
        var result = Assert.Single(run["results"]!.AsArray(), r => (string?)r!["ruleId"] == "KTU3001")!;
        var location = result["locations"]![0]!["physicalLocation"]!;
        Assert.Equal("REPOROOT", (string?)location["artifactLocation"]!["uriBaseId"]);
        Assert.Equal("project/policies/retire-sneaker.ktu.json", (string?)location["artifactLocation"]!["uri"]);

        // Resolved as a SARIF viewer does, the URI names the policy, and the line is the violated clause.
        var file = new Uri(baseUri, (string)location["artifactLocation"]!["uri"]!).LocalPath;
        var line = File.ReadAllLines(file)[(int)location["region"]!["startLine"]! - 1];
        Assert.Contains("\"concept\": \"sneaker\", \"level\": \"fine\", \"maxAccuracy\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Source_roots_fall_back_to_the_project_folder_outside_a_repository()
    {
        using var temp = new TempFolder();
        var project = Directory.CreateDirectory(Path.Combine(temp.Path, "a", "b")).FullName;
        Directory.CreateDirectory(Path.Combine(temp.Path, "a", ".git"));
        Assert.Equal(Path.Combine(temp.Path, "a"), SourceRoots.Find(project).Repository);
        Assert.Equal("b/policies/p.ktu.json", SourceRoots.Find(project).InRepository("policies/p.ktu.json"));
        Assert.Null(SourceRoots.Find(project).InRepository("../../elsewhere.ktu.json"));

        // /tmp holds no repository: without one (and outside a CI workspace) the project folder is the root.
        var alone = Directory.CreateDirectory(Path.Combine(temp.Path, "alone")).FullName;
        Assert.Equal(alone, SourceRoots.Find(alone).Repository);
    }

    [Fact]
    public void Sarif_fingerprints_are_stable_when_only_numbers_change()
    {
        var report = FixedReport();
        var moved = report with
        {
            Diagnostics = report.Diagnostics.Select(d => d with { Message = d.Message.Replace("0.987", "0.912", StringComparison.Ordinal) }).ToList(),
        };
        static string Fingerprint(GateReport r) => (string)JsonNode.Parse(SarifRenderer.Render(r, s_fixedRoots))!["runs"]![0]!["results"]![0]!["partialFingerprints"]!["ktuDiagnostic/v1"]!;
        Assert.Equal(Fingerprint(report), Fingerprint(moved));
    }

    [Fact]
    public void Junit_xml_parses_back_to_one_test_case_per_clause()
    {
        var xml = XDocument.Parse(Encoding.UTF8.GetString(JUnitRenderer.Render(FixedReport())));
        var cases = xml.Descendants("testcase").ToList();
        Assert.Equal(6, cases.Count);
        Assert.Equal("6", (string?)xml.Root!.Attribute("tests"));
        Assert.Equal("1", (string?)xml.Root.Attribute("failures"));
        var failure = Assert.Single(xml.Descendants("failure"));
        Assert.Equal("KTU3001", (string?)failure.Attribute("type"));
        Assert.Equal("forget sneaker (fine)", (string?)failure.Parent!.Attribute("name"));
        Assert.Equal("policies/retire-sneaker.ktu.json", (string?)failure.Parent.Attribute("file"));
        Assert.Contains("'sneaker' is still known", (string?)failure.Attribute("message"), StringComparison.Ordinal);
    }

    [Fact]
    public void Junit_has_metric_thresholds_times_and_undecided_thresholds_as_errors_never_skipped()
    {
        var report = FixedReport();
        var model = report.Models[0];
        var at = new ReportLocation("policies/retire-sneaker.ktu.json", 20, 3);
        var undecided = model.Clauses[1] with { Passed = false, Status = "not-checked", Codes = ["KTU3004"] };
        var metrics = new PolicyMetricsReport("retire-sneaker", null, null, null, null, null, null, 0.99, 0.9, 0.94, new MetricThresholdsInfo(null, null, 0.97, null, null, at), false);
        var judged = report with
        {
            Models = [model with { Clauses = [model.Clauses[0], undecided, .. model.Clauses.Skip(2)], Metrics = [metrics] }],
            Diagnostics = [.. report.Diagnostics, new ReportDiagnostic("KTU3005", "error", "'retire-sneaker': Q-U 0.94 is below the required 0.97", at.File, at.Line, at.Column),
                new ReportDiagnostic("KTU3004", "error", "'sneaker': maxDrop is measured against a baseline model, and none was given", undecided.Location.File, undecided.Location.Line, undecided.Location.Column)],
        };

        var xml = XDocument.Parse(Encoding.UTF8.GetString(JUnitRenderer.Render(judged)));

        Assert.Empty(xml.Descendants("skipped"));
        Assert.All(xml.Descendants("testcase").Concat(xml.Descendants("testsuite")), e => Assert.Equal("0", (string?)e.Attribute("time")));
        Assert.Equal(("7", "2", "1"), ((string?)xml.Root!.Attribute("tests"), (string?)xml.Root.Attribute("failures"), (string?)xml.Root.Attribute("errors")));
        var metricCase = Assert.Single(xml.Descendants("testcase"), c => (string?)c.Attribute("name") == "metrics");
        Assert.Equal("Q-U >= 0.97", (string?)metricCase.Descendants("property").Single(p => (string?)p.Attribute("name") == "threshold").Attribute("value"));
        Assert.Equal("KTU3005", (string?)metricCase.Element("failure")!.Attribute("type"));
        Assert.Equal(("policies/retire-sneaker.ktu.json", "20"), ((string?)metricCase.Attribute("file"), (string?)metricCase.Attribute("line")));
        var notChecked = Assert.Single(xml.Descendants("testcase"), c => c.Element("error") is not null);
        Assert.Equal("KTU3004", (string?)notChecked.Element("error")!.Attribute("type"));
        Assert.Equal("not-checked", (string?)notChecked.Descendants("property").Single(p => (string?)p.Attribute("name") == "status").Attribute("value"));
    }

    [Fact]
    public void Markdown_has_no_relative_links_which_a_job_summary_cannot_resolve()
    {
        var md = Encoding.UTF8.GetString(MarkdownRenderer.Render(FixedReport()));
        Assert.DoesNotMatch(@"\]\((?!https?://)", md);
        Assert.Contains("`ktu-report.html` (HTML)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_leads_with_the_verdict()
    {
        var md = Encoding.UTF8.GetString(MarkdownRenderer.Render(FixedReport()));
        Assert.StartsWith("## ❌ KtuGate FAIL: 5 of 6 clauses hold\n", md, StringComparison.Ordinal);
        Assert.Contains("| **FAIL** KTU3001 | retire-sneaker | forget sneaker (fine) | 0.987 (95% CI 0.966-0.995, n=300) | - | upper bound &lt;= 0.05 |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Markdown_says_the_next_step_and_what_remediation_did()
    {
        var report = FixedReport();
        var md = Encoding.UTF8.GetString(MarkdownRenderer.Render(report));
        Assert.Contains("**Next step:** the failing forget clauses' policies allow remediation (retire-sneaker): build with -p:KtuGateMode=Remediate or run ktu unlearn", md, StringComparison.Ordinal);
        Assert.DoesNotContain("**Remediation:**", md, StringComparison.Ordinal);

        var model = report.Models[0];
        var site = new EditSiteInfo("/fc2/Gemm", "/relu/Relu_output_0", "fc2.weight", "fc2.bias", 128, 10);
        var tried = new[]
        {
            new RemediationAttemptInfo("nhl-kl", "lr=0.001 kl=4 steps=150", false, 1, 0.91, ["KTU3001 'sneaker' is still known"]),
            new RemediationAttemptInfo("nhl-kl", "lr=0.003 kl=1 steps=40", true, 0, 0.994, []) { Probed = true },
        };
        var remediated = report with
        {
            Verdict = "pass",
            Mode = "remediate",
            Models = [model with { Remediation = new RemediationReport("nhl-kl", site, model.Artifact, new FileDigest("gated/fashion-classifier.onnx", new string('a', 64)), 300, 1200, tried) }],
        };
        md = Encoding.UTF8.GetString(MarkdownRenderer.Render(remediated));
        Assert.Contains("**Remediation:** remediated with nhl-kl at /fc2/Gemm (lr=0.003 kl=1 steps=40, after 2 settings), Q-U 0.994 against the original; wrote gated/fashion-classifier.onnx.", md, StringComparison.Ordinal);
        Assert.Contains("**Next step:** ship the remediated artifact named above (not the original) with this report", md, StringComparison.Ordinal);

        var failed = remediated with
        {
            Verdict = "fail",
            Models = [model with { Remediation = new RemediationReport("nhl-kl", site, model.Artifact, null, 300, 1200, [tried[0]]) }],
        };
        md = Encoding.UTF8.GetString(MarkdownRenderer.Render(failed));
        Assert.Contains("**Remediation:** remediation with nhl-kl at /fc2/Gemm tried 1 setting, none met every threshold (best Q-U 0.91 against the original); nothing written.", md, StringComparison.Ordinal);
        Assert.Contains("**Next step:** no remediation setting met every threshold (KTU4001)", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_report_renders_in_headless_chromium_with_the_verdict_and_every_concept()
    {
        using var temp = new TempFolder();
        RunSample(temp.Path);
        var html = Path.Combine(temp.Path, "ktu-report.html");
        var screenshots = Path.Combine(TestPaths.RepoRoot, "artifacts", "test-results");
        Directory.CreateDirectory(screenshots);
        string[] flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", $"--user-data-dir={Path.Combine(temp.Path, "profile")}"];

        var (exit, dom) = ExternalTools.Run(ExternalTools.Chromium, [.. flags, "--dump-dom", new Uri(html).AbsoluteUri]);
        Assert.True(exit == 0, dom);
        var shot = Path.Combine(screenshots, "ktu-report.png");
        File.Delete(shot);
        var (shotExit, shotOutput) = ExternalTools.Run(ExternalTools.Chromium, [.. flags, $"--screenshot={shot}", "--window-size=1200,2400", new Uri(html).AbsoluteUri]);
        Assert.True(shotExit == 0 && File.Exists(shot) && new FileInfo(shot).Length > 10_000, shotOutput);

        var text = Regex.Replace(dom, "<[^>]+>", " ");
        Assert.Contains("FAIL: 5 of 6 clauses hold", text, StringComparison.Ordinal);
        foreach (var concept in new[] { "sneaker", "sandal", "ankle-boot", "t-shirt", "bag" })
        {
            Assert.Contains(concept, text, StringComparison.Ordinal);
        }

        // Self-contained: no script, and nothing loaded from elsewhere; the thumbnails are inline.
        var source = File.ReadAllText(html);
        Assert.DoesNotContain("<script", source, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(@"(src|href)=""(?!data:|#|ktu-report)", source);
        Assert.Equal(4, Regex.Matches(source, "<img src=\"data:image/png;base64,").Count);
        Assert.Contains("<svg", source, StringComparison.Ordinal);
    }

    public static TheoryData<string> Renderings => ["ktu-report.md", "ktu-report.html", "ktu-report.sarif", "ktu-report.junit.xml"];

    [Theory]
    [MemberData(nameof(Renderings))]
    public void Rendering_of_a_fixed_report_matches_its_committed_snapshot(string name)
    {
        var report = FixedReport();
        var actual = name switch
        {
            "ktu-report.md" => MarkdownRenderer.Render(report),
            "ktu-report.html" => HtmlRenderer.Render(report, path => File.ReadAllBytes(TestPaths.Sample(path.Split('/')))),
            "ktu-report.sarif" => SarifRenderer.Render(report, s_fixedRoots),
            _ => JUnitRenderer.Render(report),
        };

        // KTU_UPDATE_SNAPSHOTS=1 rewrites the expected files (review the diff before committing).
        var expectedPath = Path.Combine(TestPaths.RepoRoot, "tests", "KtuGate.Core.Tests", "Data", "reports", "expected", name);
        var expected = File.ReadAllText(expectedPath);
        if (Environment.GetEnvironmentVariable("KTU_UPDATE_SNAPSHOTS") == "1" && expected != Encoding.UTF8.GetString(actual))
        {
            // Rewriting is for review: the run that rewrites a snapshot still fails, so it can never pass by comparing a file with itself.
            File.WriteAllBytes(expectedPath, actual);
            Assert.Fail($"Snapshot {name} rewritten; review the diff and run the tests again.");
        }

        Assert.Equal(expected, Encoding.UTF8.GetString(actual));
    }

    [Fact]
    public void Two_runs_write_byte_identical_renderings_apart_from_the_timestamp()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        RunSample(a.Path);
        RunSample(b.Path);
        foreach (var file in Directory.GetFiles(a.Path))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(b.Path, Path.GetFileName(file))));
        }
    }

    [Fact]
    public void Hostile_strings_in_a_policy_render_inertly_everywhere()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", "exemplars/bag", 20);
        // Markup, table breakers, terminal escapes, a forged log line, and characters that reorder or hide text.
        const string hostile = "<script>alert(1)</script> ]]> \u0001\u001b[31m | col | `tick` **bold** [link](http://x) <img src=x onerror=alert(2)>"
            + " \u0007\u0000\r\nKTU0000 forged line \u202Egnp.exe \u2066isolate\u2069 zero\u200Dwidth \U000E0041tag \u0085next \u2028sep";
        var escaped = JsonSerializer.Serialize(hostile);
        var policy = temp.File("hostile.ktu.json", $$"""
            {
              "ktuPolicy": 1,
              "id": {{escaped}},
              "title": {{escaped}},
              "request": { "requestedBy": {{escaped}}, "reason": {{escaped}}, "reference": {{escaped}} },
              "concepts": {
                "bags": {},
                {{JsonSerializer.Serialize("bag " + hostile)}}: { "parent": "bags", "aliases": ["bag"], "exemplars": ["exemplars/bag/*.png"] }
              },
              "forget": [ { "concept": {{JsonSerializer.Serialize("bag " + hostile)}}, "maxAccuracy": 0.05 } ]
            }
            """);

        var result = RunSample(Path.Combine(temp.Path, "out"), policy, baseDirectory: temp.Path);
        Assert.Equal(GateOutcome.Violated, result.Outcome);
        string Read(string name) => File.ReadAllText(Path.Combine(temp.Path, "out", name));

        var html = Read("ktu-report.html");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img src=x", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\u0001", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);

        var md = Read("ktu-report.md");
        Assert.DoesNotContain("<script", md, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\u001b", md, StringComparison.Ordinal);
        foreach (var row in md.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)))
        {
            // Every row has the header's six cells: escaped pipes do not split cells.
            Assert.Equal(7, Regex.Matches(row, @"(?<!\\)\|").Count);
        }

        var junit = XDocument.Parse(Read("ktu-report.junit.xml"));
        Assert.Contains(junit.Descendants("testcase"), t => ((string?)t.Attribute("classname"))!.Contains("]]>", StringComparison.Ordinal));

        var sarif = JsonNode.Parse(Read("ktu-report.sarif"))!;
        Assert.Contains("<script>", (string?)sarif["runs"]![0]!["results"]![0]!["message"]!["text"], StringComparison.Ordinal);
        Assert.DoesNotContain("\u0001", Read("ktu-report.sarif"), StringComparison.Ordinal);

        // Every rendering shows each such character as a visible escape, never raw, so a reader sees something was there.
        string[] unsafeCharacters = ["\u0000", "\u0001", "\u0007", "\u001b", "\r", "\u0085", "\u2028", "\u202E", "\u2066", "\u2069", "\u200D", "\U000E0041"];
        foreach (var name in new[] { "ktu-report.html", "ktu-report.md", "ktu-report.junit.xml", "ktu-report.sarif" })
        {
            var text = Read(name);
            Assert.All(unsafeCharacters, c => Assert.False(text.Contains(c, StringComparison.Ordinal), $"{name} holds U+{char.ConvertToUtf32(c, 0):X4} raw"));
            Assert.DoesNotContain("\nKTU0000 forged", text, StringComparison.Ordinal);
            Assert.Contains(name == "ktu-report.md" ? @"\\u202Egnp.exe" : @"\u202Egnp.exe", text, StringComparison.Ordinal);
            Assert.Contains(name == "ktu-report.md" ? @"\\U000E0041tag" : @"\U000E0041tag", text, StringComparison.Ordinal);
        }

        Assert.Contains(@"\u000D\u000AKTU0000 forged line", (string?)sarif["runs"]![0]!["results"]![0]!["message"]!["text"], StringComparison.Ordinal);
        var junitFailure = junit.Descendants("failure").Single();
        Assert.Contains(@"\u202Egnp.exe", (string?)junitFailure.Attribute("message"), StringComparison.Ordinal);

        // The diagnostics the command line and MSBuild print are one line of inert text too.
        var stillKnown = Assert.Single(result.Diagnostics, d => d.Code == "KTU3001");
        Assert.Contains(@"bag <script>", stillKnown.Message, StringComparison.Ordinal);
        Assert.Contains(@"\u001B[31m", stillKnown.Message, StringComparison.Ordinal);
        Assert.All(unsafeCharacters.Append("\n"), c => Assert.DoesNotContain(c, stillKnown.Message, StringComparison.Ordinal));

        // The JSON report stays faithful: what the policy said, exactly (its serializer escapes what JSON must).
        var json = JsonNode.Parse(Read("ktu-report.json"))!;
        Assert.Equal(hostile, (string?)json["policies"]![0]!["title"]);
        Assert.Equal(stillKnown.Message, (string?)json["diagnostics"]!.AsArray().Single(d => (string?)d!["code"] == "KTU3001")!["message"]);
    }

    [Fact]
    public void Diagnostic_messages_and_file_names_are_made_printable_once_and_for_all()
    {
        var d = new KtuGate.Diagnostics.Diagnostic("KTU1001", KtuGate.Diagnostics.DiagnosticSeverity.Error, "a\u001b[2Jb\r\nerror KTU0000: forged \u202Etxt.exe\ud800",
            new KtuGate.Diagnostics.SourceLocation("evil\n.ktu.json", 3, 4));

        Assert.Equal(@"a\u001B[2Jb\u000D\u000Aerror KTU0000: forged \u202Etxt.exe\uD800", d.Message);
        Assert.Equal(@"evil\u000A.ktu.json(3,4): error KTU1001: " + d.Message, d.ToString());

        // Already printable text is left as it is, so sanitising twice (the task re-reads the engine's report) changes nothing.
        Assert.Equal(d.Message, (d with { Message = d.Message }).Message);
        Assert.Equal(@"x\u0007", (d with { Message = "x\u0007" }).Message);
        Assert.Equal("naïve 😀 → ≤ tab-free", new KtuGate.Diagnostics.Diagnostic("KTU1001", KtuGate.Diagnostics.DiagnosticSeverity.Error, "naïve 😀 → ≤ tab-free", null).Message);
    }
}
