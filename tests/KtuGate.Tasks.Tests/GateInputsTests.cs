using System.Text;
using KtuGate.Tests;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks.Tests;

/// <summary>The gate's inputs are listed in full and compared by content, so that no change to what the gate read is skipped.</summary>
public sealed class GateInputsTests
{
    private const string BagsPolicy = """
        { "ktuPolicy": 1, "id": "bags", "concepts": { "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] } },
          "retain": [ { "concept": "bag", "minAccuracy": 0.9 } ],
          "general": { "exemplars": ["general/*/*.png"] } }
        """;

    private static (KtuResolveGateInputs Task, RecordingBuildEngine Engine) Resolve(string policy, string model = "m.onnx")
    {
        var engine = new RecordingBuildEngine();
        var task = new KtuResolveGateInputs { BuildEngine = engine, Policies = [new TaskItem(policy)], Models = [new TaskItem(model)] };
        Assert.True(task.Execute(), string.Join("\n", engine.Errors.Select(e => e.Message)));
        return (task, engine);
    }

    [Fact]
    public void Inputs_cover_the_artifact_manifest_policy_every_exemplar_and_the_general_probe_set()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", "exemplars/bag", 5);
        temp.CopyExemplars("sandal", "general/sandal", 3);
        var policy = temp.File("bags.ktu.json", BagsPolicy);

        var (task, _) = Resolve(policy, TestPaths.SampleModel);

        var inputs = task.Inputs.Select(i => i.ItemSpec).ToHashSet();
        Assert.Contains(TestPaths.SampleModel, inputs);
        Assert.Contains(TestPaths.SampleManifest, inputs);
        Assert.Contains(policy, inputs);
        Assert.Equal(5, inputs.Count(i => i.Contains("/exemplars/bag/", StringComparison.Ordinal)));
        Assert.Equal(3, inputs.Count(i => i.Contains("/general/sandal/", StringComparison.Ordinal)));
    }

    [Fact]
    public void Inputs_cover_a_dual_encoders_text_tower_model_and_vocabulary()
    {
        using var temp = new TempFolder();
        var manifest = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.ktu.json"));
        temp.File("artifacts/clip.ktu.json", manifest);
        temp.CopyExemplars("bag", "exemplars/bag", 2);
        var policy = temp.File("bags.ktu.json", BagsPolicy);

        var (task, _) = Resolve(policy, Path.Combine(temp.Path, "artifacts", "clip.onnx"));

        // The manifest names the tower relative to itself; whatever it names is listed, present or not.
        var towerFiles = task.Inputs.Select(i => Path.GetFileName(i.ItemSpec)).Where(n => n.EndsWith(".onnx", StringComparison.Ordinal) || n.EndsWith(".txt", StringComparison.Ordinal)).ToList();
        Assert.Contains(towerFiles, n => n.EndsWith(".txt", StringComparison.Ordinal));
        Assert.Equal(2, towerFiles.Count(n => n.EndsWith(".onnx", StringComparison.Ordinal)));
    }

    [Fact]
    public void Policies_without_a_model_and_a_model_without_policies_are_coded_errors()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(new KtuResolveGateInputs { BuildEngine = engine, Policies = [new TaskItem("p.ktu.json")], Models = [] }.Execute());
        Assert.Equal("KTU5007", Assert.Single(engine.Errors).Code);

        engine = new RecordingBuildEngine();
        Assert.False(new KtuResolveGateInputs { BuildEngine = engine, Policies = [], Models = [new TaskItem("m.onnx")] }.Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal("KTU5008", error.Code);
        Assert.Contains("m.onnx", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, byte[]> UndecodablePolicies => new()
    {
        { "invalid UTF-8 in a string", Encoding.UTF8.GetBytes("{ \"ktuPolicy\": 1, \"id\": \"x").Concat(new byte[] { 0xC3, 0x28, 0xFF }).Concat(Encoding.UTF8.GetBytes("\", \"concepts\": {} }")).ToArray() },
        { "a lone surrogate escape", Encoding.UTF8.GetBytes("{ \"ktuPolicy\": 1, \"id\": \"x\\uD800y\", \"title\": \"\\uDC00\", \"concepts\": {} }") },
        { "invalid UTF-8 in a property name", new byte[] { (byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}' } },
    };

    [Theory]
    [MemberData(nameof(UndecodablePolicies))]
    public void Policy_that_cannot_be_decoded_is_a_coded_located_error_not_a_task_crash(string what, byte[] bytes)
    {
        using var temp = new TempFolder();
        var policy = temp.File("bad.ktu.json");
        File.WriteAllBytes(policy, bytes);
        var engine = new RecordingBuildEngine();
        var resolve = new KtuResolveGateInputs { BuildEngine = engine, Policies = [new TaskItem(policy)], Models = [new TaskItem(TestPaths.SampleModel)] };

        // Before the fix the parser's exception escaped Execute, which MSBuild reports as MSB4018 with a stack trace.
        var resolved = resolve.Execute();

        if (resolved)
        {
            // The parser rejected it with a diagnostic; the engine reports that.
            var run = new KtuRunGate
            {
                BuildEngine = engine,
                Models = resolve.ResolvedModels,
                Policies = [new TaskItem(policy)],
                ReportDirectory = Path.Combine(temp.Path, "out"),
                EnginePath = TestPaths.EnginePath,
                ProjectDirectory = temp.Path,
                ExecutionProvider = "cpu",
            };
            Assert.False(run.Execute(), what);
        }

        Assert.NotEmpty(engine.Errors);
        Assert.All(engine.Errors, e => Assert.Matches("^KTU[1-9][0-9]{3}$", e.Code));
        // The resolver reports the policy by its full path; the engine, relative to the project folder it runs in.
        Assert.Contains(engine.Errors, e => e.File is not null && Path.GetFullPath(e.File, temp.Path) == policy);
        Assert.All(engine.Errors, e => Assert.DoesNotContain(e.Message!, c => char.IsControl(c) || char.IsSurrogate(c)));
    }

    [Fact]
    public void Up_to_date_check_sees_changed_bytes_deleted_and_new_exemplars_settings_and_outputs()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("bag", "exemplars/bag", 4);
        var policy = temp.File("bags.ktu.json", BagsPolicy.Replace(",\n  \"general\": { \"exemplars\": [\"general/*/*.png\"] }", string.Empty, StringComparison.Ordinal));
        var exemplars = Directory.GetFiles(Path.Combine(temp.Path, "exemplars", "bag")).Order(StringComparer.Ordinal).ToList();
        var output = temp.File("out/fashion-classifier.onnx", "edited");
        var report = temp.File("out/ktu/ktu-report.json", "{}");
        var stampPath = Path.Combine(temp.Path, "obj", "ktu-gate.stamp");
        string[] settings = ["Mode=Remediate", "ExecutionProvider=cpu"];
        var (resolved, _) = Resolve(policy, TestPaths.SampleModel);
        var files = resolved.Inputs.Select(i => i.ItemSpec).Where(File.Exists).ToList();

        void Stamp(string? recordedOutput = null) => new GateStamp(GateStamp.CurrentVersion, settings, files.Select(f => new StampedFile(f, TestPaths.Sha256(f))).ToList(),
            [new StampedOutput(TestPaths.SampleModel, recordedOutput ?? output, TestPaths.Sha256(recordedOutput ?? output))], [new StampedFile(report, TestPaths.Sha256(report))]).Write(stampPath);

        (bool UpToDate, string Why) Check(string[]? now = null, string mode = "Remediate")
        {
            var engine = new RecordingBuildEngine();
            var (current, _) = Resolve(policy, TestPaths.SampleModel);
            var task = new KtuCheckGateInputs
            {
                BuildEngine = engine, StampFile = stampPath, Settings = now ?? settings, Inputs = current.Inputs, Models = current.ResolvedModels, Mode = mode,
                OutputDirectory = Path.Combine(temp.Path, "out"), ReportDirectory = Path.Combine(temp.Path, "out", "ktu"),
            };
            Assert.True(task.Execute());
            Assert.Equal(task.UpToDate, File.Exists(stampPath));
            return (task.UpToDate, string.Join("\n", engine.Messages.Select(m => m.Message)));
        }

        Assert.False(Check().UpToDate);
        Stamp();
        Assert.True(Check().UpToDate);

        // Same length, same timestamp, other bytes: timestamps alone would skip this.
        var time = File.GetLastWriteTimeUtc(exemplars[0]);
        var bytes = File.ReadAllBytes(exemplars[0]);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(exemplars[0], bytes);
        File.SetLastWriteTimeUtc(exemplars[0], time);
        Assert.Contains("changed", Check().Why, StringComparison.Ordinal);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(exemplars[0], bytes);
        Stamp();
        Assert.True(Check().UpToDate);

        File.Delete(exemplars[1]);
        Assert.Contains("is gone", Check().Why, StringComparison.Ordinal);
        files.Remove(exemplars[1]);
        Stamp();
        Assert.True(Check().UpToDate);

        File.Copy(exemplars[0], Path.Combine(temp.Path, "exemplars", "bag", "new.png"));
        Assert.Contains("is new", Check().Why, StringComparison.Ordinal);
        File.Delete(Path.Combine(temp.Path, "exemplars", "bag", "new.png"));
        Stamp();

        Assert.Contains("a setting changed", Check(["Mode=Verify", "ExecutionProvider=cpu"]).Why, StringComparison.Ordinal);
        Stamp();

        File.Delete(output);
        Assert.Contains("remediated artifact", Check().Why, StringComparison.Ordinal);
        File.WriteAllText(output, "edited");

        // A stamp edited by hand never skips the gate nor ships another file: a recorded output must be the one this gate writes now.
        Stamp();
        Assert.True(Check().UpToDate);
        Stamp(temp.File("elsewhere/fashion-classifier.onnx", "not gated"));
        Assert.Contains("is not one this gate writes", Check().Why, StringComparison.Ordinal);
        Stamp();
        Assert.Contains("is not one this gate writes", Check(mode: "Verify").Why, StringComparison.Ordinal);

        // The report is what the build hands on: deleted or edited since the pass, the gate runs again.
        Stamp();
        File.WriteAllText(report, "{ \"verdict\": \"pass\" }");
        Assert.Contains("report '", Check().Why, StringComparison.Ordinal);
        Stamp();
        File.Delete(report);
        Assert.Contains("is gone", Check().Why, StringComparison.Ordinal);
        File.WriteAllText(report, "{}");
        Stamp();
        Assert.True(Check().UpToDate);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(stampPath))!;
        json["reports"] = new System.Text.Json.Nodes.JsonArray();
        File.WriteAllText(stampPath, json.ToJsonString());
        Assert.Contains("is not recorded", Check().Why, StringComparison.Ordinal);

        File.WriteAllText(stampPath, "{ not a stamp");
        Assert.Contains("unreadable", Check().Why, StringComparison.Ordinal);
    }
}
