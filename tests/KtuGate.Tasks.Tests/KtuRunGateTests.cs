using System.Text.RegularExpressions;
using KtuGate.Tests;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks.Tests;

public sealed class KtuRunGateTests
{
    private static KtuRunGate SampleTask(RecordingBuildEngine engine, string reportDir, string policy = "policies/retire-sneaker.ktu.json", string? enginePath = null)
    {
        var model = new TaskItem("artifacts/fashion-classifier.onnx");
        model.SetMetadata("Manifest", "artifacts/fashion-classifier.ktu.json");
        return new KtuRunGate
        {
            BuildEngine = engine,
            Models = [model],
            Policies = [new TaskItem(policy)],
            ReportDirectory = reportDir,
            EnginePath = enginePath ?? TestPaths.EnginePath,
            ProjectDirectory = TestPaths.Sample(),
            ExecutionProvider = "cpu",
            StampFile = Path.Combine(reportDir, "ktu-gate.stamp"),
            InputsFile = Path.Combine(reportDir, "ktu-gate.inputs.json"),
        };
    }

    [Fact]
    public void Violated_policy_fails_the_task_with_a_located_error()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, temp.Path);

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU3001", error.Code);
        Assert.Equal("policies/retire-sneaker.ktu.json", error.File);
        Assert.Equal((6, 5), (error.LineNumber, error.ColumnNumber));
        Assert.StartsWith("'sneaker' is still known: fine accuracy", error.Message, StringComparison.Ordinal);
        Assert.Equal("KTU3001", error.HelpKeyword);
        Assert.Equal("fail", task.Verdict);
        Assert.True(File.Exists(task.ReportFile));
        Assert.False(File.Exists(Path.Combine(temp.Path, "ktu-gate.stamp")));
        Assert.Contains(engine.Messages, m => m.Code == "KTU5001" || m.Message!.Contains("CPUExecutionProvider", StringComparison.Ordinal));
        Assert.Contains(engine.Messages, m => m.Message!.StartsWith("KtuGate: verdict fail", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(3600, false)]
    public void Progress_lines_are_high_importance_only_once_the_run_has_taken_longer_than_the_set_seconds(int seconds, bool shown)
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, temp.Path);
        task.ProgressAfterSeconds = seconds;

        task.Execute();

        var progress = engine.Messages.Where(m => m.Message!.StartsWith("KtuGate: probing ", StringComparison.Ordinal) || m.Message.StartsWith("KtuGate: writing ", StringComparison.Ordinal)).ToList();
        Assert.Contains(progress, m => m.Message == "KtuGate: probing fashion-classifier.onnx: sneaker (300 exemplars)");
        Assert.Contains(progress, m => m.Message!.StartsWith("KtuGate: writing ", StringComparison.Ordinal));
        Assert.All(progress, m => Assert.Equal(shown ? MessageImportance.High : MessageImportance.Low, m.Importance));
    }

    [Fact]
    public void Passing_policy_succeeds_and_writes_the_stamp()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", "exemplars/bag", 40);
        var policy = temp.File("bags.ktu.json", """
            { "ktuPolicy": 1, "id": "bags", "concepts": { "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] } },
              "retain": [ { "concept": "bag", "minAccuracy": 0.9 } ] }
            """);
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, Path.Combine(temp.Path, "out"), policy);

        Assert.True(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));

        Assert.Empty(engine.Errors);
        Assert.Equal("pass", task.Verdict);
        Assert.True(File.Exists(Path.Combine(temp.Path, "out", "ktu-gate.stamp")));

        // The stamp records every file the engine read, by content: the artifact, its manifest, the policy and each exemplar.
        var stamp = GateStamp.Read(Path.Combine(temp.Path, "out", "ktu-gate.stamp"))!;
        var recorded = stamp.Files.ToDictionary(f => f.Path, f => f.Sha256);
        Assert.Equal(TestPaths.Sha256(TestPaths.SampleModel), recorded[TestPaths.SampleModel]);
        Assert.Equal(TestPaths.Sha256(TestPaths.SampleManifest), recorded[TestPaths.SampleManifest]);
        Assert.Equal(TestPaths.Sha256(policy), recorded[policy]);
        Assert.All(Directory.GetFiles(Path.Combine(temp.Path, "exemplars", "bag")), f => Assert.Equal(TestPaths.Sha256(f), recorded[f]));
    }

    [Fact]
    public void Invalid_policy_is_reported_at_its_line_and_column()
    {
        using var temp = new TempFolder();
        var policy = temp.File("bad.ktu.json", "{\n  \"ktuPolicy\": 1,\n  \"id\": \"bad\",\n  \"concepts\": { \"x\": { \"exemplars\": [\"../*.png\"] } },\n  \"forget\": [ { \"concept\": \"y\", \"maxAccuracy\": 2 } ]\n}\n");
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, Path.Combine(temp.Path, "out"), policy);

        Assert.False(task.Execute());

        Assert.Equal(["KTU1005@5,28", "KTU1006@5,48", "KTU1008@4,38"], engine.Errors.Select(e => $"{e.Code}@{e.LineNumber},{e.ColumnNumber}").Order());
        Assert.All(engine.Errors, e => Assert.Equal(policy, e.File));
        Assert.Equal("error", task.Verdict);
    }

    [Fact]
    public void Unknown_mode_is_an_error_and_off_does_nothing()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, temp.Path);
        task.Mode = "Sometimes";
        Assert.False(task.Execute());
        Assert.Equal("KTU5005", Assert.Single(engine.Errors).Code);

        engine = new RecordingBuildEngine();
        task = SampleTask(engine, temp.Path);
        task.Mode = "off";
        Assert.True(task.Execute());
        Assert.Empty(engine.Errors);
        Assert.False(File.Exists(Path.Combine(temp.Path, "ktu-report.json")));
    }

    [Fact]
    public void Errors_carry_a_help_link_to_their_code_s_section_of_the_help_page()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, temp.Path);
        task.Mode = "Sometimes";
        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5005", error.HelpKeyword);
        Assert.Equal(KtuGate.Diagnostics.DiagnosticHelp.DocumentUri + "#ktu5005", error.HelpLink);
    }

    [Fact]
    public void Remediation_is_named_in_the_build_log_with_its_method_setting_and_q_u()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, Path.Combine(temp.Path, "ktu"));
        task.Mode = "Remediate";
        task.OutputDirectory = Path.Combine(temp.Path, "gated");

        Assert.True(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));

        var line = Assert.Single(engine.Messages, m => m.Message!.StartsWith("KtuGate: artifacts/fashion-classifier.onnx: remediated with ", StringComparison.Ordinal));
        Assert.Equal(Microsoft.Build.Framework.MessageImportance.High, line.Importance);
        Assert.Matches(@"remediated with closed-form at /fc2/Gemm \(ridge=[^,]+, after \d+ settings?\), Q-U [0-9.]+ against the original; wrote ", line.Message);
        Assert.Contains(engine.Messages, m => m.Message!.StartsWith("KtuGate: next step: ship the remediated artifact", StringComparison.Ordinal));

        // The search's progress names each setting it tries, counted, as ktu's log does.
        Assert.Contains(engine.Messages, m => Regex.IsMatch(m.Message!, @"^KtuGate: searching settings fashion-classifier\.onnx: closed-form 0/\d+$"));
    }

    [Fact]
    public void Missing_engine_is_KTU5002()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        Assert.False(SampleTask(engine, temp.Path, enginePath: Path.Combine(temp.Path, "ktu.dll")).Execute());
        Assert.Equal("KTU5002", Assert.Single(engine.Errors).Code);
    }

    [Fact]
    public void Unknown_execution_provider_and_missing_policies_are_coded_errors_before_the_engine_starts()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, temp.Path);
        task.ExecutionProvider = "tpu";
        Assert.False(task.Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5009", error.Code);
        Assert.Contains("'tpu'", error.Message, StringComparison.Ordinal);

        engine = new RecordingBuildEngine();
        task = SampleTask(engine, temp.Path);
        task.Policies = [];
        Assert.False(task.Execute());
        Assert.Equal("KTU5008", Assert.Single(engine.Errors).Code);
        Assert.False(File.Exists(Path.Combine(temp.Path, "ktu-report.json")));
    }

    [Fact]
    public void Report_folder_that_cannot_be_created_is_KTU5010_with_the_path_and_the_reason()
    {
        using var temp = new TempFolder();
        var blocker = temp.File("not-a-folder", "a file where the report folder would go");
        var engine = new RecordingBuildEngine();
        var reportDir = Path.Combine(blocker, "ktu");

        Assert.False(SampleTask(engine, reportDir).Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5010", error.Code);
        Assert.Contains(reportDir, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(engine.Errors, e => e.Code == "KTU5003");
    }

    [Fact]
    public void Engine_failure_without_a_report_is_logged_with_the_engines_own_code()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, Path.Combine(temp.Path, "out"));
        task.SigningKeyFile = Path.Combine(temp.Path, "missing.pem");

        Assert.False(task.Execute());

        // Before, this was "KTU5003: The KtuGate engine exited with code 2 and wrote no result".
        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5006", error.Code);
        Assert.Contains("missing.pem", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Control_characters_from_a_policy_never_reach_the_log_and_leftover_candidates_are_removed()
    {
        using var temp = new TempFolder();
        var policy = temp.File("evil.ktu.json", """
            { "ktuPolicy": 1, "id": "evil\u0007", "concepts": { "x": { "exemplars": ["exemplars/*.png"] } },
              "forget": [ { "concept": "y\u001b]0;owned\u0007\u0000\r\nerror KTU0000: forged", "maxAccuracy": 0.1 } ] }
            """);
        var output = Path.Combine(temp.Path, "gated");
        Directory.CreateDirectory(output);
        var leftover = temp.File("gated/.fashion-classifier.onnx.4242.candidate.onnx", "partial");
        var engine = new RecordingBuildEngine();
        var task = SampleTask(engine, Path.Combine(temp.Path, "out"), policy);
        task.Mode = "Remediate";
        task.OutputDirectory = output;

        Assert.False(task.Execute());

        Assert.Contains(engine.Errors, e => e.Code == "KTU1005");
        Assert.DoesNotContain(engine.Errors, e => e.Code == "KTU0000");
        var logged = engine.Errors.Select(e => e.Message + e.File).Concat(engine.Warnings.Select(w => w.Message + w.File)).Concat(engine.Messages.Select(m => m.Message ?? ""));
        Assert.All(logged, m => Assert.DoesNotContain(m, c => char.IsControl(c) && c != '\t'));
        Assert.False(File.Exists(leftover));
    }
}
