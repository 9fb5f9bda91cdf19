using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>A real <c>dotnet build</c> of a model-release project gating the real all-MiniLM-L6-v2 on the TextFacts sample's facts.</summary>
public sealed class TextFactsBuildTests
{
    private static string Facts(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "TextFacts", .. parts]);

    [Fact]
    public void Build_of_the_text_encoder_fails_with_a_located_KTU3001_and_Remediate_unlearns_the_fact_inside_it()
    {
        using var project = new TempFolder();
        var miniLm = Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm");
        DotnetBuild.WriteProject(project, $"""
                <KtuModel Include="{Path.Combine(miniLm, "model.onnx")}" Manifest="artifacts/minilm.ktu.json" />
                <KtuPolicy Include="policies/forget-eiffel-tower.ktu.json" />
            """);

        // The sample's manifest (its vocabulary the one the build extracted), relations, facts and policies, in the sample's layout.
        File.WriteAllText(project.File("artifacts/minilm.ktu.json"),
            File.ReadAllText(Facts("artifacts", "minilm.ktu.json")).Replace("../../../artifacts/minilm/vocab.txt", Path.Combine(miniLm, "vocab.txt").Replace('\\', '/'), StringComparison.Ordinal));
        foreach (var file in Directory.GetFiles(Facts("facts")).Concat(Directory.GetFiles(Facts("policies"), "*", SearchOption.AllDirectories)))
        {
            File.Copy(file, project.File(Path.GetRelativePath(Facts(), file)));
        }

        var result = DotnetBuild.Run(project.Path, "textfacts");
        Assert.True(result.ExitCode == 1, $"dotnet build exited {result.ExitCode}, expected 1:\n{result.Output}");
        Assert.Contains("policies/forget-eiffel-tower.ktu.json(14,5): error KTU3001: 'eiffel-tower' is still known: fine accuracy 1.000 (95% CI 0.610-1.000, n=6) > allowed 0.5", result.Output, StringComparison.Ordinal);
        Assert.Single(result.Output.Split('\n').Where(l => l.Contains("error KTU", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct());

        // Remediate unlearns the fact inside the encoder and ships the edited encoder; the input artifact stays as it was.
        var original = TestPaths.Sha256(Path.Combine(miniLm, "model.onnx"));
        var remediated = DotnetBuild.Run(project.Path, "textfacts-remediate", "-p:KtuGateMode=Remediate");
        Assert.True(remediated.ExitCode == 0 && remediated.Output.Contains("KtuGate: verdict pass", StringComparison.Ordinal),
            $"dotnet build -p:KtuGateMode=Remediate exited {remediated.ExitCode}, expected 0 and a pass:\n{remediated.Output}");
        var bin = Path.Combine(project.Path, "bin", "Debug", "net10.0");
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(bin, "ktu", "ktu-report.json")));
        var model = report.RootElement.GetProperty("models")[0];
        var remediation = model.GetProperty("remediation");
        Assert.Equal("nhl-kl", remediation.GetProperty("method").GetString());
        Assert.Equal("feed-forward:-1", remediation.GetProperty("scope")[0].GetString());
        var edited = remediation.GetProperty("output").GetProperty("sha256").GetString();
        Assert.NotEqual(original, edited);
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(bin, "model.onnx")));
        Assert.Equal(original, TestPaths.Sha256(Path.Combine(miniLm, "model.onnx")));

        // The paper's metrics and general accuracy (the held-out facts) before and after are in the shipped encoder's report.
        var metrics = model.GetProperty("metrics")[0];
        Assert.Equal(0, metrics.GetProperty("forgetFine").GetProperty("successes").GetInt32());
        Assert.Equal(681, metrics.GetProperty("general").GetProperty("n").GetInt32());
        Assert.Equal(424, metrics.GetProperty("baseline").GetProperty("general").GetProperty("successes").GetInt32());
        Assert.True(metrics.GetProperty("qualityUtility").GetDouble() > 0.95, metrics.ToString());
    }
}
