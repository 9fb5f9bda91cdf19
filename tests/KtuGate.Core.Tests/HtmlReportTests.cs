using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>Three real gate runs whose HTML reports the tests below read: a failing check, a remediation, and a remediated dual encoder.</summary>
public sealed class HtmlReportRuns : IDisposable
{
    private readonly TempFolder _temp = new();

    /// <summary>Runs the three gates once for the whole class.</summary>
    public HtmlReportRuns()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Failing = Run("failing", TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, TestPaths.Sample(), GateMode.Verify, null);
        Remediated = Run("remediated", TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, TestPaths.Sample(), GateMode.Remediate, key.ExportPkcs8PrivateKeyPem());
        var clip = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip");
        DualEncoder = Run("dual-encoder", Path.Combine(clip, "artifacts", "fashion-clip.onnx"), Path.Combine(clip, "artifacts", "fashion-clip.ktu.json"),
            Path.Combine(clip, "policies", "retire-shirt.ktu.json"), clip, GateMode.Remediate, null);
    }

    /// <summary>The FashionGate sample checked as it is: the sneaker clause fails.</summary>
    public (GateResult Result, string Html) Failing { get; }

    /// <summary>The FashionGate sample remediated, with a signed statement.</summary>
    public (GateResult Result, string Html) Remediated { get; }

    /// <summary>FashionClip remediated to forget the shirt: prompt wordings, general accuracy and a Q-U floor.</summary>
    public (GateResult Result, string Html) DualEncoder { get; }

    /// <summary>A folder for the tests' own files.</summary>
    public string Temp => _temp.Path;

    public void Dispose() => _temp.Dispose();

    private (GateResult, string) Run(string name, string artifact, string manifest, string policy, string baseDirectory, GateMode mode, string? key)
    {
        var output = Path.Combine(_temp.Path, name);
        var result = Gate.Run(new GateRequest([new GateModelInput(artifact, manifest)], [policy], Path.Combine(output, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = mode,
            OutputDirectory = output,
            BaseDirectory = baseDirectory,
            SigningKeyPem = key,
            Timestamp = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero),
        });
        return (result, Path.Combine(output, "report", "ktu-report.html"));
    }
}

/// <summary>The HTML report as a reader meets it: decision first, charts that show pass and fail, and a page that fits a narrow screen, checked in Chromium.</summary>
public sealed class HtmlReportTests(HtmlReportRuns runs) : IClassFixture<HtmlReportRuns>
{
    private const int DesktopWidth = 1280, NarrowWidth = 500, ShotHeight = 1600;

    [Fact]
    public void First_screen_says_the_decision_what_failed_whether_remediation_is_allowed_and_the_next_step()
    {
        Assert.Equal(GateOutcome.Violated, runs.Failing.Result.Outcome);
        var html = File.ReadAllText(runs.Failing.Html);
        var decision = Section(html, "decision");

        // The decision comes before the request and the measurements.
        Assert.True(html.IndexOf("id=\"decision\"", StringComparison.Ordinal) < html.IndexOf("<h2>The request</h2>", StringComparison.Ordinal));
        Assert.Contains("Next step", decision, StringComparison.Ordinal);
        Assert.Contains("build with -p:KtuGateMode=Remediate or run ktu unlearn", decision, StringComparison.Ordinal);
        Assert.Contains("FAIL</span> retire-sneaker: <strong>forget sneaker (fine)</strong> measured 0.987 (95% CI 0.966-0.995, n=300), threshold upper bound &lt;= 0.05 KTU3001", Text(decision), StringComparison.Ordinal);
        Assert.Contains("Remediation allowed</dt><dd>retire-sneaker: yes", decision, StringComparison.Ordinal);
        Assert.Contains("not signed", decision, StringComparison.Ordinal);
        Assert.Contains("<code>ktu verify ktu-report.json</code>", decision, StringComparison.Ordinal);
    }

    [Fact]
    public void First_screen_of_a_remediated_run_says_what_remediation_did_and_that_the_statement_is_signed()
    {
        Assert.Equal(GateOutcome.Pass, runs.Remediated.Result.Outcome);
        var remediation = runs.Remediated.Result.Report.Models[0].Remediation!;
        var decision = Section(File.ReadAllText(runs.Remediated.Html), "decision");

        Assert.Contains("ship the remediated artifact", decision, StringComparison.Ordinal);
        Assert.Contains("none: every clause holds", decision, StringComparison.Ordinal);
        Assert.Contains($"<dt>Method</dt><dd>{remediation.Method}</dd>", decision, StringComparison.Ordinal);
        Assert.Contains("<dt>Site</dt><dd><code>/fc2/Gemm</code>", decision, StringComparison.Ordinal);
        Assert.Contains($"<dt>Setting</dt><dd><code>{remediation.Tried[^1].Settings}</code>", decision, StringComparison.Ordinal);
        Assert.Matches(@"<dt>Q, U, Q-U</dt><dd>Q \d\.\d{3,}, U \d\.\d{3,}, Q-U \d\.\d{3,} against the original", Text(decision));
        Assert.Contains("signed: <code>ktu-report.intoto.dsse.json</code>", decision, StringComparison.Ordinal);
        Assert.Contains("ktu verify ktu-report.json --public-key", decision, StringComparison.Ordinal);
    }

    [Fact]
    public void Bars_are_coloured_by_their_clauses_and_every_bar_has_a_whisker()
    {
        var html = File.ReadAllText(runs.Failing.Html);
        var chart = Regex.Match(html, "<svg class=\"chart\" role=\"img\" aria-label=\"Accuracy per concept\".*?</svg>", RegexOptions.Singleline).Value;

        Assert.Matches(@"class=""bar fail""><title>sneaker \(fine\)", chart);
        Assert.Matches(@"class=""bar pass""><title>sneaker \(coarse\)", chart);
        var bars = Regex.Matches(chart, "class=\"bar ").Count;
        Assert.Equal(10, bars);
        Assert.Equal(bars, Regex.Matches(chart, "class=\"ci\"").Count);
        Assert.Contains(">accuracy (share of exemplars)</text>", chart, StringComparison.Ordinal);
    }

    [Fact]
    public void Quality_utility_chart_has_axes_the_policy_thresholds_and_the_settings_tried()
    {
        var html = File.ReadAllText(runs.DualEncoder.Html);
        var chart = Regex.Match(html, "<svg class=\"chart qu\".*?</svg>", RegexOptions.Singleline).Value;

        Assert.Contains(">quality Q (forgotten share)</text>", chart, StringComparison.Ordinal);
        Assert.Contains(">utility U (kept share)</text>", chart, StringComparison.Ordinal);
        Assert.Equal(12, Regex.Matches(chart, "class=\"axis\"|class=\"axis end\"").Count);
        Assert.Matches(@"<polyline points=""[\d., ]+"" class=""threshold""><title>Q-U &gt;= 0\.99</title>", chart);
        Assert.Contains("class=\"point pass\"><title>clip-retire-shirt: Q ", chart, StringComparison.Ordinal);
        Assert.Equal(runs.DualEncoder.Result.Report.Models[0].Remediation!.Tried.Count(t => t.Quality is not null), Regex.Matches(chart, "<circle[^>]*class=\"point tried\"><title>").Count);
    }

    [Fact]
    public void Prompt_wordings_are_one_chart_per_concept_not_a_row_per_wording()
    {
        var html = File.ReadAllText(runs.DualEncoder.Html);
        var model = runs.DualEncoder.Result.Report.Models[0];

        Assert.DoesNotContain("<th>Wording</th>", html, StringComparison.Ordinal);
        var withWordings = model.Concepts.Where(c => c.Wordings.Count > 0).ToList();
        Assert.NotEmpty(withWordings);
        var figures = Regex.Matches(html, "<figure class=\"wordings\">.*?</figure>", RegexOptions.Singleline).Select(f => f.Value).ToList();
        Assert.Equal(withWordings.Count, figures.Count);
        Assert.Equal(withWordings.Sum(c => c.Wordings.Count), figures.Sum(f => Regex.Matches(f, "class=\"bar ").Count));

        // The forgotten concept's wordings are judged against its allowed accuracy (a tick, and each bar passes or fails); a retained one's are not.
        var shirt = Assert.Single(figures, f => f.Contains("<figcaption>shirt (", StringComparison.Ordinal));
        Assert.Contains("class=\"forget\"", shirt, StringComparison.Ordinal);
        Assert.DoesNotContain("class=\"bar none\"", shirt, StringComparison.Ordinal);
        var coat = Assert.Single(figures, f => f.Contains("<figcaption>coat (", StringComparison.Ordinal));
        Assert.DoesNotMatch("class=\"bar (pass|fail)\"", coat);
    }

    public static TheoryData<string, int> Screens => new()
    {
        { "failing", DesktopWidth }, { "failing", NarrowWidth },
        { "remediated", DesktopWidth }, { "remediated", NarrowWidth },
        { "dual-encoder", DesktopWidth }, { "dual-encoder", NarrowWidth },
    };

    [Theory]
    [MemberData(nameof(Screens))]
    public void Screenshot_in_chromium_is_the_window_size_and_not_blank(string run, int width)
    {
        var html = Html(run);
        var shots = Directory.CreateDirectory(Path.Combine(TestPaths.RepoRoot, "artifacts", "test-results", "html-report")).FullName;
        var shot = Path.Combine(shots, $"{run}-{width}.png");
        File.Delete(shot);

        var (exit, output) = ExternalTools.Run(ExternalTools.Chromium, [.. Flags(run + width), $"--screenshot={shot}", $"--window-size={width},{ShotHeight}", new Uri(html).AbsoluteUri]);

        Assert.True(exit == 0 && File.Exists(shot), output);

        // The page itself is kept beside its screenshots (it is self-contained: thumbnails are inline).
        File.Copy(html, Path.Combine(shots, run + ".html"), overwrite: true);
        var (pngWidth, pngHeight, distinct) = Png(File.ReadAllBytes(shot));
        Assert.Equal((width, ShotHeight), (pngWidth, pngHeight));

        // A blank page inflates to a handful of byte values; a rendered report, with text, bars and colours, to far more.
        Assert.True(distinct > 100, $"{shot} looks blank: {distinct} distinct byte values");
    }

    [Theory]
    [InlineData("failing")]
    [InlineData("remediated")]
    [InlineData("dual-encoder")]
    public void At_a_narrow_width_the_page_does_not_overflow_and_no_value_is_broken_across_lines(string run)
    {
        // The report forbids scripts; a copy with the measuring script (and without that policy) is opened instead.
        var source = File.ReadAllText(Html(run));
        var measured = Path.Combine(runs.Temp, $"{run}-measured.html");
        File.WriteAllText(measured, Regex.Replace(source, "<meta http-equiv=\"Content-Security-Policy\"[^>]*>", string.Empty)
            .Replace("</body>", """
                <script>
                const values = [...document.querySelectorAll('.v')];
                const broken = values.filter(e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size > 1).map(e => e.textContent);
                document.body.setAttribute('data-measure', JSON.stringify({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth, values: values.length, broken }));
                </script></body>
                """, StringComparison.Ordinal));

        var (exit, dom) = ExternalTools.Run(ExternalTools.Chromium, [.. Flags(run + "-narrow"), $"--window-size={NarrowWidth},{ShotHeight}", "--dump-dom", new Uri(measured).AbsoluteUri]);

        Assert.True(exit == 0, dom);
        var json = System.Net.WebUtility.HtmlDecode(Regex.Match(dom, "data-measure=\"([^\"]*)\"").Groups[1].Value);
        var m = System.Text.Json.JsonDocument.Parse(json).RootElement;
        Assert.Equal(NarrowWidth, m.GetProperty("inner").GetInt32());
        Assert.True(m.GetProperty("scroll").GetInt32() <= NarrowWidth, $"the page is {m.GetProperty("scroll")} px wide at {NarrowWidth}");
        Assert.True(m.GetProperty("values").GetInt32() > 10, json);
        Assert.Empty(m.GetProperty("broken").EnumerateArray());
    }

    private string Html(string run) => run switch
    {
        "failing" => runs.Failing.Html,
        "remediated" => runs.Remediated.Html,
        _ => runs.DualEncoder.Html,
    };

    private string[] Flags(string profile)
        => ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--hide-scrollbars", $"--user-data-dir={Path.Combine(runs.Temp, "profile-" + profile)}"];

    /// <summary>The markup without the spans that keep values on one line.</summary>
    private static string Text(string html) => Regex.Replace(html, "<span class=\"v\">([^<]*)</span>", "$1");

    private static string Section(string html, string id)
        => Regex.Match(html, $"<section id=\"{id}\">.*?</section>", RegexOptions.Singleline).Value;

    /// <summary>A PNG's size from its header, and how many distinct byte values its inflated image data holds.</summary>
    private static (int Width, int Height, int Distinct) Png(byte[] png)
    {
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        var width = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16));
        var height = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20));
        using var data = new MemoryStream();
        for (var at = 8; at < png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            if (png.AsSpan(at + 4, 4).SequenceEqual("IDAT"u8))
            {
                data.Write(png, at + 8, length);
            }

            at += 12 + length;
        }

        data.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(data, CompressionMode.Decompress))
        {
            z.CopyTo(inflated);
        }

        return (width, height, inflated.ToArray().Distinct().Count());
    }
}
