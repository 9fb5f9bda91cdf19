using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit;

namespace KtuGate.Tests.Gradients;

/// <summary>Small ONNX graphs and a central finite-difference check of the gradients <see cref="GradientBuilder"/> writes, run by ONNX Runtime.</summary>
/// <remarks>
/// The loss is L = Σ (y³ + y) over the checked output y, so that every element's gradient differs. Each trained tensor is probed along one
/// random unit direction and at two random coordinates: (L(w + hv) − L(w − hv)) / 2h against g·v, within tolerance · max(1, |g·v|);
/// where kinks (ReLU, max-pool) lie within h, between the one-sided differences instead, for at most a quarter of the probes.
/// </remarks>
internal static class GradientCheck
{
    /// <summary>float64: h = 1e-5, tolerance 1e-6 (truncation is O(h²), rounding O(1e-16/h)).</summary>
    public static readonly Precision Float64 = new(TensorProto.Types.DataType.Double, 1e-5, 1e-6);

    /// <summary>float32 (for ops ONNX Runtime runs only in float32): h = 1e-2, tolerance 5e-3 (float32 rounding of the model's output is about 1e-7, divided by h).</summary>
    public static readonly Precision Float32 = new(TensorProto.Types.DataType.Float, 1e-2, 5e-3);

    /// <summary>A whole float32 network: h = 1e-3, so that fewer ReLU kinks fall within h, tolerance 1e-2 (rounding through several layers, one-sided differences' O(h) error).</summary>
    public static readonly Precision Float32Network = new(TensorProto.Types.DataType.Float, 1e-3, 1e-2);

    public static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attr(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A tensor of random values (normal, times <paramref name="scale"/>, plus <paramref name="offset"/>).</summary>
    public static TensorProto Random(Precision p, string name, long[] dims, Random random, double scale = 1, double offset = 0)
    {
        var count = dims.Aggregate(1L, (a, b) => a * b);
        return Values(p, name, dims, [.. Enumerable.Range(0, (int)count).Select(_ => offset + scale * Normal(random))]);
    }

    public static TensorProto Values(Precision p, string name, long[] dims, double[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)p.Type };
        tensor.Dims.AddRange(dims);
        if (p.Type == TensorProto.Types.DataType.Double)
        {
            tensor.DoubleData.AddRange(values);
        }
        else
        {
            tensor.FloatData.AddRange(values.Select(v => (float)v));
        }

        return tensor;
    }

    public static TensorProto Int64s(string name, long[] dims, long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    /// <summary>A model of <paramref name="nodes"/> over <paramref name="initializers"/> (no graph inputs), at opset 17.</summary>
    public static ModelProto Model(IEnumerable<NodeProto> nodes, IEnumerable<TensorProto> initializers, string output, int opset = 17)
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "check" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        model.Graph.Node.AddRange(nodes);
        model.Graph.Initializer.AddRange(initializers);
        model.Graph.Output.Add(new ValueInfoProto { Name = output });
        return model;
    }

    /// <summary>L = Σ (y³ + y), all elements, computed in float64 (a float32 output is cast first, so that the loss's own rounding does not swamp the finite differences).</summary>
    public static LossGraph CubicLoss(string output) => new(
    [
        Node("Cast", [output], ["loss/y"], Attr("to", (long)TensorProto.Types.DataType.Double)),
        Node("Mul", ["loss/y", "loss/y"], ["loss/square"]),
        Node("Mul", ["loss/square", "loss/y"], ["loss/cube"]),
        Node("Add", ["loss/cube", "loss/y"], ["loss/terms"]),
        Node("ReduceSum", ["loss/terms"], ["loss"], Attr("keepdims", 0)),
    ], "loss", [], []);

    /// <summary>Builds the gradient model (no diagnostics allowed) and checks each trained tensor's gradient against finite differences.</summary>
    public static void Check(Precision p, ModelProto model, string output, string[] trained, int seed = 7, IReadOnlyList<(string Name, OrtValueSource Value)>? feeds = null)
    {
        var diagnostics = new DiagnosticBag();
        var built = GradientBuilder.Build(model, trained, CubicLoss(output), diagnostics);
        Assert.True(built is not null, string.Join("; ", diagnostics.Items));
        using var session = new InferenceSession(built!.Model.ToByteArray());
        var weights = built.Weights.ToDictionary(w => w.Name, w => (Values: ReadDoubles(w), Dims: w.Dims.ToArray()));
        var (loss, gradients) = Run(p, session, built, weights, feeds);
        Assert.True(double.IsFinite(loss), $"loss {loss}");
        var random = new Random(seed);
        var kinked = 0;
        foreach (var name in trained)
        {
            var g = gradients[name];
            var w = weights[name].Values;
            var direction = w.Select(_ => Normal(random)).ToArray();
            var norm = Math.Sqrt(direction.Sum(x => x * x));
            var probes = new List<double[]> { direction.Select(x => x / norm).ToArray() };
            for (var k = 0; k < 2; k++)
            {
                var unit = new double[w.Length];
                unit[random.Next(w.Length)] = 1;
                probes.Add(unit);
            }

            foreach (var v in probes)
            {
                var analytic = g.Zip(v, (a, b) => a * b).Sum();
                var plus = Run(p, session, built, Shifted(weights, name, v, p.Step), feeds).Loss;
                var minus = Run(p, session, built, Shifted(weights, name, v, -p.Step), feeds).Loss;
                var numeric = (plus - minus) / (2 * p.Step);
                var allowed = p.Tolerance * Math.Max(1, Math.Abs(analytic));
                if (Math.Abs(numeric - analytic) <= allowed)
                {
                    continue;
                }

                // ReLU or max-pool kinks within h of the point bend the central difference (a bias of the first layer moves every
                // position of its channels at once): the one-sided differences then differ, and the derivative lies between them.
                // Such probes must stay few, so that most of the check is the strict one.
                var forward = (plus - loss) / p.Step;
                var backward = (loss - minus) / p.Step;
                Assert.True(Math.Abs(forward - backward) > allowed
                        && analytic >= Math.Min(forward, backward) - allowed && analytic <= Math.Max(forward, backward) + allowed,
                    $"{name}: analytic {analytic:R}, central difference {numeric:R}, forward {forward:R}, backward {backward:R} (h = {p.Step}, tolerance {p.Tolerance})");
                kinked++;
            }
        }

        Assert.True(kinked * 4 <= trained.Length * 3, $"{kinked} of {trained.Length * 3} probes straddle a kink");
    }

    private static Dictionary<string, (double[] Values, long[] Dims)> Shifted(Dictionary<string, (double[] Values, long[] Dims)> weights, string name, double[] v, double h)
    {
        var copy = new Dictionary<string, (double[] Values, long[] Dims)>(weights);
        copy[name] = (weights[name].Values.Zip(v, (a, b) => a + h * b).ToArray(), weights[name].Dims);
        return copy;
    }

    /// <summary>Runs the gradient model: the loss and each weight's gradient, as float64.</summary>
    public static (double Loss, Dictionary<string, double[]> Gradients) Run(
        Precision p, InferenceSession session, GradientModel built, Dictionary<string, (double[] Values, long[] Dims)> weights, IReadOnlyList<(string Name, OrtValueSource Value)>? feeds = null)
    {
        var names = new List<string>();
        var values = new List<OrtValue>();
        foreach (var (name, (w, dims)) in weights)
        {
            names.Add(name);
            values.Add(p.Type == TensorProto.Types.DataType.Double
                ? OrtValue.CreateTensorValueFromMemory((double[])w.Clone(), dims)
                : OrtValue.CreateTensorValueFromMemory(w.Select(x => (float)x).ToArray(), dims));
        }

        foreach (var (name, value) in feeds ?? [])
        {
            names.Add(name);
            values.Add(value());
        }

        var outputNames = new List<string> { built.Loss };
        outputNames.AddRange(built.Gradients.Values);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, names, values, outputNames);
        foreach (var value in values)
        {
            value.Dispose();
        }

        var result = outputs.Select(o => o.GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Double
            ? o.GetTensorDataAsSpan<double>().ToArray()
            : [.. o.GetTensorDataAsSpan<float>().ToArray().Select(x => (double)x)]).ToList();
        var gradients = built.Gradients.Keys.Select((k, i) => (k, result[i + 1])).ToDictionary(x => x.k, x => x.Item2);
        return (result[0].Sum(), gradients);
    }

    public static double[] ReadDoubles(TensorProto t)
    {
        if (t.DoubleData.Count > 0)
        {
            return [.. t.DoubleData];
        }

        if (t.FloatData.Count > 0)
        {
            return [.. t.FloatData.Select(f => (double)f)];
        }

        var raw = t.RawData.ToByteArray();
        if (t.DataType == (int)TensorProto.Types.DataType.Double)
        {
            var d = new double[raw.Length / 8];
            Buffer.BlockCopy(raw, 0, d, 0, raw.Length);
            return d;
        }

        var f = new float[raw.Length / 4];
        Buffer.BlockCopy(raw, 0, f, 0, raw.Length);
        return [.. f.Select(x => (double)x)];
    }

    private static double Normal(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

/// <summary>Makes an input value for one run (a fresh OrtValue each time, disposed by the run).</summary>
internal delegate OrtValue OrtValueSource();

/// <summary>The element type a check runs in, its finite-difference step and tolerance.</summary>
internal sealed record Precision(TensorProto.Types.DataType Type, double Step, double Tolerance);
