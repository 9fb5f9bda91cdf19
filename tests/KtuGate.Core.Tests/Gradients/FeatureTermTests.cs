using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Onnx;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace KtuGate.Tests.Gradients;

/// <summary>
/// The feature-level term a linear-probe bound adds to a method's loss (<see cref="MethodLoss.Build"/> with a probe point): a loss over an
/// intermediate tensor of the sample classifier (the last layer's input), differentiated by <see cref="GradientBuilder"/> like the output's.
/// </summary>
public sealed class FeatureTermTests
{
    private const int Batch = 8;
    private const int Classes = 10;

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public FeatureTermTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    [Fact]
    public void The_feature_term_adds_the_weighted_squared_distance_at_the_probe_point_and_trains_only_the_layers_below_it()
    {
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(TestPaths.SampleModel, diagnostics)!;
        var site = OnnxGraph.FindSite(model, "logits")!;
        var random = new Random(5);
        var images = Enumerable.Range(0, Batch * 28 * 28).Select(_ => (float)random.NextDouble()).ToArray();
        var h = ProbePoint(model, site.Input, images);
        var width = site.Inputs;
        var targets = Enumerable.Range(0, Batch * width).Select(_ => random.NextDouble()).ToArray();
        var weights = Enumerable.Range(0, Batch).Select(_ => 0.1 + random.NextDouble()).ToArray();

        var directions = Enumerable.Range(0, Classes).Select(c => Enumerable.Range(0, Classes).Select(k => k == c ? 1.0 : 0.0).ToArray()).ToList();
        var loss = MethodLoss.Build("logits", ForgetTerm.NegativeHinge, directions, [], false, 1, 3, (site.Input, width));
        string[] trained = ["fc1.bias", site.Weight, site.Bias!];
        var built = GradientBuilder.Build(model, trained, loss, diagnostics);
        Assert.True(built is not null, string.Join("; ", diagnostics.Items));

        // Only the feature term is weighted: every output term's weight is zero.
        var (value, gradients) = Run(built!, images, targets, weights);
        var (none, _) = Run(built!, images, targets, new double[Batch]);

        var expected = 0.0;
        var expectedBias = new double[width];
        for (var k = 0; k < Batch; k++)
        {
            for (var j = 0; j < width; j++)
            {
                var d = h[k * width + j] - targets[k * width + j];
                expected += weights[k] * d * d;

                // h = Relu(fc1's output): the bias below moves h only where it is positive.
                expectedBias[j] += h[k * width + j] > 0 ? 2 * weights[k] * d : 0;
            }
        }

        Assert.Equal(0.0, none);
        Assert.True(Math.Abs(value - expected) <= 1e-6 * expected, $"loss {value}, expected {expected}");
        var scale = expectedBias.Max(Math.Abs);
        Assert.All(Enumerable.Range(0, width), j => Assert.True(Math.Abs(gradients["fc1.bias"][j] - expectedBias[j]) <= 1e-4 * scale, $"fc1.bias[{j}]: {gradients["fc1.bias"][j]}, expected {expectedBias[j]}"));

        // The last layer lies above the probe point: the term gives it no gradient.
        Assert.All(gradients[site.Weight], g => Assert.Equal(0f, g));
        Assert.All(gradients[site.Bias!], g => Assert.Equal(0f, g));
    }

    private static (double Loss, Dictionary<string, float[]> Gradients) Run(GradientModel built, float[] images, double[] targets, double[] featureWeights)
    {
        var zeros = new double[Batch];
        var feeds = new Dictionary<string, OrtValue>
        {
            ["image"] = OrtValue.CreateTensorValueFromMemory(images, [Batch, 1, 28, 28]),
            [MethodLoss.Forbidden] = OrtValue.CreateTensorValueFromMemory(new double[Batch * Classes], [Batch, Classes]),
            [MethodLoss.Allowed] = OrtValue.CreateTensorValueFromMemory(new double[Batch * Classes], [Batch, Classes]),
            [MethodLoss.Reference] = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(0.1, Batch * Classes).ToArray(), [Batch, Classes]),
            [MethodLoss.IsForget] = OrtValue.CreateTensorValueFromMemory(zeros, [Batch]),
            [MethodLoss.ForgetWeight] = OrtValue.CreateTensorValueFromMemory(zeros, [Batch]),
            [MethodLoss.RetainWeight] = OrtValue.CreateTensorValueFromMemory(zeros, [Batch]),
            [MethodLoss.CoarseWeight] = OrtValue.CreateTensorValueFromMemory(zeros, [Batch]),
            [MethodLoss.FeatureTarget] = OrtValue.CreateTensorValueFromMemory(targets, [Batch, targets.Length / Batch]),
            [MethodLoss.FeatureWeight] = OrtValue.CreateTensorValueFromMemory(featureWeights, [Batch]),
        };
        foreach (var weight in built.Weights)
        {
            var raw = weight.RawData.ToByteArray();
            var values = weight.FloatData.Count > 0 ? [.. weight.FloatData] : new float[raw.Length / 4];
            if (weight.FloatData.Count == 0)
            {
                Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
            }

            feeds[weight.Name] = OrtValue.CreateTensorValueFromMemory(values, [.. weight.Dims]);
        }

        using var session = new InferenceSession(built.Model.ToByteArray());
        using var runOptions = new RunOptions();
        var names = built.Gradients.Keys.ToList();
        using var outputs = session.Run(runOptions, feeds.Keys.ToList(), feeds.Values.ToList(), [built.Loss, .. names.Select(n => built.Gradients[n])]);
        foreach (var fed in feeds.Values)
        {
            fed.Dispose();
        }

        var loss = outputs[0].GetTensorDataAsSpan<double>()[0];
        return (loss, names.Select((n, i) => (n, outputs[i + 1].GetTensorDataAsSpan<float>().ToArray())).ToDictionary(x => x.n, x => x.Item2));
    }

    /// <summary>The probe point's values for each image, run by ONNX Runtime on the original model.</summary>
    private static float[] ProbePoint(global::Onnx.ModelProto model, string tensor, float[] images)
    {
        using var session = new InferenceSession(OnnxGraph.WithOutput(model, tensor));
        using var input = OrtValue.CreateTensorValueFromMemory(images, [Batch, 1, 28, 28]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["image"], [input], [tensor]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
