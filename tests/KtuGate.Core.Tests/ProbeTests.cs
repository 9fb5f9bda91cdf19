using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class ProbeTests
{
    private static LoadedModel OpenSample(DiagnosticBag diagnostics)
    {
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        return LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Auto, diagnostics)!;
    }

    private static string[] Exemplars(string label) =>
        Directory.GetFiles(TestPaths.Sample("policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Real_classifier_recognises_its_classes_on_real_exemplars()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var probe = new ClassifierProbe(model, batchSize: 64);
        var sneaker = model.Manifest.Labels.ToList().IndexOf("sneaker");
        var bag = model.Manifest.Labels.ToList().IndexOf("bag");

        var sneakers = probe.Probe(Exemplars("sneaker"), diagnostics);
        var bags = probe.Probe(Exemplars("bag"), diagnostics);

        Assert.DoesNotContain(diagnostics.Items, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(300, sneakers.N);
        Assert.Equal(300, sneakers.PredictedCounts.Sum());
        Assert.InRange(sneakers.PredictedCounts[sneaker] / 300.0, 0.9, 1.0);
        Assert.InRange(bags.PredictedCounts[bag] / 300.0, 0.9, 1.0);
        Assert.True(sneakers.PredictedCounts[bag] < 10);
        Assert.All(sneakers.Samples[sneaker], f => Assert.StartsWith(TestPaths.Sample("policies", "exemplars", "sneaker"), f, StringComparison.Ordinal));
    }

    [Fact]
    public void Execution_provider_is_reported_and_cpu_can_be_forced()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        using var cpu = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;
        Assert.Equal(SessionFactory.Cpu, cpu.ExecutionProvider);
        Assert.Empty(diagnostics.Items);

        using var auto = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Auto, diagnostics)!;
        if (auto.ExecutionProvider == SessionFactory.Cpu)
        {
            // Without a usable CUDA the fallback is announced, not silent.
            Assert.Contains(diagnostics.Items, d => d.Code == "KTU5001" && d.Severity == DiagnosticSeverity.Info);
        }
        else
        {
            Assert.Equal(SessionFactory.Cuda, auto.ExecutionProvider);
        }
    }

    [Fact]
    public void Batch_size_does_not_change_the_predictions()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var files = Exemplars("shirt").Take(70).ToArray();

        var one = new ClassifierProbe(model, batchSize: 1).Probe(files, diagnostics);
        var many = new ClassifierProbe(model, batchSize: 32).Probe(files, diagnostics);

        Assert.Equal(one.PredictedCounts, many.PredictedCounts);
        Assert.Equal(70, many.N);
    }

    [Fact]
    public void Undecodable_exemplar_is_reported_and_left_out_of_n()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "x", 5);
        var fake = temp.File("x/zz-fake.png", "not an image");
        var truncated = temp.File("x/zz-truncated.png");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Exemplars("sandal")[0])[..40]);
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);

        var tally = new ClassifierProbe(model).Probe(Directory.GetFiles(Path.Combine(temp.Path, "x")).Order(StringComparer.Ordinal), diagnostics);

        Assert.Equal(5, tally.N);
        var errors = diagnostics.Items.Where(d => d.Code == "KTU2008").ToList();
        Assert.Equal([fake, truncated], errors.Select(e => e.Location!.File));
    }

    [Fact]
    public void Larger_rgba_images_are_resized_and_normalised()
    {
        // A larger RGBA image is resized to the 28x28 grayscale input and normalised as the manifest says.
        using var temp = new TempFolder();
        var path = temp.File("big.png");
        using (var bitmap = new SkiaSharp.SKBitmap(56, 56))
        {
            bitmap.Erase(new SkiaSharp.SKColor(255, 255, 255));
            using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }

        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        var buffer = new float[28 * 28];
        Assert.Null(ImageDecoder.TryDecode(path, manifest.Input, manifest.Preprocess, buffer));
        var white = (float)((255 * manifest.Preprocess.Scale - 0.2860) / 0.3530);
        Assert.All(buffer, v => Assert.Equal(white, v, 3));
    }
}
