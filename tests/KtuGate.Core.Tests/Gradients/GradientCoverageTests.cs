using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit;
using static KtuGate.Tests.Gradients.GradientCheck;

namespace KtuGate.Tests.Gradients;

/// <summary>The sample models and all-MiniLM-L6-v2 are differentiable through every weight, and the op lists their graphs hold are pinned, so coverage cannot silently regress.</summary>
public sealed class GradientCoverageTests
{
    private static readonly string[] s_classifierOps = ["Conv", "Flatten", "Gemm", "MaxPool", "Relu"];
    private static readonly string[] s_clipOps = ["Clip", "Constant", "Conv", "Div", "Expand", "Flatten", "Gemm", "MaxPool", "ReduceL2", "Relu", "Shape"];
    private static readonly string[] s_miniLmOps =
        ["Add", "Cast", "Concat", "Constant", "Div", "Erf", "Gather", "Gemm", "MatMul", "Mul", "Pow", "ReduceMean", "Reshape", "Shape", "Slice", "Softmax", "Sqrt", "Sub", "Tanh", "Transpose", "Unsqueeze"];

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public GradientCoverageTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    private static string ClipModel => Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.onnx");

    private static string MiniLm => Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm", "model.onnx");

    public static TheoryData<string, string[]> Models() => new()
    {
        { "classifier", s_classifierOps },
        { "clip", s_clipOps },
        { "minilm", s_miniLmOps },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_op_of_the_graph_has_a_rule_and_the_list_is_the_one_pinned(string which, string[] expected)
    {
        var model = Load(which);

        var ops = model.Graph.Node.Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(expected, ops);
        Assert.Empty(ops.Except(GradientBuilder.CoveredOps));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Whole_model_builds_a_gradient_model_with_every_float_initializer_trained(string which, string[] expected)
    {
        _ = expected;
        var model = Load(which);
        var output = model.Graph.Output[0].Name;
        var diagnostics = new DiagnosticBag();

        var built = GradientBuilder.Build(model, FloatInitializers(model), CubicLoss(output), diagnostics);

        Assert.True(built is not null, string.Join("; ", diagnostics.Items));
        Assert.Equal(FloatInitializers(model).Length, built!.Gradients.Count);
    }

    [Fact]
    public void MiniLm_gradient_model_runs_in_onnx_runtime_with_a_gradient_for_every_weight()
    {
        var model = Load("minilm");
        var trained = FloatInitializers(model);
        var diagnostics = new DiagnosticBag();
        var built = GradientBuilder.Build(model, trained, CubicLoss("last_hidden_state"), diagnostics)!;
        using var session = new InferenceSession(built.Model.ToByteArray());
        var weights = built.Weights.ToDictionary(w => w.Name, w => (Values: ReadDoubles(w), Dims: w.Dims.ToArray()));
        long[] shape = [1, 6];
        (string, OrtValueSource)[] feeds =
        [
            ("input_ids", () => OrtValue.CreateTensorValueFromMemory(new long[] { 101, 1037, 6302, 1997, 1037, 102 }, shape)),
            ("attention_mask", () => OrtValue.CreateTensorValueFromMemory(new long[] { 1, 1, 1, 1, 1, 1 }, shape)),
            ("token_type_ids", () => OrtValue.CreateTensorValueFromMemory(new long[6], shape)),
        ];

        var (loss, gradients) = Run(Float32, session, built, weights, feeds);

        Assert.True(double.IsFinite(loss));
        Assert.All(gradients, g => Assert.True(g.Value.All(double.IsFinite), g.Key));

        // Every weight but the pooler's (which last_hidden_state does not read) moves the loss; the word embedding only in the rows of the tokens fed.
        var pooler = trained.Where(t => t.Contains("pooler", StringComparison.Ordinal)).ToHashSet();
        Assert.All(gradients.Where(g => !pooler.Contains(g.Key)), g => Assert.True(g.Value.Any(v => v != 0), g.Key));
        Assert.All(gradients.Where(g => pooler.Contains(g.Key)), g => Assert.True(g.Value.All(v => v == 0), g.Key));
    }

    [Fact]
    public void FashionClip_image_tower_gradient_matches_finite_differences_for_every_weight()
    {
        // Conv runs only in float32 in ONNX Runtime: GradientCheck's float32 network step and tolerance apply.
        var model = Load("clip");
        var random = new Random(11);
        var image = Enumerable.Range(0, 2 * 28 * 28).Select(_ => (float)random.NextDouble()).ToArray();
        Check(Float32Network, model, "embedding", FloatInitializers(model), seed: 5,
            feeds: [("image", () => OrtValue.CreateTensorValueFromMemory((float[])image.Clone(), [2, 1, 28, 28]))]);
    }

    private static string[] FloatInitializers(ModelProto model)
        => [.. model.Graph.Initializer.Where(t => t.DataType is (int)TensorProto.Types.DataType.Float).Select(t => t.Name)];

    private static ModelProto Load(string which)
    {
        var path = which switch
        {
            "classifier" => TestPaths.SampleModel,
            "clip" => ClipModel,
            _ => MiniLm,
        };
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(path, diagnostics);
        Assert.True(model is not null, string.Join("; ", diagnostics.Items));
        return model!;
    }
}
