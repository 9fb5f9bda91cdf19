using System.Diagnostics;
using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.Cli.Tests;

public sealed class KtuCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) Ktu(string workingDirectory, params string[] arguments)
        => KtuWith(workingDirectory, new Dictionary<string, string>(), arguments);

    internal static (int ExitCode, string Stdout, string Stderr) KtuWith(string workingDirectory, Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.ArgumentList.Add(TestPaths.EnginePath);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "ktu did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Check_on_the_sample_exits_1_and_prints_the_located_violation()
    {
        using var temp = new TempFolder();
        var (exit, stdout, stderr) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu");

        Assert.Equal(1, exit);
        Assert.Contains("policies/retire-sneaker.ktu.json(6,5): error KTU3001: 'sneaker' is still known", stderr, StringComparison.Ordinal);
        Assert.Contains("FAIL  retire-sneaker: forget sneaker (fine)", stdout, StringComparison.Ordinal);
        Assert.Contains("PASS  retire-sneaker: retain sneaker (coarse)", stdout, StringComparison.Ordinal);
        Assert.Contains("Verdict: FAIL (5/6 clauses hold)", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(temp.Path, "ktu-report.json")));
    }

    [Fact]
    public void Json_format_prints_the_report()
    {
        using var temp = new TempFolder();
        var (exit, stdout, _) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu", "--format", "json");

        Assert.Equal(1, exit);
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal("fail", report.RootElement.GetProperty("verdict").GetString());
        Assert.Equal(File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")), stdout);
    }

    [Fact]
    public void Invalid_input_exits_2()
    {
        using var temp = new TempFolder();
        var (exit, _, stderr) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/missing.onnx", "--manifest", "artifacts/fashion-classifier.ktu.json",
            "-p", "policies/retire-sneaker.ktu.json", "--report-dir", temp.Path);
        Assert.Equal(2, exit);
        Assert.Contains("error KTU2001", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_checks_policies_and_manifests_without_running_a_model()
    {
        var ok = Ktu(TestPaths.Sample(), "validate", "-p", "policies/retire-sneaker.ktu.json", "--manifest", "artifacts/fashion-classifier.ktu.json");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("Valid: 1 policies, 1 manifests.", ok.Stdout, StringComparison.Ordinal);

        using var temp = new TempFolder();
        var bad = temp.File("bad.ktu.json", "{ \"ktuPolicy\": 1, \"id\": \"x\", \"concepts\": {}, \"forget\": [ { \"concept\": \"x\", \"maxAccuracy\": 0.1 } ] }");
        var result = Ktu(temp.Path, "validate", "-p", "bad.ktu.json");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bad.ktu.json(1,71): error KTU1005", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_prints_the_code_s_section_of_the_help_page_and_an_unknown_code_is_a_usage_error()
    {
        var page = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md"));
        var start = page.IndexOf("## KTU3001\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/diagnostics.md has no section for KTU3001");
        var section = page[start..(page.IndexOf("\n## ", start, StringComparison.Ordinal) + 1)];

        var (exit, stdout, _) = Ktu(TestPaths.RepoRoot, "explain", "ktu3001");
        Assert.Equal(0, exit);
        Assert.StartsWith(section, stdout, StringComparison.Ordinal);
        Assert.Contains("upper bound", stdout, StringComparison.Ordinal);
        Assert.Contains("docs/diagnostics.md#ktu3001", stdout, StringComparison.Ordinal);

        // A code that does not exist is a wrong command line (64), not an invalid input file (2).
        var unknown = Ktu(TestPaths.RepoRoot, "explain", "KTU0000");
        Assert.Equal(64, unknown.ExitCode);
        Assert.Contains("Unknown code 'KTU0000'", unknown.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Init_drafts_a_manifest_from_the_model_that_the_gate_accepts()
    {
        using var temp = new TempFolder();
        File.Copy(TestPaths.SampleModel, Path.Combine(temp.Path, "model.onnx"));

        var result = Ktu(temp.Path, "init", "model.onnx", "--labels", "t-shirt,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle-boot");

        Assert.Equal(0, result.ExitCode);
        var manifest = File.ReadAllText(Path.Combine(temp.Path, "model.ktu.json"));
        Assert.Contains("\"name\": \"image\", \"shape\": [\"batch\", 1, 28, 28], \"layout\": \"NCHW\"", manifest, StringComparison.Ordinal);
        Assert.Contains("\"output\": { \"name\": \"logits\" }", manifest, StringComparison.Ordinal);

        // With exemplars in place the drafted policy and manifest validate, and the gate runs on them. The drafted forget clause
        // allows 0.05, which takes at least 73 exemplars to show (fewer is KTU3007).
        temp.CopyExemplars("t-shirt", "policies/exemplars/t-shirt", 80);
        foreach (var label in new[] { "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot" })
        {
            temp.CopyExemplars(label, $"policies/exemplars/{label}", 20);
        }

        var validate = Ktu(temp.Path, "validate", "-p", "policies/model.ktu.json", "--manifest", "model.ktu.json");
        Assert.True(validate.ExitCode == 0, validate.Stdout + validate.Stderr);
        var check = Ktu(temp.Path, "check", "-m", "model.onnx", "-p", "policies/model.ktu.json", "--execution-provider", "cpu");
        Assert.True(check.ExitCode is 0 or 1, check.Stdout + check.Stderr);
        Assert.Contains("forget t-shirt (fine)", check.Stdout, StringComparison.Ordinal);

        // A second init does not overwrite what the author has edited.
        var again = Ktu(temp.Path, "init", "model.onnx");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("--force", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(temp.Path, "model.ktu.json")));
    }

    [Fact]
    public void Init_refuses_what_is_not_an_image_classifier()
    {
        using var temp = new TempFolder();
        File.WriteAllText(Path.Combine(temp.Path, "model.onnx"), "not a model");
        var result = Ktu(temp.Path, "init", "model.onnx");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error KTU2002", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(temp.Path, "model.ktu.json")));
    }

    [Fact]
    public void Unlearn_writes_a_remediated_artifact_that_passes()
    {
        using var temp = new TempFolder();
        var result = Ktu(TestPaths.Sample(), "unlearn", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", Path.Combine(temp.Path, "out"), "--execution-provider", "cpu");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("Remediated (closed-form at /fc2/Gemm", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("PASS  retire-sneaker: forget sneaker (fine)", result.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(temp.Path, "out", "fashion-classifier.onnx")));

        // The remediated artifact, checked on its own, passes the same policy.
        var check = Ktu(TestPaths.Sample(), "check", "-m", Path.Combine(temp.Path, "out", "fashion-classifier.onnx"), "--manifest", "artifacts/fashion-classifier.ktu.json",
            "-p", "policies/retire-sneaker.ktu.json", "--report-dir", Path.Combine(temp.Path, "check"), "--execution-provider", "cpu");
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
    }

    [Fact]
    public void Unlearn_writes_the_manifest_beside_the_edited_model_and_prints_q_u_against_the_original()
    {
        using var temp = new TempFolder();
        var output = Path.Combine(temp.Path, "out");
        var result = Ktu(TestPaths.Sample(), "unlearn", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", output, "--execution-provider", "cpu");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Matches(@"retire-sneaker: Q [0-9.]+, U [0-9.]+, Q-U [0-9.]+ \(against the original\); no metric thresholds", result.Stdout);

        // The output folder holds a model that can be checked on its own: its manifest beside it, naming the same schema.
        var manifest = Path.Combine(output, "fashion-classifier.ktu.json");
        Assert.True(File.Exists(manifest), "no manifest beside the edited model");
        Assert.Contains("\"$schema\": \"" + Path.GetRelativePath(output, Path.Combine(TestPaths.RepoRoot, "policies", "ktu-manifest.schema.json")).Replace('\\', '/'), File.ReadAllText(manifest), StringComparison.Ordinal);
        var check = Ktu(TestPaths.Sample(), "check", "-m", Path.Combine(output, "fashion-classifier.onnx"), "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "check"), "--execution-provider", "cpu");
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
    }

    [Fact]
    public void Unlearn_that_fails_prints_each_setting_s_q_u_and_leaves_no_output_folder()
    {
        // A sneaker edit cannot make every T-shirt recognised: no setting meets the policy.
        using var temp = new TempFolder();
        var project = temp.CopySampleProject();
        temp.CopyExemplars("sneaker", Path.Combine("project", "policies", "all-sneakers"), 300);
        File.WriteAllText(Path.Combine(project, "policies", "qu.ktu.json"), """
            {
              "ktuPolicy": 1,
              "id": "qu-out-of-reach",
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ],
              "retain": [ { "concept": "sneaker", "level": "coarse", "minAccuracy": 0.9 }, { "concept": "t-shirt", "minAccuracy": 1.0 } ],
              "concepts": {
                "footwear": {}, "tops": {},
                "sneaker": { "parent": "footwear", "exemplars": ["all-sneakers/*.png"] },
                "t-shirt": { "parent": "tops", "exemplars": ["exemplars/t-shirt/*.png"] }
              },
              "metrics": { "minQU": 0.9999 },
              "remedy": { "allowed": true, "methods": ["closed-form"] }
            }
            """);

        var result = Ktu(project, "unlearn", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/qu.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", Path.Combine(temp.Path, "out", "edited"), "--execution-provider", "cpu");

        Assert.True(result.ExitCode == 1, result.Stdout + result.Stderr);
        Assert.Contains("error KTU4001", result.Stderr, StringComparison.Ordinal);
        Assert.Matches(@"closed-form [^\n]*: Q [0-9.]+, U [0-9.]+, Q-U [0-9.]+ against the original; [1-9]\d* threshold\(s\) missed", result.Stdout);
        Assert.Contains("qu-out-of-reach: Q -, U -, Q-U - (no baseline to compare with); Q-U >= 0.9999", result.Stdout, StringComparison.Ordinal);

        // The search judged every setting against the original: the original's own "no baseline" is not reported as if it mattered.
        Assert.DoesNotContain("KTU3004", result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "out")), "a failed unlearn left its output folder behind");
    }

    [Fact]
    public void Unlearn_never_writes_the_manifest_copy_over_another_input()
    {
        using var temp = new TempFolder();
        var project = temp.CopySampleProject();
        var policy = Path.Combine(project, "policies", "fashion-classifier.ktu.json");
        // The copy's 40 sneakers hold out 16: enough to show an upper bound of 0.3, not the sample's 0.05 (KTU4020 would stop first).
        File.WriteAllText(policy, File.ReadAllText(Path.Combine(project, "policies", "retire-sneaker.ktu.json")).Replace("\"maxAccuracy\": 0.05", "\"maxAccuracy\": 0.3", StringComparison.Ordinal));
        File.Delete(Path.Combine(project, "policies", "retire-sneaker.ktu.json"));
        var before = File.ReadAllBytes(policy);

        var result = Ktu(project, "unlearn", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/fashion-classifier.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", "policies", "--execution-provider", "cpu");

        Assert.True(result.ExitCode == 2, result.Stdout + result.Stderr);
        Assert.Contains("error KTU5050", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(policy));
        Assert.False(File.Exists(Path.Combine(project, "policies", "fashion-classifier.onnx")));
    }

    [Fact]
    public void Validate_can_answer_in_json()
    {
        using var temp = new TempFolder();
        temp.File("bad.ktu.json", "{ \"ktuPolicy\": 1 }");
        var result = Ktu(temp.Path, "validate", "-p", "bad.ktu.json", "--format", "json");
        Assert.Equal(2, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        Assert.False(json.RootElement.GetProperty("valid").GetBoolean());
        var d = json.RootElement.GetProperty("diagnostics")[0];
        Assert.Equal("KTU1003", d.GetProperty("code").GetString());
        Assert.Equal(1, d.GetProperty("line").GetInt32());
    }

    [Fact]
    public void Check_prints_progress_lines_when_not_on_a_terminal()
    {
        using var temp = new TempFolder();
        var (_, _, stderr) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu");
        Assert.Contains("probing fashion-classifier.onnx: sneaker (300 exemplars)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Progress_lines_print_model_and_concept_names_without_raw_control_characters()
    {
        using var temp = new TempFolder();
        const string Hostile = "\u001B[31m\u0007\r";
        var model = Path.Combine(temp.Path, $"fa{Hostile}shion.onnx");
        File.Copy(TestPaths.SampleModel, model);
        temp.CopyExemplars("sneaker", "exemplars/sneaker", 30);
        temp.CopyExemplars("bag", "exemplars/bag", 30);
        var policy = temp.File("policy.ktu.json", $$"""
            {
              "ktuPolicy": 1,
              "id": "hostile-names",
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ],
              "retain": [ { "concept": "ba\u001B[31m\u0007g\r", "minAccuracy": 0.5 } ],
              "concepts": {
                "sneaker": { "exemplars": ["exemplars/sneaker/*.png"] },
                "ba\u001B[31m\u0007g\r": { "aliases": ["bag"], "exemplars": ["exemplars/bag/*.png"] }
              }
            }
            """);

        var (_, stdout, stderr) = Ktu(TestPaths.Sample(), "check", "-m", model, "--manifest", TestPaths.SampleManifest, "-p", policy,
            "--report-dir", Path.Combine(temp.Path, "ktu"), "--execution-provider", "cpu");

        // The names are shown, as visible escapes: the progress lines were printed, and nothing in them acts on the terminal.
        Assert.Contains("probing fa\\u001B[31m\\u0007\\u000Dshion.onnx: ba\\u001B[31m\\u0007g\\u000D (30 exemplars)", stderr, StringComparison.Ordinal);
        foreach (var raw in new[] { '\u001B', '\u0007', '\r' })
        {
            Assert.DoesNotContain(raw, stdout);
            Assert.DoesNotContain(raw, stderr);
        }
    }

    [Fact]
    public void Verify_passes_on_a_fresh_signed_report_and_names_a_swapped_artifact()
    {
        using var temp = new TempFolder();
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var publicKey = temp.File("public.pem", key.ExportSubjectPublicKeyInfoPem());
        var reportDir = Path.Combine(temp.Path, "report");
        var env = new Dictionary<string, string> { ["KTU_TEST_SIGNING_KEY"] = key.ExportPkcs8PrivateKeyPem() };
        var check = KtuWith(TestPaths.Sample(), env, "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", reportDir, "--execution-provider", "cpu", "--signing-key-env", "KTU_TEST_SIGNING_KEY");
        Assert.Equal(1, check.ExitCode);
        Assert.True(File.Exists(Path.Combine(reportDir, "ktu-report.intoto.dsse.json")));

        var report = Path.Combine(reportDir, "ktu-report.json");
        var intact = Ktu(TestPaths.Sample(), "verify", report, "--public-key", publicKey);
        Assert.True(intact.ExitCode == 1, intact.Stdout + intact.Stderr);
        Assert.Contains("error KTU6007: The report is intact, but its verdict is 'fail'", intact.Stderr, StringComparison.Ordinal);
        Assert.Contains("Intact, but NOT PASSED", intact.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict is FAIL", intact.Stdout, StringComparison.Ordinal);

        var ok = Ktu(TestPaths.Sample(), "verify", report, "--public-key", publicKey, "--integrity-only");
        Assert.True(ok.ExitCode == 0, ok.Stdout + ok.Stderr);
        Assert.Contains("Verified (integrity only)", ok.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict FAIL, not judged", ok.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("KTU6008", ok.Stdout + ok.Stderr, StringComparison.Ordinal);

        var swapped = temp.File("swapped.onnx", "not the gated model");
        var bad = Ktu(TestPaths.Sample(), "verify", report, "--public-key", publicKey, "--artifact", swapped);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("error KTU6001: artifact 'artifacts/fashion-classifier.onnx' no longer matches the report", bad.Stderr, StringComparison.Ordinal);

        Assert.Equal(2, Ktu(TestPaths.Sample(), "verify", Path.Combine(temp.Path, "missing.json")).ExitCode);
    }

    [Fact]
    public void Verify_warns_that_an_unsigned_report_is_unsigned_and_json_names_the_verdict()
    {
        using var temp = new TempFolder();
        var check = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu");
        Assert.Equal(1, check.ExitCode);
        var report = Path.Combine(temp.Path, "ktu-report.json");

        var text = Ktu(TestPaths.Sample(), "verify", report, "--integrity-only");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("warning KTU6008: The report is not signed", text.Stdout, StringComparison.Ordinal);

        var json = Ktu(TestPaths.Sample(), "verify", report, "--format", "json");
        Assert.Equal(1, json.ExitCode);
        using var payload = JsonDocument.Parse(json.Stdout);
        Assert.False(payload.RootElement.GetProperty("verified").GetBoolean());
        Assert.True(payload.RootElement.GetProperty("intact").GetBoolean());
        Assert.Equal("fail", payload.RootElement.GetProperty("verdict").GetString());
        var codes = payload.RootElement.GetProperty("diagnostics").EnumerateArray().Select(d => d.GetProperty("code").GetString()).ToList();
        Assert.Equal(["KTU6008", "KTU6007"], codes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("check")]
    [InlineData("check -m artifacts/fashion-classifier.onnx -p policies/retire-sneaker.ktu.json --no-such-option")]
    [InlineData("frobnicate")]
    [InlineData("verify")]
    [InlineData("explain")]
    public void Usage_errors_exit_64_not_1(string commandLine)
    {
        var result = Ktu(TestPaths.Sample(), commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.True(result.ExitCode == 64, $"exit {result.ExitCode}: {result.Stdout}{result.Stderr}");
        Assert.False(string.IsNullOrWhiteSpace(result.Stderr));
    }

    [Fact]
    public void Help_exits_0()
    {
        Assert.Equal(0, Ktu(TestPaths.Sample(), "--help").ExitCode);
        Assert.Equal(0, Ktu(TestPaths.Sample(), "check", "--help").ExitCode);
    }

    [Fact]
    public void Too_few_exemplars_exit_4_with_insufficient_evidence_and_validate_calls_the_policy_invalid()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", Path.Combine("exemplars", "sneaker"), 20);
        temp.File("policy.ktu.json", """
            {
              "ktuPolicy": 1,
              "id": "few",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ]
            }
            """);

        var validate = Ktu(temp.Path, "validate", "-p", "policy.ktu.json");
        Assert.Equal(2, validate.ExitCode);
        Assert.Contains("policy.ktu.json(5,15): error KTU3007: Forget clause 'sneaker' (maxAccuracy) can never pass with 20 exemplars", validate.Stderr, StringComparison.Ordinal);
        Assert.Contains("it needs at least 73 exemplars", validate.Stderr, StringComparison.Ordinal);

        var check = Ktu(temp.Path, "check", "-m", TestPaths.SampleModel, "--manifest", TestPaths.SampleManifest, "-p", "policy.ktu.json",
            "--report-dir", Path.Combine(temp.Path, "out"), "--execution-provider", "cpu");
        Assert.True(check.ExitCode == 4, check.Stdout + check.Stderr);
        Assert.Contains("error KTU3006: 'sneaker' is not shown forgotten", check.Stderr, StringComparison.Ordinal);
        Assert.Contains("INSUFFICIENT EVIDENCE  few: forget sneaker (fine)", check.Stdout, StringComparison.Ordinal);
        Assert.Contains("Verdict: INSUFFICIENT EVIDENCE (0/1 clauses hold)", check.Stdout, StringComparison.Ordinal);

        var verify = Ktu(temp.Path, "verify", Path.Combine(temp.Path, "out", "ktu-report.json"));
        Assert.True(verify.ExitCode == 4, verify.Stdout + verify.Stderr);
        Assert.Contains("verdict is INSUFFICIENT EVIDENCE", verify.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Readme_documents_the_exit_codes_of_every_verb()
    {
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var start = readme.IndexOf("| Verb | 0 |", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no exit-code table (| Verb | 0 | ...)");
        var table = readme[start..readme.IndexOf("\n\n", start, StringComparison.Ordinal)].Split('\n');
        var header = table[0].Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["Verb", "0", "1", "2", "3", "4", "64", "130"], header);
        var verbs = table.Skip(2).Select(r => r.Split('|', StringSplitOptions.TrimEntries)[1].Trim('`')).ToList();
        var help = Ktu(TestPaths.Sample(), "--help").Stdout;
        var commands = help[help.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .Select(l => l.Trim().Split(' ')[0]).Where(w => w.Length > 0).ToList();
        Assert.NotEmpty(commands);
        Assert.All(commands, c => Assert.Contains(c, verbs));
    }

    [Fact]
    public void Missing_signing_key_is_an_input_error()
    {
        using var temp = new TempFolder();
        var result = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--signing-key", Path.Combine(temp.Path, "nope.pem"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error KTU5006", result.Stderr, StringComparison.Ordinal);
    }
}
