using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>A real <c>dotnet build</c> of a model-release project gating the TinyLm sample's causal language model.</summary>
public sealed class TinyLmBuildTests
{
    private static string TinyLm(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "TinyLm", .. parts]);

    [Fact]
    public void Build_of_the_language_model_fails_with_a_located_KTU3001_on_each_forget_set_person_and_Remediate_unlearns_them()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, """
                <KtuModel Include="artifacts/tinylm.onnx" Manifest="artifacts/tinylm.ktu.json" />
                <KtuPolicy Include="policies/*.ktu.json" />
            """);

        // The sample's decoder, retain model, tokenizer, manifest, question/answer records and policy, in the sample's layout (the manifest's paths are relative).
        foreach (var file in new[] { "artifacts/tinylm.onnx", "artifacts/tinylm-retain.onnx", "artifacts/tinylm.tokenizer.model", "artifacts/tinylm.ktu.json", "qa/forget.jsonl", "qa/retain.jsonl", "qa/world.jsonl" })
        {
            File.Copy(TinyLm(file), project.File(file));
        }

        foreach (var file in Directory.GetFiles(TinyLm("policies"), "*", SearchOption.AllDirectories))
        {
            File.Copy(file, project.File(Path.GetRelativePath(TinyLm(), file)));
        }

        var result = DotnetBuild.Run(project.Path, "tinylm");
        Assert.True(result.ExitCode == 1, $"dotnet build exited {result.ExitCode}, expected 1:\n{result.Output}");
        Assert.Matches(@"policies/forget-five-people\.ktu\.json\(13,5\): error KTU3001: 'torka-sundel' is still known: fine accuracy 1\.000 \(95% CI 0\.\d{3}-1\.000, n=2\) > allowed 0\.7", result.Output);
        var errors = result.Output.Split('\n').Where(l => l.Contains("error KTU", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct().ToList();
        Assert.Equal(5, errors.Count);
        Assert.All(errors, e => Assert.Contains("error KTU3001", e, StringComparison.Ordinal));

        // Remediate unlearns the five inside the decoder and ships the edited decoder; the input artifact stays as it was.
        var original = TestPaths.Sha256(project.File("artifacts/tinylm.onnx"));
        var remediated = DotnetBuild.Run(project.Path, "tinylm-remediate", "-p:KtuGateMode=Remediate");
        Assert.True(remediated.ExitCode == 0 && remediated.Output.Contains("KtuGate: verdict pass", StringComparison.Ordinal),
            $"dotnet build -p:KtuGateMode=Remediate exited {remediated.ExitCode}, expected 0 and a pass:\n{remediated.Output}");
        var bin = Path.Combine(project.Path, "bin", "Debug", "net10.0");
        using var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(bin, "ktu", "ktu-report.json")));
        var remediation = report.RootElement.GetProperty("models")[0].GetProperty("remediation");
        Assert.Equal("npo-kl", remediation.GetProperty("method").GetString());
        var edited = remediation.GetProperty("output").GetProperty("sha256").GetString();
        Assert.NotEqual(original, edited);
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(bin, "tinylm.onnx")));
        Assert.Equal(original, TestPaths.Sha256(project.File("artifacts/tinylm.onnx")));

        // The manifest names the retain model: the shipped decoder's report carries its forget quality against it.
        var quality = report.RootElement.GetProperty("models")[0].GetProperty("forgetQuality");
        Assert.Equal(10, quality.GetProperty("n").GetInt32());
        Assert.Equal(TestPaths.Sha256(project.File("artifacts/tinylm-retain.onnx")), quality.GetProperty("retainModel").GetProperty("sha256").GetString());
    }
}
