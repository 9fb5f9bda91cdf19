using KtuGate.Reporting;
using KtuGate.Tests;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks.Tests;

/// <summary>The tasks never pass, skip or ship what the gate did not check, and never log text that acts on a terminal or CI.</summary>
public sealed class FailClosedTaskTests
{
    private const string KeepBags = """
        { "ktuPolicy": 1, "id": "bags", "concepts": { "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] } },
          "retain": [ { "concept": "bag", "minAccuracy": 0.9 } ] }
        """;

    private static KtuRunGate Task(RecordingBuildEngine engine, string folder, string policy)
    {
        var model = new TaskItem(TestPaths.SampleModel);
        model.SetMetadata("Manifest", TestPaths.SampleManifest);
        return new KtuRunGate
        {
            BuildEngine = engine,
            Models = [model],
            Policies = [new TaskItem(policy)],
            ReportDirectory = Path.Combine(folder, "out"),
            EnginePath = TestPaths.EnginePath,
            ProjectDirectory = TestPaths.Sample(),
            ExecutionProvider = "cpu",
            StampFile = Path.Combine(folder, "obj", "ktu-gate.stamp"),
            InputsFile = Path.Combine(folder, "obj", "ktu-gate.inputs.json"),
        };
    }

    private static IEnumerable<string?> Logged(RecordingBuildEngine engine)
        => engine.Errors.SelectMany(e => new[] { e.Message, e.File, e.Code, e.Subcategory, e.HelpKeyword })
            .Concat(engine.Warnings.SelectMany(w => new[] { w.Message, w.File, w.Code, w.Subcategory, w.HelpKeyword }))
            .Concat(engine.Messages.SelectMany(m => new[] { m.Message, m.File, m.Code, m.Subcategory, m.HelpKeyword }));

    [Fact]
    public void Policy_file_name_with_control_characters_never_reaches_the_log()
    {
        using var temp = new TempFolder();

        // Linux allows ESC, BEL, CR and LF in a file name; each would forge a line or an annotation, or act on a terminal.
        var policy = temp.File("evil\u001b]0;owned\u0007\r\nerror KTU0000: forged.ktu.json",
            "{ \"ktuPolicy\": 1, \"id\": \"evil\", \"concepts\": { \"x\": {} },\n  \"forget\": [ { \"concept\": \"x\", \"maxAccuracy\": 2 } ] }\n");
        var engine = new RecordingBuildEngine();

        Assert.False(Task(engine, temp.Path, policy).Execute());

        Assert.Contains(engine.Errors, e => e.Code.StartsWith("KTU1", StringComparison.Ordinal) && e.File is not null && e.File.Contains("forged.ktu.json", StringComparison.Ordinal));
        Assert.DoesNotContain(engine.Errors, e => e.Code == "KTU0000");

        // Before, the command line ToolTask logs carried the raw name (LF and ESC included).
        Assert.Contains(engine.Messages, m => m is TaskCommandLineEventArgs);
        Assert.All(Logged(engine), s => Assert.DoesNotContain(s ?? "", c => char.IsControl(c) && c != '\t'));
    }

    [Fact]
    public void Invalid_KtuMaxMemory_is_KTU5020_before_the_engine_starts_and_a_valid_one_reaches_the_engine()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = Task(engine, temp.Path, TestPaths.SamplePolicy);
        task.MaxMemory = "lots";

        Assert.False(task.Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5020", error.Code);
        Assert.Contains("'lots'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(engine.Messages, m => m is TaskCommandLineEventArgs);

        // One kibibyte holds no model: the engine's own limit error shows that the value reached it.
        engine = new RecordingBuildEngine();
        task = Task(engine, temp.Path, TestPaths.SamplePolicy);
        task.MaxMemory = "1K";

        Assert.False(task.Execute());

        Assert.Contains(engine.Errors, e => e.Code == "KTU2028");
        Assert.Contains(engine.Messages, m => m is TaskCommandLineEventArgs && m.Message!.Contains("--max-memory 1K", StringComparison.Ordinal));
        Assert.DoesNotContain(engine.Errors, e => e.Code is "KTU5003" or "KTU5020");
    }

    [Fact]
    public void Remediated_artifact_or_report_that_would_land_on_an_input_is_KTU5013_and_the_input_is_kept()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", "exemplars/bag", 10);
        var policy = temp.File("bags.ktu.json", KeepBags);

        // The last release as the baseline, in the folder Remediate writes to, under the model's name.
        var baseline = temp.File("gated/fashion-classifier.onnx");
        File.Copy(TestPaths.SampleModel, baseline);
        var digest = TestPaths.Sha256(baseline);
        var engine = new RecordingBuildEngine();
        var task = Task(engine, temp.Path, policy);
        task.Models[0].SetMetadata("Baseline", baseline);
        task.Mode = "Remediate";
        task.OutputDirectory = Path.GetDirectoryName(baseline);

        Assert.False(task.Execute());

        // Before, the baseline was removed as an earlier run's edited copy and the engine compared against nothing.
        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5013", error.Code);
        Assert.Equal(baseline, error.File);
        Assert.Equal(digest, TestPaths.Sha256(baseline));

        // A policy in the report folder, named as a report file (KtuPolicy="reports/*.json"), would be deleted as a stale report.
        var reportNamed = temp.File("out/ktu-report.json", KeepBags);
        engine = new RecordingBuildEngine();
        task = Task(engine, temp.Path, reportNamed);

        Assert.False(task.Execute());

        Assert.Equal("KTU5013", Assert.Single(engine.Errors).Code);
        Assert.Equal(KeepBags, File.ReadAllText(reportNamed));
    }

    [Fact]
    public async System.Threading.Tasks.Task A_cancelled_build_asks_the_engine_to_stop_so_it_says_where_and_leaves_no_staging_folder()
    {
        using var temp = new TempFolder();
        // The sample's policy with a scope trained through the network (conv1): a setting takes long enough to be cancelled during.
        var policy = temp.SamplePolicyWithRemedy("{ \"allowed\": true, \"methods\": [\"nhl-kl\"], \"scope\": \"conv1\" }");
        var engine = new RecordingBuildEngine();
        var task = Task(engine, temp.Path, policy);
        task.Mode = "Remediate";
        task.OutputDirectory = Path.Combine(temp.Path, "gated");

        // As MSBuild does on Ctrl+C in an IDE or a CI runner's stop: Cancel from another thread once a setting trains.
        var run = System.Threading.Tasks.Task.Run(task.Execute);
        while (!run.IsCompleted && !engine.Logged("searching settings fashion-classifier.onnx: nhl-kl "))
        {
            await System.Threading.Tasks.Task.Delay(20);
        }

        task.Cancel();

        Assert.False(await run.WaitAsync(TimeSpan.FromMinutes(2)));
        // Before, ToolTask killed the engine (SIGKILL): it never said where it stopped, and its staging folder stayed in the output folder.
        Assert.True(engine.Logged("stopped while searching settings fashion-classifier.onnx: nhl-kl"), "the engine did not stop on its own");
        Assert.True(engine.Logged("KtuGate: the build was cancelled; the engine stopped and wrote nothing"));
        Assert.False(Directory.Exists(task.OutputDirectory) && Directory.EnumerateFileSystemEntries(task.OutputDirectory).Any(), "something was left in the output folder");
        Assert.False(File.Exists(Path.Combine(temp.Path, "obj", "ktu-gate.stamp")));
        Assert.Empty(engine.Errors);
    }

    [Fact]
    public void Model_or_manifest_missing_at_gate_time_is_a_coded_error_and_never_stamped()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = Task(engine, temp.Path, TestPaths.SamplePolicy);
        task.Models = [new TaskItem(Path.Combine(temp.Path, "artifacts", "gone.onnx"), new Dictionary<string, string> { ["Manifest"] = TestPaths.SampleManifest })];

        Assert.False(task.Execute());

        Assert.Contains(engine.Errors, e => e.Code == "KTU2001");
        Assert.False(File.Exists(task.StampFile));

        // A Manifest metadata naming a file that is not there: never the default manifest beside the model instead.
        engine = new RecordingBuildEngine();
        task = Task(engine, temp.Path, TestPaths.SamplePolicy);
        task.Models[0].SetMetadata("Manifest", Path.Combine(temp.Path, "missing.ktu.json"));

        Assert.False(task.Execute());

        Assert.Contains(engine.Errors, e => e.Code == "KTU2016");
        Assert.False(File.Exists(task.StampFile));
    }

    /// <summary>Stands a shell script in for the <c>dotnet</c> host that runs the engine: a broken or foreign engine that exits 0.</summary>
    private static KtuRunGate EngineThatExitsZero(RecordingBuildEngine engine, TempFolder temp, string script)
    {
        var host = temp.File("host/dotnet", "#!/bin/sh\n" + script + "\nexit 0\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(host, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var task = Task(engine, temp.Path, TestPaths.SamplePolicy);
        task.ToolPath = Path.GetDirectoryName(host);
        return task;
    }

    private static string WriteReport(TempFolder temp, string name, Func<GateReport, GateReport> change)
    {
        var report = ReportJson.Deserialize(File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests", "KtuGate.Core.Tests", "Data", "reports", "fixed-report.json")));
        var path = temp.File(name);
        File.WriteAllBytes(path, ReportJson.Serialize(change(report with { Diagnostics = [] })));
        return path;
    }

    public static TheoryData<string, string> UnusableResults => new()
    {
        { "text that is not a report", "echo 'all good'" },
        { "a pass printed, no report written", "cat 'PASS'" },
        { "a pass printed, a fail written", "cat 'PASS'; cp 'FAIL' 'OUT/ktu-report.json'" },
        { "a fail printed and written", "cat 'FAIL'; cp 'FAIL' 'OUT/ktu-report.json'" },
        { "a pass for another model", "cat 'OTHER'; cp 'OTHER' 'OUT/ktu-report.json'" },
    };

    [Theory]
    [MemberData(nameof(UnusableResults))]
    public void Engine_exiting_zero_without_a_usable_passing_report_is_KTU5014_and_never_stamped(string what, string script)
    {
        using var temp = new TempFolder();
        var pass = WriteReport(temp, "pass.json", r => r with { Verdict = "pass" });
        var fail = WriteReport(temp, "fail.json", r => r with { Verdict = "fail" });
        var other = WriteReport(temp, "other.json", r => r with { Verdict = "pass", Models = [r.Models[0] with { Artifact = new FileDigest("artifacts/other.onnx", r.Models[0].Artifact.Sha256) }] });
        var engine = new RecordingBuildEngine();
        var task = EngineThatExitsZero(engine, temp, script.Replace("PASS", pass, StringComparison.Ordinal).Replace("FAIL", fail, StringComparison.Ordinal)
            .Replace("OTHER", other, StringComparison.Ordinal).Replace("OUT", Path.Combine(temp.Path, "out"), StringComparison.Ordinal));

        // Before, each of these passed the build and wrote the stamp that skips the next run.
        Assert.False(task.Execute(), what);

        Assert.Equal("KTU5014", Assert.Single(engine.Errors).Code);
        Assert.False(File.Exists(task.StampFile), what);
    }

    [Fact]
    public void Engine_exiting_zero_with_a_pass_printed_and_written_passes()
    {
        using var temp = new TempFolder();
        var pass = WriteReport(temp, "pass.json", r => r with { Verdict = "pass" });
        var engine = new RecordingBuildEngine();
        var task = EngineThatExitsZero(engine, temp, $"cat '{pass}'; cp '{pass}' '{Path.Combine(temp.Path, "out", "ktu-report.json")}'");
        task.InputsFile = null;

        // The control for the theory above: the same stand-in passes when its result is complete.
        Assert.True(task.Execute(), string.Join("\n", engine.Errors.Select(e => $"{e.Code}: {e.Message}")));
        Assert.Equal("pass", task.Verdict);
    }
}
