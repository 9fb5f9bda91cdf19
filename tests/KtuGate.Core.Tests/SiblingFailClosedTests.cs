using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>Fail closed, second round: duplicate keys in reports and statements, inert JSON reports, and exemplars that are not regular files.</summary>
public sealed class SiblingFailClosedTests
{
    /// <summary>How long a call that must not block may take before the test calls it a hang (a guard, not a timing assertion).</summary>
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);

    [DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int MkFifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    private static string Fifo(TempFolder temp, string relative)
    {
        var path = Path.Combine(temp.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        Assert.Equal(0, MkFifo(path, Convert.ToUInt32("600", 8)));
        return path;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [Fact]
    public void Report_with_a_duplicated_verdict_and_a_matching_statement_does_not_verify_as_pass()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = ProvenanceTests.Gate(root);
        var original = File.ReadAllBytes(report);
        var text = Encoding.UTF8.GetString(original);
        Assert.Contains("\"verdict\": \"fail\",", text, StringComparison.Ordinal);

        // The failing verdict stays for a reader that keeps the first; a last-one-wins reader sees "pass". The statement is made to match.
        var forged = Encoding.UTF8.GetBytes(text.Replace("\"verdict\": \"fail\",", "\"verdict\": \"fail\",\n  \"verdict\": \"pass\",", StringComparison.Ordinal));
        File.WriteAllBytes(report, forged);
        var statement = Path.Combine(root, "ktu", Provenance.StatementFileName);
        File.WriteAllText(statement, File.ReadAllText(statement).Replace(Sha256(original), Sha256(forged), StringComparison.Ordinal));

        var check = Provenance.Check(report, root, null, null);

        Assert.NotEqual("pass", check.Verdict);
        Assert.False(check.Intact);
        var unreadable = Assert.Single(check.Diagnostics, d => d.Code == "KTU6006");
        Assert.Contains("verdict", unreadable.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Statement_with_a_duplicated_property_is_unreadable()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = ProvenanceTests.Gate(root);
        var statement = Path.Combine(root, "ktu", Provenance.StatementFileName);
        var text = File.ReadAllText(statement);
        Assert.Contains("\"predicateType\":", text, StringComparison.Ordinal);
        File.WriteAllText(statement, text.Replace("\"predicateType\":", "\"predicateType\": \"x\",\n  \"predicateType\":", StringComparison.Ordinal));

        var check = Provenance.Check(report, root, null, null, integrityOnly: true);

        Assert.False(check.Intact);
        var unreadable = Assert.Single(check.Diagnostics, d => d.Code == "KTU6006");
        Assert.Contains("predicateType", unreadable.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u202E")]
    [InlineData("\u200B")]
    [InlineData("\u2066")]
    [InlineData("\u00AD")]
    [InlineData("\u2028")]
    [InlineData("\u0085")]
    [InlineData("\uFEFF")]
    [InlineData("\U000E0041")]
    public void Json_report_escapes_format_and_control_characters_and_keeps_the_value(string hidden)
    {
        var fixedReport = ReportJson.Deserialize(File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests", "KtuGate.Core.Tests", "Data", "reports", "fixed-report.json")));
        var name = $"shoe{hidden}eoh\u001B[31m";
        var model = fixedReport.Models[0];
        var concept = model.Concepts[0] with { Concept = name, Predicted = new Dictionary<string, int> { [name] = 1 } };
        var report = fixedReport with { Models = [model with { Concepts = [concept, .. model.Concepts.Skip(1)] }] };

        var bytes = ReportJson.Serialize(report);
        var text = Encoding.UTF8.GetString(bytes);

        Assert.DoesNotContain(hidden, text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001B", text, StringComparison.Ordinal);
        Assert.Contains("shoe\\u", text, StringComparison.Ordinal);
        var back = ReportJson.Deserialize(bytes).Models[0].Concepts[0];
        Assert.Equal(name, back.Concept);
        Assert.Equal(name, Assert.Single(back.Predicted).Key);
    }

    [Fact]
    public void Json_report_writes_a_lone_surrogate_as_its_escape_not_a_replacement()
    {
        var fixedReport = ReportJson.Deserialize(File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests", "KtuGate.Core.Tests", "Data", "reports", "fixed-report.json")));
        var name = "half\uD800 and end\uDC00";
        var report = fixedReport with { Tool = fixedReport.Tool with { Name = name } };

        var text = Encoding.UTF8.GetString(ReportJson.Serialize(report));

        Assert.Contains("half\\uD800 and end\\uDC00", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\uFFFD", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifo_and_device_among_exemplars_are_refused_at_the_file_not_read()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "x", 3);
        var fifo = Fifo(temp, "x/zz-pipe.png");
        var files = Directory.GetFiles(Path.Combine(temp.Path, "x")).Order(StringComparer.Ordinal).Append("/dev/zero").ToList();
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        using var model = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;

        // A probe that blocks on the FIFO fails the test with a TimeoutException instead of hanging the run.
        var tally = await Task.Run(() => new ClassifierProbe(model).Probe(files, diagnostics)).WaitAsync(s_hangGuard);

        Assert.Equal(3, tally.N);
        var refused = diagnostics.Items.Where(d => d.Code == "KTU2008").ToList();
        Assert.Equal([fifo, "/dev/zero"], refused.Select(d => d.Location!.File));
        Assert.Contains("FIFO", refused[0].Message, StringComparison.Ordinal);
        Assert.Contains("device", refused[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifo_is_not_digested_but_refused()
    {
        using var temp = new TempFolder();
        var fifo = Fifo(temp, "pipe.png");

        var digest = await Task.Run(() => Record.Exception(() => Digests.OfFile(fifo))).WaitAsync(s_hangGuard);
        var cached = await Task.Run(() => Record.Exception(() => new DigestCache().OfFile(fifo))).WaitAsync(s_hangGuard);

        Assert.IsType<UnreadableFileException>(digest);
        Assert.Contains("FIFO", digest.Message, StringComparison.Ordinal);
        Assert.IsType<UnreadableFileException>(cached);
    }

    [Fact]
    public async Task Fifo_among_a_concepts_exemplars_fails_the_whole_run_with_codes_and_a_report_not_an_internal_error()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var fifo = Fifo(temp, Path.Combine("project", "policies", "exemplars", "sneaker", "zz-pipe.png"));

        // Before, the probe refused the FIFO (KTU2008) but digesting the exemplar set then threw: KTU9001, exit 3, no report.
        var result = await Task.Run(() => KtuGate.Gate.Run(new GateRequest(
            [new GateModelInput(Path.Combine(root, "artifacts", "fashion-classifier.onnx"))],
            [Path.Combine(root, "policies", "retire-sneaker.ktu.json")],
            Path.Combine(root, "ktu"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = root,
        })).WaitAsync(s_hangGuard);

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU2008" && d.Location?.File == fifo);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU2040" && d.Location?.File == fifo);
        Assert.DoesNotContain(result.Diagnostics, d => d.Code == "KTU9001");
        Assert.True(File.Exists(result.ReportPath));
        Assert.Equal("error", ReportJson.Deserialize(File.ReadAllBytes(result.ReportPath!)).Verdict);
    }

    [Fact]
    public void Exemplar_longer_than_the_file_bound_is_refused_from_its_length()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "x", 1);
        var big = temp.File("x/zz-big.png");
        var png = File.ReadAllBytes(Directory.GetFiles(Path.Combine(temp.Path, "x"), "*.png").Order(StringComparer.Ordinal).First());
        using (var stream = new FileStream(big, FileMode.Create))
        {
            // A real PNG followed by a sparse tail: a decoder that read it would succeed, so only the length can refuse it.
            stream.Write(png);
            stream.SetLength(ImageDecoder.MaxFileBytes + 1);
        }

        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        using var model = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;

        var tally = new ClassifierProbe(model).Probe(Directory.GetFiles(Path.Combine(temp.Path, "x")).Order(StringComparer.Ordinal), diagnostics);

        Assert.Equal(1, tally.N);
        var refused = Assert.Single(diagnostics.Items, d => d.Code == "KTU2008");
        Assert.Equal(big, refused.Location!.File);
        Assert.Contains("more than the limit", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_refuses_a_fifo_in_place_of_the_statement_or_the_report_without_blocking()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = ProvenanceTests.Gate(root);
        var statement = Path.Combine(root, "ktu", Provenance.StatementFileName);
        File.Delete(statement);
        Assert.Equal(0, MkFifo(statement, Convert.ToUInt32("600", 8)));

        var check = await Task.Run(() => Provenance.Check(report, root, null, null, integrityOnly: true)).WaitAsync(s_hangGuard);

        Assert.False(check.Intact);
        var missing = Assert.Single(check.Diagnostics, d => d.Code == "KTU6002");
        Assert.Contains("FIFO", missing.Message, StringComparison.Ordinal);

        var fifoReport = Fifo(temp, "other/ktu-report.json");
        var unreadable = await Task.Run(() => Provenance.Check(fifoReport, root, null, null)).WaitAsync(s_hangGuard);
        Assert.Equal("KTU6006", Assert.Single(unreadable.Diagnostics).Code);
        Assert.Null(unreadable.Verdict);
    }
}
