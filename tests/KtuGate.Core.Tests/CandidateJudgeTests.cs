using Google.Protobuf;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;
using Onnx;

namespace KtuGate.Core.Tests;

/// <summary>
/// The two candidate judges on real sample models, end to end through <see cref="Gate.Run"/>: the ONNX Runtime judge (the
/// original artifact probed with each candidate's initializers given to the session) agrees with the site judge where both apply,
/// and the gate uses it where the site judge does not reproduce the original's results.
/// </summary>
public sealed class CandidateJudgeTests
{
    /// <summary>
    /// Quality-utility may differ by float rounding only: the site judge scores recorded site inputs in double precision, ONNX
    /// Runtime in float32; the verdicts (passed, violations, the thresholds missed) must be the same.
    /// </summary>
    private const double QualityUtilityTolerance = 1e-6;

    private static string Clip(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "FashionClip", .. parts]);

    private static GateResult Remediate(string artifact, string manifest, string policy, string outputDirectory, string baseDirectory, bool probeEveryCandidate)
        => Gate.Run(new GateRequest([new GateModelInput(artifact, manifest)], [policy], Path.Combine(outputDirectory, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = outputDirectory,
            BaseDirectory = baseDirectory,
            // One method, so that both runs try the same settings (gradient methods stop early only under the site judge).
            RemedyMethods = ["closed-form"],
            ProbeEveryCandidate = probeEveryCandidate,
        });

    [Fact]
    public void Onnx_runtime_judge_agrees_with_the_site_judge_on_a_real_last_layer_edit()
    {
        using var temp = new TempFolder();
        var bySite = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, Path.Combine(temp.Path, "site"), TestPaths.Sample(), false);
        var byRuntime = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, Path.Combine(temp.Path, "ort"), TestPaths.Sample(), true);

        var site = Assert.Single(bySite.Report.Models).Remediation!;
        var runtime = Assert.Single(byRuntime.Report.Models).Remediation!;
        Assert.True(site.JudgedInMemory);
        Assert.False(runtime.JudgedInMemory);
        Assert.Equal("/fc2/Gemm", runtime.Site.Node);

        // At least one setting is rejected before one passes, so that both judges give both verdicts.
        Assert.True(site.Tried.Count >= 2, $"{site.Tried.Count} setting(s) tried");
        Assert.Contains(site.Tried, t => !t.Passed);
        Assert.Equal(site.Tried.Select(t => (t.Method, t.Settings, t.Passed, t.Violations, string.Join("\n", t.Missed))),
            runtime.Tried.Select(t => (t.Method, t.Settings, t.Passed, t.Violations, string.Join("\n", t.Missed))));
        foreach (var (s, r) in site.Tried.Zip(runtime.Tried))
        {
            Assert.Equal(s.QualityUtility.HasValue, r.QualityUtility.HasValue);
            Assert.InRange(r.QualityUtility ?? 0, (s.QualityUtility ?? 0) - QualityUtilityTolerance, (s.QualityUtility ?? 0) + QualityUtilityTolerance);
        }

        // The site judge never ran the model for a rejected setting; the ONNX Runtime judge ran it for every one.
        Assert.All(site.Tried.Where(t => !t.Passed), t => Assert.False(t.Probed));
        Assert.All(runtime.Tried, t => Assert.True(t.Probed));

        // Same chosen edit, same bytes, same verdict.
        Assert.Equal(GateOutcome.Pass, bySite.Outcome);
        Assert.Equal(bySite.Outcome, byRuntime.Outcome);
        Assert.Equal(site.Output!.Sha256, runtime.Output!.Sha256);
    }

    [Fact]
    public void Gate_judges_with_onnx_runtime_where_the_site_judge_does_not_reproduce_the_original()
    {
        using var temp = new TempFolder();
        var (artifact, manifest) = ShiftedClip(temp);

        var result = Remediate(artifact, manifest, Clip("policies", "retire-shirt.ktu.json"), Path.Combine(temp.Path, "out"), Clip(), false);

        Assert.True(result.Report.Models.Count == 1, string.Join("\n", result.Diagnostics));
        var remediation = result.Report.Models[0].Remediation;
        Assert.NotNull(remediation);
        Assert.Equal("/proj/Gemm", remediation.Site.Node);

        // The shift after the edit site is not a positive scale, so scoring the site's recorded inputs misses the original's results:
        // every setting is judged by probing the original artifact with the candidate's initializers.
        Assert.False(remediation.JudgedInMemory);
        Assert.NotEmpty(remediation.Tried);
        Assert.All(remediation.Tried, t => Assert.True(t.Probed));
    }

    /// <summary>
    /// The FashionClip image tower with a constant vector added to its embedding after normalisation: the last linear layer is
    /// still the edit site, but what the probes read is no longer its output up to a positive scale.
    /// </summary>
    private static (string Artifact, string Manifest) ShiftedClip(TempFolder temp)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Clip("artifacts", "fashion-clip.onnx")));
        var width = OnnxGraph.FindSite(model, "embedding")!.Outputs;
        var producer = model.Graph.Node.Single(n => n.Output.Contains("embedding"));
        producer.Output[producer.Output.IndexOf("embedding")] = "embedding_unshifted";
        var shift = new TensorProto { Name = "shift", DataType = (int)TensorProto.Types.DataType.Float, Dims = { width } };
        shift.FloatData.AddRange(Enumerable.Range(0, width).Select(i => i % 2 == 0 ? 0.02f : -0.02f));
        model.Graph.Initializer.Add(shift);
        model.Graph.Node.Add(new NodeProto { Name = "shift_add", OpType = "Add", Input = { "embedding_unshifted", "shift" }, Output = { "embedding" } });
        var artifact = Path.Combine(temp.Path, "model", "shifted-clip.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(artifact)!);
        File.WriteAllBytes(artifact, model.ToByteArray());

        // The manifest's text tower paths are relative to the sample's manifest: made absolute for the copy.
        var minilm = Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm") + Path.DirectorySeparatorChar;
        var text = File.ReadAllText(Clip("artifacts", "fashion-clip.ktu.json")).Replace("../../../artifacts/minilm/", minilm, StringComparison.Ordinal);
        var manifest = Path.Combine(temp.Path, "model", "shifted-clip.ktu.json");
        File.WriteAllText(manifest, text);
        return (artifact, manifest);
    }
}
