using System.Security.Cryptography;
using System.Text.Json.Nodes;
using KtuGate.Diagnostics;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>Tamper evidence: the statement, the signature, and ktu verify's account of what no longer matches.</summary>
public sealed class ProvenanceTests
{
    /// <summary>Gates the copied sample project (it fails: the sample still knows sneakers) and returns its report's path.</summary>
    internal static string Gate(string root, string? signingKeyPem = null)
    {
        var result = KtuGate.Gate.Run(new GateRequest(
            [new GateModelInput(Path.Combine(root, "artifacts", "fashion-classifier.onnx"))],
            [Path.Combine(root, "policies", "retire-sneaker.ktu.json")],
            Path.Combine(root, "ktu"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = root,
            SigningKeyPem = signingKeyPem,
        });
        Assert.Equal(GateOutcome.Violated, result.Outcome);
        return result.ReportPath!;
    }

    private static string[] Codes(IEnumerable<Diagnostic> diagnostics) => diagnostics.Select(d => d.Code).ToArray();

    /// <summary>What an unsigned report's check found besides the warning that it is unsigned.</summary>
    private static IReadOnlyList<Diagnostic> Mismatches(IEnumerable<Diagnostic> diagnostics) => diagnostics.Where(d => d.Code != "KTU6008").ToList();

    [Fact]
    public void Untouched_report_verifies_and_the_statement_names_artifact_and_report()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);

        var unsigned = Assert.Single(Provenance.Verify(report, root, null, null));
        Assert.Equal(("KTU6008", DiagnosticSeverity.Warning), (unsigned.Code, unsigned.Severity));

        var statement = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "ktu", Provenance.StatementFileName)))!;
        Assert.Equal("https://in-toto.io/Statement/v1", (string?)statement["_type"]);
        var subjects = statement["subject"]!.AsArray().Select(s => ((string?)s!["name"], (string?)s["digest"]!["sha256"])).ToList();
        Assert.Contains(("artifacts/fashion-classifier.onnx", TestPaths.Sha256(TestPaths.SampleModel)), subjects);
        Assert.Contains(("ktu-report.json", TestPaths.Sha256(report)), subjects);
    }

    [Fact]
    public void Edited_report_is_caught()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);
        File.WriteAllText(report, File.ReadAllText(report).Replace("\"verdict\": \"fail\"", "\"verdict\": \"pass\"", StringComparison.Ordinal));

        var d = Assert.Single(Mismatches(Provenance.Verify(report, root, null, null)));
        Assert.Equal("KTU6003", d.Code);
        Assert.Contains("ktu-report.json", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Swapped_artifact_is_caught_and_named()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);
        var other = temp.File("other.onnx");
        File.WriteAllBytes(other, [.. File.ReadAllBytes(TestPaths.SampleModel), 0]);

        var viaOption = Assert.Single(Mismatches(Provenance.Verify(report, root, other, null)));
        Assert.Equal("KTU6001", viaOption.Code);
        Assert.StartsWith("artifact 'artifacts/fashion-classifier.onnx' no longer matches the report: recorded sha256 " + TestPaths.Sha256(TestPaths.SampleModel), viaOption.Message, StringComparison.Ordinal);

        File.Copy(other, Path.Combine(root, "artifacts", "fashion-classifier.onnx"), overwrite: true);
        Assert.Equal(["KTU6001"], Codes(Mismatches(Provenance.Verify(report, root, null, null))));
    }

    [Fact]
    public void Changed_policy_manifest_or_exemplar_is_each_reported()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);
        File.AppendAllText(Path.Combine(root, "artifacts", "fashion-classifier.ktu.json"), "\n");
        var exemplars = Directory.GetFiles(Path.Combine(root, "policies", "exemplars", "sandal")).Order(StringComparer.Ordinal).ToArray();
        File.Delete(exemplars[0]);

        var found = Mismatches(Provenance.Verify(report, root, null, null));

        Assert.Equal(["KTU6001", "KTU6001"], Codes(found));
        Assert.Contains(found, d => d.Message.StartsWith("manifest 'artifacts/fashion-classifier.ktu.json'", StringComparison.Ordinal));
        Assert.Contains(found, d => d.Message.Contains("exemplar set of 'sandal' (39 files now, 40 recorded)", StringComparison.Ordinal));

        File.Delete(Path.Combine(root, "policies", "retire-sneaker.ktu.json"));
        Assert.Contains("KTU6002", Codes(Provenance.Verify(report, root, null, null)));
    }

    [Fact]
    public void A_reforged_unsigned_report_and_statement_match_but_are_reported_unsigned()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);

        // Whoever can write the report folder can rewrite the verdict and the statement's digest of the report together.
        var statementPath = Path.Combine(root, "ktu", Provenance.StatementFileName);
        File.WriteAllText(report, File.ReadAllText(report).Replace("\"verdict\": \"fail\"", "\"verdict\": \"pass\"", StringComparison.Ordinal));
        File.WriteAllText(statementPath, File.ReadAllText(statementPath).Replace(
            (string)JsonNode.Parse(File.ReadAllText(statementPath))!["subject"]!.AsArray().Last()!["digest"]!["sha256"]!,
            TestPaths.Sha256(report), StringComparison.Ordinal));

        var result = Provenance.Check(report, root, null, null);

        Assert.True(result.Intact);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("KTU6008", DiagnosticSeverity.Warning), (d.Code, d.Severity));
        Assert.Contains("not signed", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_intact_failing_report_is_named_as_failing_unless_only_integrity_is_asked()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        var report = Gate(root);

        var judged = Provenance.Check(report, root, null, null);
        Assert.True(judged.Intact);
        Assert.Equal("fail", judged.Verdict);
        var d = Assert.Single(judged.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("KTU6007", d.Code);
        Assert.Contains("verdict is 'fail'", d.Message, StringComparison.Ordinal);

        var integrity = Provenance.Check(report, root, null, null, integrityOnly: true);
        Assert.True(integrity.Intact);
        Assert.DoesNotContain(integrity.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void Signed_report_verifies_with_its_key_and_not_with_another()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var report = Gate(root, key.ExportPkcs8PrivateKeyPem());
        Assert.True(File.Exists(Path.Combine(root, "ktu", Provenance.EnvelopeFileName)));

        Assert.Empty(Provenance.Verify(report, root, null, key.ExportSubjectPublicKeyInfoPem()));
        var wrong = Assert.Single(Provenance.Verify(report, root, null, otherKey.ExportSubjectPublicKeyInfoPem()));
        Assert.Equal("KTU6004", wrong.Code);
        var unchecked_ = Assert.Single(Provenance.Verify(report, root, null, null));
        Assert.Equal(("KTU6005", DiagnosticSeverity.Warning), (unchecked_.Code, unchecked_.Severity));

        // A statement rewritten to match an edited report no longer matches its signature.
        var statementPath = Path.Combine(root, "ktu", Provenance.StatementFileName);
        File.WriteAllText(report, File.ReadAllText(report).Replace("\"verdict\": \"fail\"", "\"verdict\": \"pass\"", StringComparison.Ordinal));
        File.WriteAllText(statementPath, File.ReadAllText(statementPath).Replace(
            (string)JsonNode.Parse(File.ReadAllText(statementPath))!["subject"]!.AsArray().Last()!["digest"]!["sha256"]!,
            TestPaths.Sha256(report), StringComparison.Ordinal));
        Assert.Equal(["KTU6004"], Codes(Provenance.Verify(report, root, null, key.ExportSubjectPublicKeyInfoPem())));
    }

    [Fact]
    public void A_key_that_is_not_p256_is_refused()
    {
        using var temp = new TempFolder();
        var root = temp.CopySampleProject();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var result = KtuGate.Gate.Run(new GateRequest([new GateModelInput(Path.Combine(root, "artifacts", "fashion-classifier.onnx"))],
            [Path.Combine(root, "policies", "retire-sneaker.ktu.json")], Path.Combine(root, "ktu"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            SigningKeyPem = p384.ExportPkcs8PrivateKeyPem(),
            SigningKeySource = "test.pem",
        });
        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU5006" && d.Message.Contains("P-256", StringComparison.Ordinal));
    }
}
