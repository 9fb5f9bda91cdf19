using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>
/// A candidate edit is a set of initializer overrides. Where the in-memory judge does not apply, remediation probes candidates with
/// ONNX Runtime, the overrides given to the session (<c>SessionOptions.AddInitializer</c>) instead of a re-serialised model.
/// </summary>
public sealed class EditPlanTests
{
    [Fact]
    public void Probing_with_initializer_overrides_gives_the_results_of_the_written_edit()
    {
        var bag = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, bag)!;
        var model = OnnxGraph.Load(TestPaths.SampleModel, bag)!;
        var site = OnnxGraph.FindSite(model, manifest.Output.Name)!;
        var (weight, bias) = OnnxGraph.ReadSite(model, site, TestPaths.SampleModel);
        var sneaker = manifest.Labels.ToList().IndexOf("sneaker");
        for (var i = 0; i < site.Inputs; i++)
        {
            // Move part of the sneaker row to its sibling sandal, so that the edit changes more than one label's count.
            weight[manifest.Labels.ToList().IndexOf("sandal"), i] += 0.5 * weight[sneaker, i];
        }

        bias[sneaker] -= 1000;
        var files = Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "sneaker"), "*.png").Order(StringComparer.Ordinal).Take(60).ToList();

        using var original = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, bag)!;
        using var written = LoadedModel.Open(TestPaths.SampleModel, OnnxGraph.WithSite(model, site, weight, bias), manifest, ExecutionProviderPreference.Cpu, bag)!;
        using var overridden = LoadedModel.Open(TestPaths.SampleModel, null, manifest, ExecutionProviderPreference.Cpu, bag, null, OnnxGraph.SiteInitializers(site, weight, bias))!;
        Assert.Empty(bag.Items);

        var before = new ClassifierProbe(original).Probe(files, bag);
        var expected = new ClassifierProbe(written).Probe(files, bag);
        var actual = new ClassifierProbe(overridden).Probe(files, bag);
        Assert.True(before.PredictedCounts[sneaker] > 50);
        Assert.Equal(0, actual.PredictedCounts[sneaker]);
        Assert.Equal(expected.PredictedCounts, actual.PredictedCounts);
    }

    [Fact]
    public void Overrides_are_in_the_layout_the_model_stores_and_a_new_bias_needs_a_bias_initializer()
    {
        var site = new EditSite("n", "x", "w", null, Inputs: 3, Outputs: 2, WeightIsOutByIn: false);
        var weight = new double[,] { { 1, 2, 3 }, { 4, 5, 6 } };
        var overrides = OnnxGraph.SiteInitializers(site, weight, new double[2]);
        var only = Assert.Single(overrides);
        Assert.Equal([3L, 2L], only.Shape);
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], only.Values);
        Assert.Throws<InvalidOperationException>(() => OnnxGraph.SiteInitializers(site, weight, [0, 1]));

        var transposed = OnnxGraph.SiteInitializers(site with { Bias = "b", WeightIsOutByIn = true }, weight, [0, 1]);
        Assert.Equal([2L, 3L], transposed[0].Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], transposed[0].Values);
        Assert.Equal("b", transposed[1].Name);
        Assert.Equal([0f, 1f], transposed[1].Values);
    }
}
