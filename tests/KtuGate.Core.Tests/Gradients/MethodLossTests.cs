using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Onnx;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace KtuGate.Tests.Gradients;

/// <summary>The methods' loss sub-graphs, differentiated by <see cref="GradientBuilder"/> through the sample classifier, give the last layer the gradient <see cref="GradientEdit"/> computes analytically (same loss, same weights).</summary>
public sealed class MethodLossTests
{
    private const int Batch = 12;
    private const int Forget = 6;
    private const int Classes = 10;
    private const int Sneaker = 7;

    // Per class its coarse group in the sample's manifest: tops 0, bottoms 1, dresses 2, footwear 3, bags 4.
    private static readonly int[] s_groupOfClass = [0, 1, 0, 2, 0, 3, 0, 3, 4, 3];

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public MethodLossTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    [Theory]
    [InlineData("nhl-kl", 4.0)]
    [InlineData("ga", 0.0)]
    [InlineData("ga-kl", 1.0)]
    [InlineData("npo-kl", 4.0)]
    public void Last_layer_gradient_equals_the_analytic_one(string method, double klWeight)
    {
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(TestPaths.SampleModel, diagnostics)!;
        var site = OnnxGraph.FindSite(model, "logits")!;
        var (weight, bias) = OnnxGraph.ReadSite(model, site, TestPaths.SampleModel);
        var random = new Random(17);
        var images = Enumerable.Range(0, Batch * 28 * 28).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var (activations, logits) = SiteInputsAndLogits(model, site, images);

        // Taken away from the original weights, so that the KL terms have a gradient too.
        var moved = (double[,])weight.Clone();
        for (var o = 0; o < site.Outputs; o++)
        {
            for (var i = 0; i < site.Inputs; i++)
            {
                moved[o, i] += 0.05 * (random.NextDouble() - 0.5);
            }
        }

        var movedBias = bias.Select(b => b + 0.1 * (random.NextDouble() - 0.5)).ToArray();
        var directions = Enumerable.Range(0, Classes).Select(c => Enumerable.Range(0, Classes).Select(k => k == c ? 1.0 : 0.0).ToArray()).ToList();
        var allowed = new List<int> { 5, 9 };
        var examples = activations.Select((a, k) => k < Forget ? new GradientExample(a, new HashSet<int> { Sneaker }, allowed) : new GradientExample(a, null, null)).ToList();
        var settings = new GradientSettings(method, 1e-3, klWeight, 1);
        const double margin = 3;

        var (expectedWeight, expectedBias) = GradientEdit.GradientAt(weight, bias, moved, movedBias, directions, s_groupOfClass, false, 1, examples, settings, margin);

        var loss = MethodLoss.Build("logits", MethodLoss.TermOf(method), directions, s_groupOfClass, false, 1, margin);
        var built = GradientBuilder.Build(model, [site.Weight, site.Bias!], loss, diagnostics);
        Assert.True(built is not null, string.Join("; ", diagnostics.Items));
        var overrides = OnnxGraph.SiteInitializers(site, moved, movedBias);
        var reference = logits.Select(l => DeepEditFeeds.Softmax([.. l.Select(x => (double)x)])).ToArray();
        var forbidden = Rows(k => c => k < Forget && c == Sneaker ? 1 : 0);
        var allowedMask = Rows(k => c => k < Forget && allowed.Contains(c) ? 1 : 0);
        var feeds = new Dictionary<string, OrtValue>
        {
            ["image"] = OrtValue.CreateTensorValueFromMemory(images, [Batch, 1, 28, 28]),
            [site.Weight] = OrtValue.CreateTensorValueFromMemory(overrides[0].Values, overrides[0].Shape),
            [site.Bias!] = OrtValue.CreateTensorValueFromMemory(overrides[1].Values, overrides[1].Shape),
            [MethodLoss.Forbidden] = OrtValue.CreateTensorValueFromMemory(forbidden, [Batch, Classes]),
            [MethodLoss.Allowed] = OrtValue.CreateTensorValueFromMemory(allowedMask, [Batch, Classes]),
            [MethodLoss.Reference] = OrtValue.CreateTensorValueFromMemory(reference.SelectMany(r => r).ToArray(), [Batch, Classes]),
            [MethodLoss.IsForget] = PerExemplar(k => k < Forget ? 1 : 0),
            [MethodLoss.ForgetWeight] = PerExemplar(k => k < Forget ? 1.0 / Forget : 0),
            [MethodLoss.RetainWeight] = PerExemplar(k => k < Forget ? 0 : klWeight / (Batch - Forget)),
            [MethodLoss.CoarseWeight] = PerExemplar(k => k < Forget && klWeight > 0 ? klWeight / Forget : 0),
        };
        using var session = new InferenceSession(built!.Model.ToByteArray());
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), [built.Gradients[site.Weight], built.Gradients[site.Bias!]]);
        foreach (var value in feeds.Values)
        {
            value.Dispose();
        }

        var gradWeight = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var gradBias = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        var expected = OnnxGraph.SiteInitializers(site, expectedWeight, expectedBias);
        var scaleOfGradient = expected[0].Values.Max(Math.Abs);
        Assert.True(scaleOfGradient > 1e-4, $"the analytic gradient is {scaleOfGradient}: nothing to compare");

        // GradientEdit sums in float32 from float32 activations; the graph's loss runs in float64: agreement to 1e-4 of the gradient's scale.
        for (var i = 0; i < gradWeight.Length; i++)
        {
            Assert.True(Math.Abs(gradWeight[i] - expected[0].Values[i]) <= 1e-4 * scaleOfGradient, $"weight[{i}]: graph {gradWeight[i]}, analytic {expected[0].Values[i]}");
        }

        for (var o = 0; o < gradBias.Length; o++)
        {
            Assert.True(Math.Abs(gradBias[o] - expected[1].Values[o]) <= 1e-4 * scaleOfGradient, $"bias[{o}]: graph {gradBias[o]}, analytic {expected[1].Values[o]}");
        }
    }

    private static double[] Rows(Func<int, Func<int, double>> value)
        => [.. Enumerable.Range(0, Batch).SelectMany(k => Enumerable.Range(0, Classes).Select(value(k)))];

    private static OrtValue PerExemplar(Func<int, double> value) => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, Batch).Select(value).ToArray(), [Batch]);

    /// <summary>The site's inputs and the logits for each image, run by ONNX Runtime on the original model.</summary>
    private static (List<float[]> Activations, List<float[]> Logits) SiteInputsAndLogits(global::Onnx.ModelProto model, EditSite site, float[] images)
    {
        using var session = new InferenceSession(OnnxGraph.WithOutput(model, site.Input));
        using var input = OrtValue.CreateTensorValueFromMemory(images, [Batch, 1, 28, 28]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [input], ["logits", site.Input]);
        var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var activations = outputs[1].GetTensorDataAsSpan<float>().ToArray();
        return (
            [.. Enumerable.Range(0, Batch).Select(k => activations.AsSpan(k * site.Inputs, site.Inputs).ToArray())],
            [.. Enumerable.Range(0, Batch).Select(k => logits.AsSpan(k * Classes, Classes).ToArray())]);
    }
}
