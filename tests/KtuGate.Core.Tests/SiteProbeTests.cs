using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Tests;
using KtuGate.Unlearning;

namespace KtuGate.Core.Tests;

/// <summary>
/// Remediation judges candidate edits from the edit site's inputs recorded while the original was probed. These tests hold that
/// judgement to ONNX Runtime's on written models, and use it to show what stopping a gradient edit early does.
/// </summary>
public sealed class SiteProbeTests
{
    private const int Sneaker = 7;

    private static IReadOnlyList<string> Exemplars(params string[] labels)
        => [.. labels.SelectMany(l => Directory.GetFiles(TestPaths.Sample("policies", "exemplars", l), "*.png").Order(StringComparer.Ordinal))];

    /// <summary>Opens the classifier with its edit site's input as an extra output, and probes the exemplars, recording that input.</summary>
    private static (global::Onnx.ModelProto Graph, EditSite Site, double[,] Weight, double[] Bias, ModelManifest Manifest, SiteActivations Recorded, ProbeTally Tally, ProbeTally Flipped) ProbeOriginal(IReadOnlyList<string> files)
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        var graph = OnnxGraph.Load(TestPaths.SampleModel, diagnostics)!;
        var site = OnnxGraph.FindSite(graph, manifest.Output.Name)!;
        var (weight, bias) = OnnxGraph.ReadSite(graph, site, TestPaths.SampleModel);
        using var model = LoadedModel.Open(TestPaths.SampleModel, OnnxGraph.WithOutput(graph, site.Input), manifest, ExecutionProviderPreference.Cpu, diagnostics)!;
        var recorded = new SiteActivations(site.Input, site.Inputs);
        var tally = new ClassifierProbe(model) { Record = recorded }.Probe(files, diagnostics);
        var flipped = new ClassifierProbe(model) { Record = recorded, Perturbation = Perturbation.Flip }.Probe(files, diagnostics);
        Assert.Empty(diagnostics.Items);
        return (graph, site, weight, bias, manifest, recorded, tally, flipped);
    }

    private static ProbeTally Judge(SiteActivations recorded, double[,] weight, double[] bias, IReadOnlyList<string> files, Perturbation perturbation = Perturbation.None)
        => new SiteProbe(recorded, weight, bias, null, null, null) { Perturbation = perturbation }.Probe(Exemplar.Images(files), -1, [], new DiagnosticBag());

    [Fact]
    public void Judging_an_edit_from_recorded_site_inputs_matches_onnx_runtime_on_the_written_model()
    {
        var files = Exemplars("sneaker", "sandal", "ankle-boot", "shirt");
        var (graph, site, weight, bias, manifest, recorded, original, flipped) = ProbeOriginal(files);
        Assert.Equal(2 * files.Count, recorded.Count);

        // The original's weights reproduce its probe results exactly, as they are and mirrored.
        Assert.Equal(original.PredictedCounts, Judge(recorded, weight, bias, files).PredictedCounts);
        Assert.Equal(flipped.PredictedCounts, Judge(recorded, weight, bias, files, Perturbation.Flip).PredictedCounts);

        // An edit that weakens the sneaker logit: judged from the recorded inputs, and by ONNX Runtime on the written model.
        var edited = (double[,])weight.Clone();
        var editedBias = (double[])bias.Clone();
        for (var i = 0; i < site.Inputs; i++)
        {
            edited[Sneaker, i] *= 0.6;
        }

        editedBias[Sneaker] -= 1.5;
        using var temp = new TempFolder();
        var path = Path.Combine(temp.Path, "edited.onnx");
        File.WriteAllBytes(path, OnnxGraph.WithSite(graph, site, edited, editedBias));
        var diagnostics = new DiagnosticBag();
        using var model = LoadedModel.Open(path, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;
        var probed = new ClassifierProbe(model).Probe(files, diagnostics);
        var judged = Judge(recorded, edited, editedBias, files);

        Assert.NotEqual(original.PredictedCounts[Sneaker], probed.PredictedCounts[Sneaker]);
        Assert.Equal(probed.PredictedCounts, judged.PredictedCounts);
        Assert.Equal(probed.N, judged.N);
    }

    [Fact]
    public void Gradient_ascent_run_to_the_end_destroys_what_it_should_keep_and_stopping_at_the_first_accepted_checkpoint_keeps_it()
    {
        var forgetFiles = Exemplars("sneaker");
        var retainFiles = Exemplars("sandal", "ankle-boot", "t-shirt", "bag");
        var (_, _, weight, bias, manifest, recorded, original, _) = ProbeOriginal([.. forgetFiles, .. retainFiles]);
        var identity = Enumerable.Range(0, 10).Select(j => Enumerable.Range(0, 10).Select(k => j == k ? 1.0 : 0.0).ToArray()).ToList();
        var groups = Enumerable.Range(0, 10).Select(l => manifest.CoarseOfLabel[l]).ToList();
        var examples = forgetFiles.Select(f => new GradientExample(recorded.Get(Perturbation.None, f)!, new HashSet<int> { Sneaker }, [5, 9]))
            .Concat(retainFiles.Select(f => new GradientExample(recorded.Get(Perturbation.None, f)!, null, null))).ToList();
        var settings = new GradientSettings("ga", 1e-3, 0, 150);

        double Recall(double[,] w, double[] b, IReadOnlyList<string> files)
        {
            var tally = Judge(recorded, w, b, files);
            return tally.PredictedCounts[Sneaker] / (double)tally.N;
        }

        double RetainAccuracy(double[,] w, double[] b)
            => retainFiles.GroupBy(f => Path.GetFileName(Path.GetDirectoryName(f))!)
                .Sum(g => Judge(recorded, w, b, g.ToList()).PredictedCounts[ConceptBinding.FindLabel(manifest, g.Key)]) / (double)retainFiles.Count;

        var before = RetainAccuracy(weight, bias);
        var (full, fullBias, fullSteps) = GradientEdit.Optimize(weight, bias, identity, groups, false, 1, examples, settings, 2.0);
        var (early, earlyBias, earlySteps) = GradientEdit.Optimize(weight, bias, identity, groups, false, 1, examples, settings, 2.0,
            (w, b) => Recall(w, b, forgetFiles) <= 0.02);

        Assert.Equal(150, fullSteps);
        Assert.True(earlySteps < 150, $"stopped after {earlySteps} steps");
        Assert.True(Recall(early, earlyBias, forgetFiles) <= 0.02);
        Assert.True(RetainAccuracy(early, earlyBias) >= before - 0.02, $"kept {RetainAccuracy(early, earlyBias):0.000} of {before:0.000}");
        Assert.True(RetainAccuracy(full, fullBias) < before - 0.2, $"kept {RetainAccuracy(full, fullBias):0.000} of {before:0.000}");
        Assert.True(original.PredictedCounts[Sneaker] > 250);
    }
}
