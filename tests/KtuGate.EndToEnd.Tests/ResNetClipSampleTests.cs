using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>A real <c>dotnet build</c> of samples/ResNetClip: the ImageNet ResNet-18 of its NuGet package composed with the committed projection at build time, probed zero-shot against MiniLM.</summary>
public sealed class ResNetClipSampleTests
{
    private static string Sample(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "ResNetClip", .. parts]);

    [Fact]
    public void Sample_build_composes_the_tower_and_fails_with_a_located_KTU3001_because_it_still_knows_sneakers()
    {
        using var temp = new TempFolder();
        var reports = Path.Combine(temp.Path, "ktu");
        var binlog = Path.Combine(temp.Path, "resnetclip.binlog");
        var projectionBefore = TestPaths.Sha256(Sample("artifacts", "projection.bin"));
        var policyBefore = TestPaths.Sha256(Sample("policies", "retire-sneaker.ktu.json"));

        // The report goes to a folder of the test's own; the build itself is the sample's, as a user runs it.
        var result = DotnetBuild.Exec(Sample(),
            ["build", "-nologo", "-clp:NoSummary;ForceNoAlign", $"-bl:{binlog}", $"-p:KtuReportDir={reports}/", "-p:KtuExecutionProvider=cpu"],
            binlog);

        Assert.True(result.ExitCode == 1, $"dotnet build exited {result.ExitCode}, expected 1:\n{result.Output}");
        Assert.Matches(@"policies/retire-sneaker\.ktu\.json\(12,5\): error KTU3001: 'sneaker' is still known: fine accuracy 0\.\d{3} \(95% CI 0\.\d{3}-[01]\.\d{3}, n=120\) > allowed 0\.15", result.Output);

        var tower = Path.Combine(TestPaths.RepoRoot, "artifacts", "resnetclip", "resnet-clip.onnx");
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(reports, "ktu-report.json")));
        var model = report.RootElement.GetProperty("models")[0];
        Assert.Equal("fail", report.RootElement.GetProperty("verdict").GetString());
        Assert.Equal(TestPaths.Sha256(tower), model.GetProperty("artifact").GetProperty("sha256").GetString());

        // The composed tower is ResNet-18 behind the projection: tens of megabytes of weights, not a committed toy.
        Assert.True(new FileInfo(tower).Length > 40_000_000, $"{tower} has {new FileInfo(tower).Length} bytes");
        Assert.Equal(projectionBefore, TestPaths.Sha256(Sample("artifacts", "projection.bin")));
        Assert.Equal(policyBefore, TestPaths.Sha256(Sample("policies", "retire-sneaker.ktu.json")));
    }
}
