using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>
/// ONNX Runtime keeps a pre-packed copy of constant MatMul/Gemm weights on the CPU; where twice the weights would exceed the memory
/// limit the gate opens the model without it (KTU5070, info) and the results stay the same (bench/results/large-model.md measures the memory).
/// </summary>
public sealed class WeightMemoryTests
{
    [Fact]
    public void A_limit_below_twice_the_weights_holds_them_once_with_the_same_predictions()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        var weights = ModelFile.WeightBytes(OnnxGraph.Load(TestPaths.SampleModel, diagnostics)!);
        var files = Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "sneaker"), "*.png").Order(StringComparer.Ordinal).Take(100).ToArray();

        var roomy = new DiagnosticBag();
        using var packed = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, roomy, new ModelLimits((long)(2.5 * weights), 64))!;
        var tight = new DiagnosticBag();
        using var once = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, tight, new ModelLimits((long)(1.5 * weights), 64))!;

        Assert.DoesNotContain(roomy.Items, d => d.Code == "KTU5070");
        var held = Assert.Single(tight.Items, d => d.Code == "KTU5070");
        Assert.Equal(DiagnosticSeverity.Info, held.Severity);
        Assert.Equal(TestPaths.SampleModel, held.Location!.File);
        Assert.Contains(((long)weights).ToString(System.Globalization.CultureInfo.InvariantCulture), held.Message, StringComparison.Ordinal);
        Assert.Equal(new ClassifierProbe(packed).Probe(files, roomy).PredictedCounts, new ClassifierProbe(once).Probe(files, tight).PredictedCounts);
        Assert.DoesNotContain(tight.Items, d => d.Severity == DiagnosticSeverity.Error);
    }
}
