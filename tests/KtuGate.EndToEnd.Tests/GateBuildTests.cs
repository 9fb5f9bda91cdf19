using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>Real <c>dotnet build</c> runs of model-release projects that use the gate.</summary>
public sealed class GateBuildTests
{
    private const string Items = """
            <KtuModel Include="artifacts/fashion-classifier.onnx" Manifest="artifacts/fashion-classifier.ktu.json" />
            <KtuPolicy Include="policies/*.ktu.json" />
        """;

    private const string PassingPolicy = """
        {
          "ktuPolicy": 1,
          "id": "keep-bags",
          "concepts": {
            "bags": {},
            "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] }
          },
          "retain": [
            { "concept": "bag", "minAccuracy": 0.9 }
          ]
        }
        """;

    private static string ReportPath(TempFolder project) => Path.Combine(project.Path, "bin", "Debug", "net10.0", "ktu", "ktu-report.json");

    private static void KeepLogOnFailure(DotnetBuild.Result result, bool ok)
    {
        if (!ok)
        {
            var kept = Path.Combine(TestPaths.RepoRoot, "artifacts", "test-logs", Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(result.BinaryLog)))! + "-" + Path.GetFileName(result.BinaryLog));
            Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
            File.Copy(result.BinaryLog, kept, overwrite: true);
        }
    }

    private static void AssertExit(int expected, DotnetBuild.Result result)
    {
        KeepLogOnFailure(result, result.ExitCode == expected);
        Assert.True(result.ExitCode == expected, $"dotnet build exited {result.ExitCode}, expected {expected}:\n{result.Output}");
    }

    private static void AssertOutput(string expected, DotnetBuild.Result result)
    {
        var found = result.Output.Contains(expected, StringComparison.Ordinal);
        KeepLogOnFailure(result, found);
        Assert.True(found, $"'{expected}' not in the output of dotnet build:\n{result.Output}");
    }

    [Fact]
    public void Build_fails_with_a_located_KTU3001_when_the_model_still_knows_sneakers()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.CopySamplePolicy(string.Empty, 300);
        var policyBefore = TestPaths.Sha256(TestPaths.SamplePolicy);

        var first = DotnetBuild.Run(project.Path, "first");
        AssertExit(1, first);
        Assert.Matches(@"policies/retire-sneaker\.ktu\.json\(6,5\): error KTU3001: 'sneaker' is still known: fine accuracy 0\.\d{3} \(95% CI 0\.\d{3}-0\.\d{3}, n=300\) > allowed 0\.05", first.Output);
        // One error, though the console logger repeats it in its summary.
        Assert.Single(first.Output.Split('\n').Where(l => l.Contains("error KTU", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct());

        // Every rendering is written next to the JSON report, pass or fail.
        foreach (var name in new[] { "ktu-report.sarif", "ktu-report.md", "ktu-report.html", "ktu-report.junit.xml", "ktu-report.intoto.json" })
        {
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(ReportPath(project))!, name)), name);
        }

        using (var report = JsonDocument.Parse(File.ReadAllBytes(ReportPath(project))))
        {
            Assert.Equal("fail", report.RootElement.GetProperty("verdict").GetString());
            Assert.Equal(6, report.RootElement.GetProperty("summary").GetProperty("clauses").GetInt32());
            Assert.Equal(TestPaths.Sha256(TestPaths.SampleModel),
                report.RootElement.GetProperty("models")[0].GetProperty("artifact").GetProperty("sha256").GetString());
        }

        // A failed gate is never skipped as up to date.
        var second = DotnetBuild.Run(project.Path, "second");
        AssertExit(1, second);
        AssertOutput("error KTU3001", second);
        Assert.Equal(policyBefore, TestPaths.Sha256(TestPaths.SamplePolicy));
    }

    [Fact]
    public void Passing_gate_is_skipped_when_nothing_changed_and_reruns_when_an_exemplar_does()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.CopyExemplars("bag", "policies/exemplars/bag", 50);
        project.File("policies/keep-bags.ktu.json", PassingPolicy);

        var first = DotnetBuild.Run(project.Path, "first", "-v:n");
        AssertExit(0, first);
        AssertOutput("KtuGate: verdict pass", first);
        Assert.True(File.Exists(ReportPath(project)));

        var second = DotnetBuild.Run(project.Path, "second", "-v:n");
        AssertExit(0, second);
        AssertOutput("Skipping target \"_KtuRunGate\" because all output files are up-to-date", second);
        Assert.DoesNotContain("KtuGate: verdict", second.Output, StringComparison.Ordinal);

        // Replacing one exemplar's bytes makes the gate run again.
        var exemplar = Directory.GetFiles(Path.Combine(project.Path, "policies", "exemplars", "bag")).Order(StringComparer.Ordinal).First();
        File.Copy(Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "bag")).Order(StringComparer.Ordinal).Last(), exemplar, overwrite: true);
        File.SetLastWriteTimeUtc(exemplar, DateTime.UtcNow.AddSeconds(5));
        var third = DotnetBuild.Run(project.Path, "third", "-v:n");
        AssertExit(0, third);
        AssertOutput("KtuGate: verdict pass", third);

        // So does changing a setting the gate depends on.
        var fourth = DotnetBuild.Run(project.Path, "fourth", "-v:n", "-p:KtuExecutionProvider=auto");
        AssertExit(0, fourth);
        AssertOutput("KtuGate: verdict pass", fourth);
    }

    [Fact]
    public void Building_twice_with_node_reuse_does_not_trip_on_locked_files()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.CopyExemplars("bag", "policies/exemplars/bag", 30);
        project.File("policies/keep-bags.ktu.json", PassingPolicy);
        try
        {
            AssertExit(0, DotnetBuild.Run(project.Path, "first", "-nodeReuse:true", "-m:2"));

            // A clean rebuild rewrites the report and stamp while any reused node is still alive.
            var second = DotnetBuild.Run(project.Path, "second", "-nodeReuse:true", "-m:2", "--no-incremental");
            AssertExit(0, second);
            Assert.True(File.Exists(ReportPath(project)));
        }
        finally
        {
            DotnetBuild.Exec(project.Path, ["build-server", "shutdown", "--msbuild"]);
        }
    }

    [Fact]
    public void Gate_mode_off_skips_the_gate()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.File("policies/broken.ktu.json", "{ not json");

        var off = DotnetBuild.Run(project.Path, "off", "-p:KtuGateMode=Off");
        AssertExit(0, off);
        Assert.False(File.Exists(ReportPath(project)));

        var on = DotnetBuild.Run(project.Path, "on");
        AssertExit(1, on);
        AssertOutput("policies/broken.ktu.json(1,3): error KTU1001", on);
    }

    [Fact]
    public void Remediate_mode_writes_the_unlearned_artifact_and_the_build_passes()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.CopySamplePolicy(string.Empty, 300);

        var build = DotnetBuild.Run(project.Path, "remediate", "-p:KtuGateMode=Remediate");
        AssertExit(0, build);
        AssertOutput("KtuGate: verdict pass", build);
        var output = Path.Combine(project.Path, "bin", "Debug", "net10.0", "fashion-classifier.onnx");
        Assert.True(File.Exists(output));
        Assert.Equal(TestPaths.Sha256(TestPaths.SampleModel), TestPaths.Sha256(Path.Combine(project.Path, "artifacts", "fashion-classifier.onnx")));
        using var report = JsonDocument.Parse(File.ReadAllBytes(ReportPath(project)));
        Assert.Equal("remediate", report.RootElement.GetProperty("mode").GetString());
        Assert.Equal(TestPaths.Sha256(output), report.RootElement.GetProperty("models")[0].GetProperty("remediation").GetProperty("output").GetProperty("sha256").GetString());
    }

    [Fact]
    public void Remediate_mode_with_thresholds_out_of_reach_fails_with_KTU4020_and_ships_nothing()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, Items);
        project.CopyExemplars("sneaker", "policies/exemplars/sneaker", 40);
        project.CopyExemplars("sandal", "policies/exemplars/sandal", 40);

        // 0 of 40 still has an upper bound of 0.088: no edit can prove at most 1% on 40 exemplars, let alone on the 16 held out
        // from the edit to judge it (an upper bound of 0.01 needs 381 held out): insufficient evidence, nothing tried.
        project.File("policies/impossible.ktu.json", """
            { "ktuPolicy": 1, "id": "impossible",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] }, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.01 } ],
              "retain": [ { "concept": "sandal", "minAccuracy": 0.9 } ],
              "remedy": { "allowed": true } }
            """);

        var build = DotnetBuild.Run(project.Path, "remediate-impossible", "-p:KtuGateMode=Remediate");
        AssertExit(1, build);
        AssertOutput("policies/impossible.ktu.json(3,15): error KTU4020: 'sneaker': 16 of its 40 exemplars are held out from the edit", build);
        AssertOutput("policies/impossible.ktu.json(3,15): error KTU3001", build);
        Assert.False(File.Exists(Path.Combine(project.Path, "bin", "Debug", "net10.0", "fashion-classifier.onnx")));
    }
}
