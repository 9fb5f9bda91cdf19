using KtuGate.Diagnostics;
using KtuGate.Gradients;
using Onnx;
using Xunit;
using static KtuGate.Tests.Gradients.GradientCheck;

namespace KtuGate.Tests.Gradients;

/// <summary>Each gradient rule against central finite differences on a small random graph (float64 where ONNX Runtime runs the op in float64, else float32; tolerances in <see cref="GradientCheck"/>).</summary>
public sealed class GradientRuleTests
{
    /// <summary>A case: the graph's nodes, its initializers, the output the loss reads and the tensors trained.</summary>
    private sealed record Case(Precision Precision, NodeProto[] Nodes, TensorProto[] Initializers, string Output, string[] Trained);

    private static readonly Dictionary<string, Func<Random, Case>> s_cases = new()
    {
        // Broadcasting both ways, and fan-out: a feeds the Add and the Mul, so its gradient is the sum of two.
        ["Add+Mul broadcast, fan-out"] = r => F64(
            [Node("Add", ["a", "b"], ["s"]), Node("Mul", ["s", "a"], ["y"])],
            [Random(Float64, "a", [2, 3, 4], r), Random(Float64, "b", [3, 1], r)], "y", "a", "b"),
        ["Sub"] = r => F64([Node("Sub", ["a", "b"], ["y"])], [Random(Float64, "a", [2, 3], r), Random(Float64, "b", [3], r)], "y", "a", "b"),
        ["Sum (variadic)"] = r => F64([Node("Sum", ["a", "b", "a"], ["y"])], [Random(Float64, "a", [2, 3], r), Random(Float64, "b", [1, 3], r)], "y", "a", "b"),
        ["Div"] = r => F64([Node("Div", ["a", "b"], ["y"])], [Random(Float64, "a", [2, 3], r), Random(Float64, "b", [2, 1], r, 0.2, 2)], "y", "a", "b"),
        ["Pow"] = r => F64([Node("Pow", ["a", "b"], ["y"])], [Random(Float64, "a", [2, 3], r, 0.2, 1.5), Random(Float64, "b", [3], r, 0.3, 2)], "y", "a", "b"),
        ["Pow, integer exponent"] = r => F64([Node("Pow", ["a", "two"], ["y"])], [Random(Float64, "a", [2, 3], r), Int64s("two", [], [2])], "y", "a"),
        ["Neg, Exp, Log, Sqrt, Reciprocal, Abs, Tanh, Sigmoid, Identity"] = r => F64(
            [Node("Neg", ["a"], ["n"]), Node("Exp", ["n"], ["e"]), Node("Log", ["e"], ["l"]), Node("Mul", ["l", "l"], ["sq"]), Node("Sqrt", ["sq1"], ["s"]),
             Node("Add", ["sq", "one"], ["sq1"]), Node("Reciprocal", ["s"], ["rc"]), Node("Abs", ["a"], ["ab"]), Node("Tanh", ["rc"], ["t"]),
             Node("Sigmoid", ["ab"], ["sg"]), Node("Add", ["t", "sg"], ["ts"]), Node("Identity", ["ts"], ["y"])],
            [Random(Float64, "a", [2, 3], r), Values(Float64, "one", [], [1])], "y", "a"),
        ["Erf (float32)"] = r => new(Float32, [Node("Erf", ["a"], ["y"])], [Random(Float32, "a", [2, 3], r, 0.5)], "y", ["a"]),
        ["Relu"] = r => F64([Node("Relu", ["a"], ["y"])], [Random(Float64, "a", [3, 4], r)], "y", "a"),
        ["Clip with min and max inputs"] = r => F64([Node("Clip", ["a", "lo", "hi"], ["y"])],
            [Random(Float64, "a", [3, 4], r), Values(Float64, "lo", [], [-0.5]), Values(Float64, "hi", [], [0.7])], "y", "a", "lo", "hi"),
        ["Where"] = r => F64([Node("Greater", ["c", "zero"], ["mask"]), Node("Where", ["mask", "a", "b"], ["y"])],
            [Random(Float64, "c", [2, 3], r), Values(Float64, "zero", [], [0]), Random(Float64, "a", [2, 3], r), Random(Float64, "b", [3], r)], "y", "a", "b"),
        ["Cast"] = r => F64([Node("Cast", ["a"], ["y"], Attr("to", (long)TensorProto.Types.DataType.Double))], [Random(Float64, "a", [2, 3], r)], "y", "a"),
        ["Softmax"] = r => F64([Node("Softmax", ["a"], ["y"], Attr("axis", 1L))], [Random(Float64, "a", [2, 3, 4], r)], "y", "a"),
        ["LogSoftmax"] = r => F64([Node("LogSoftmax", ["a"], ["y"])], [Random(Float64, "a", [2, 5], r)], "y", "a"),
        ["MatMul, batch broadcast"] = r => F64([Node("MatMul", ["a", "b"], ["y"])], [Random(Float64, "a", [2, 3, 4], r), Random(Float64, "b", [4, 5], r)], "y", "a", "b"),
        ["MatMul, 4-D activation by a 2-D weight (leading axes folded into rows)"] = r => F64([Node("MatMul", ["a", "b"], ["y"])], [Random(Float64, "a", [2, 2, 3, 4], r), Random(Float64, "b", [4, 5], r)], "y", "a", "b"),
        ["MatMul, broadcast on the left"] = r => F64([Node("MatMul", ["a", "b"], ["y"])], [Random(Float64, "a", [1, 3, 4], r), Random(Float64, "b", [2, 4, 2], r)], "y", "a", "b"),
        ["Gemm"] = r => F64([Node("Gemm", ["a", "b", "c"], ["y"], Attr("alpha", 0.7f), Attr("beta", 1.3f))],
            [Random(Float64, "a", [3, 4], r), Random(Float64, "b", [4, 2], r), Random(Float64, "c", [2], r)], "y", "a", "b", "c"),
        ["Gemm transA transB"] = r => F64([Node("Gemm", ["a", "b", "c"], ["y"], Attr("transA", 1L), Attr("transB", 1L))],
            [Random(Float64, "a", [4, 3], r), Random(Float64, "b", [2, 4], r), Random(Float64, "c", [3, 1], r)], "y", "a", "b", "c"),
        ["Gemm transA"] = r => F64([Node("Gemm", ["a", "b"], ["y"], Attr("transA", 1L))], [Random(Float64, "a", [4, 3], r), Random(Float64, "b", [4, 2], r)], "y", "a", "b"),
        ["Gemm transB"] = r => F64([Node("Gemm", ["a", "b"], ["y"], Attr("transB", 1L))], [Random(Float64, "a", [3, 4], r), Random(Float64, "b", [2, 4], r)], "y", "a", "b"),
        ["Reshape, Flatten, Squeeze, Unsqueeze"] = r => F64(
            [Node("Reshape", ["a", "shape"], ["r"]), Node("Unsqueeze", ["r", "axes0"], ["u"]), Node("Squeeze", ["u", "axes0"], ["s"]), Node("Flatten", ["s"], ["f"], Attr("axis", 1L)), Node("Mul", ["f", "f"], ["y"])],
            [Random(Float64, "a", [2, 6], r), Int64s("shape", [3], [3, 2, 2]), Int64s("axes0", [1], [0])], "y", "a"),
        ["Expand"] = r => F64([Node("Expand", ["a", "shape"], ["y"])], [Random(Float64, "a", [3, 1], r), Int64s("shape", [3], [2, 3, 4])], "y", "a"),
        ["Transpose"] = r => F64([Node("Transpose", ["a"], ["t"], Attr("perm", 2, 0, 1)), Node("Mul", ["t", "w"], ["y"])],
            [Random(Float64, "a", [2, 3, 4], r), Random(Float64, "w", [4, 2, 3], r)], "y", "a"),
        ["Slice with negative step"] = r => F64([Node("Slice", ["a", "starts", "ends", "axes", "steps"], ["y"])],
            [Random(Float64, "a", [3, 6], r), Int64s("starts", [2], [5, 0]), Int64s("ends", [2], [0, 2]), Int64s("axes", [2], [1, 0]), Int64s("steps", [2], [-2, 1])], "y", "a"),
        ["Gather with repeated indices"] = r => F64([Node("Gather", ["a", "idx"], ["y"], Attr("axis", 1L))],
            [Random(Float64, "a", [2, 4, 3], r), Int64s("idx", [2, 3], [0, 2, 2, -1, 0, 0])], "y", "a"),
        ["Concat"] = r => F64([Node("Concat", ["a", "b", "a"], ["y"], Attr("axis", -1L))], [Random(Float64, "a", [2, 3], r), Random(Float64, "b", [2, 1], r)], "y", "a", "b"),
        ["Integer path: Shape, Gather, Concat, Reshape"] = r => F64(
            [Node("Shape", ["a"], ["sa"]), Node("Gather", ["sa", "zero"], ["n"]), Node("Concat", ["n", "minus1"], ["shape"], Attr("axis", 0L)), Node("Reshape", ["a", "shape"], ["y"])],
            [Random(Float64, "a", [2, 3, 2], r), Int64s("zero", [1], [0]), Int64s("minus1", [1], [-1])], "y", "a"),
        ["ReduceSum"] = r => F64([Node("ReduceSum", ["a", "axes"], ["y"], Attr("keepdims", 0L))], [Random(Float64, "a", [2, 3, 4], r), Int64s("axes", [1], [1])], "y", "a"),
        ["ReduceMean"] = r => F64([Node("ReduceMean", ["a"], ["y"], Attr("axes", new long[] { -1 }))], [Random(Float64, "a", [2, 3, 4], r)], "y", "a"),
        ["ReduceMax"] = r => F64([Node("ReduceMax", ["a"], ["y"], Attr("axes", new long[] { 1 }), Attr("keepdims", 0L))], [Random(Float64, "a", [2, 3, 4], r)], "y", "a"),
        ["ReduceL2"] = r => F64([Node("ReduceL2", ["a"], ["y"], Attr("axes", new long[] { 1 }), Attr("keepdims", 0L))], [Random(Float64, "a", [2, 3, 4], r)], "y", "a"),
        ["LayerNormalization"] = r => F64([Node("LayerNormalization", ["a", "scale", "bias"], ["y"], Attr("axis", -1L))],
            [Random(Float64, "a", [2, 3, 4], r), Random(Float64, "scale", [4], r), Random(Float64, "bias", [4], r)], "y", "a", "scale", "bias"),
        ["LayerNormalization over two axes"] = r => F64([Node("LayerNormalization", ["a", "scale"], ["y"], Attr("axis", 1L))],
            [Random(Float64, "a", [2, 3, 4], r), Random(Float64, "scale", [3, 4], r)], "y", "a", "scale"),
        ["BatchNormalization (inference)"] = r => F64([Node("BatchNormalization", ["a", "scale", "bias", "mean", "var"], ["y"])],
            [Random(Float64, "a", [2, 3, 2, 2], r), Random(Float64, "scale", [3], r), Random(Float64, "bias", [3], r), Random(Float64, "mean", [3], r), Random(Float64, "var", [3], r, 0.1, 1)],
            "y", "a", "scale", "bias", "mean", "var"),
        ["Conv with padding and stride (float32)"] = r => new(Float32, [Node("Conv", ["x", "w", "b"], ["y"], Attr("kernel_shape", 3, 2), Attr("pads", 1, 0, 0, 1), Attr("strides", 2, 1))],
            [Random(Float32, "x", [2, 2, 5, 4], r, 0.5), Random(Float32, "w", [3, 2, 3, 2], r, 0.5), Random(Float32, "b", [3], r)], "y", ["x", "w", "b"]),
        ["Conv with stride 1, uneven padding and dilation: dx as a convolution by the flipped kernel (float32)"] = r => new(Float32, [Node("Conv", ["x", "w", "b"], ["y"], Attr("kernel_shape", 3, 2), Attr("pads", 2, 0, 1, 1), Attr("dilations", 1, 2))],
            [Random(Float32, "x", [2, 2, 5, 6], r, 0.5), Random(Float32, "w", [3, 2, 3, 2], r, 0.5), Random(Float32, "b", [3], r)], "y", ["x", "w", "b"]),
        ["Conv with dilation (float32)"] = r => new(Float32, [Node("Conv", ["x", "w"], ["y"], Attr("kernel_shape", 2, 2), Attr("dilations", 2, 1), Attr("strides", 1, 2))],
            [Random(Float32, "x", [1, 2, 5, 5], r, 0.5), Random(Float32, "w", [2, 2, 2, 2], r, 0.5)], "y", ["x", "w"]),
        ["MaxPool, overlapping windows"] = r => F64([Node("MaxPool", ["a"], ["y"], Attr("kernel_shape", 3, 3), Attr("strides", 2, 2), Attr("pads", 1, 1, 1, 1))],
            [Random(Float64, "a", [2, 2, 5, 5], r)], "y", "a"),
        ["AveragePool, padding not counted (float32)"] = r => new(Float32, [Node("AveragePool", ["a"], ["y"], Attr("kernel_shape", 3, 2), Attr("strides", 2, 1), Attr("pads", 1, 0, 1, 1))],
            [Random(Float32, "a", [2, 2, 5, 4], r)], "y", ["a"]),
        ["AveragePool, padding counted (float32)"] = r => new(Float32, [Node("AveragePool", ["a"], ["y"], Attr("kernel_shape", 2, 2), Attr("pads", 1, 1, 0, 0), Attr("count_include_pad", 1L))],
            [Random(Float32, "a", [1, 2, 4, 4], r)], "y", ["a"]),
        ["GlobalAveragePool (float32)"] = r => new(Float32, [Node("GlobalAveragePool", ["a"], ["y"])], [Random(Float32, "a", [2, 3, 4, 4], r)], "y", ["a"]),
    };

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public GradientRuleTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    public static TheoryData<string> Cases() => [.. s_cases.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Rule_matches_central_finite_differences(string name)
    {
        var c = s_cases[name](new Random(name.Length * 7919));
        Check(c.Precision, Model(c.Nodes, c.Initializers, c.Output), c.Output, c.Trained);
    }

    [Fact]
    public void Op_without_a_rule_on_the_path_is_refused_naming_the_op_and_node()
    {
        var r = new Random(1);
        var model = Model([Node("Cos", ["a"], ["c"]), Node("Mul", ["c", "a"], ["y"])], [Random(Float64, "a", [2, 3], r)], "y");
        var diagnostics = new DiagnosticBag();

        var built = GradientBuilder.Build(model, ["a"], CubicLoss("y"), diagnostics, "/models/m.onnx");

        Assert.Null(built);
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU4010", d.Code);
        Assert.Equal("/models/m.onnx", d.Location?.File);
        Assert.Contains("'Cos_c'", d.Message, StringComparison.Ordinal);
        Assert.Contains("(Cos)", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_attribute_on_the_path_is_refused()
    {
        var r = new Random(2);
        var model = Model([Node("Conv", ["x", "w"], ["y"], Attr("kernel_shape", 1, 1), Attr("group", 2L))],
            [Random(Float32, "x", [1, 2, 3, 3], r), Random(Float32, "w", [2, 1, 1, 1], r)], "y");
        var diagnostics = new DiagnosticBag();

        Assert.Null(GradientBuilder.Build(model, ["w"], CubicLoss("y"), diagnostics));
        Assert.Contains(diagnostics.Items, d => d.Code == "KTU4010" && d.Message.Contains("grouped Conv", StringComparison.Ordinal));
    }

    [Fact]
    public void Op_without_a_rule_off_the_path_is_fine_and_a_weight_the_loss_ignores_gets_zero()
    {
        var r = new Random(3);
        var model = Model(
            [Node("Cos", ["c"], ["cc"]), Node("Mul", ["a", "cc"], ["y"]), Node("Mul", ["unused", "unused"], ["z"])],
            [Random(Float64, "a", [2, 3], r), Random(Float64, "c", [2, 3], r), Random(Float64, "unused", [2], r)], "y");
        Check(Float64, model, "y", ["a", "unused"]);
    }

    [Fact]
    public void A_gradient_into_an_output_the_rule_does_not_read_is_refused()
    {
        var r = new Random(6);
        var model = Model([Node("LayerNormalization", ["a", "scale"], ["y", "mean"], Attr("axis", -1L)), Node("Mul", ["y", "mean"], ["z"])],
            [Random(Float64, "a", [2, 3], r), Random(Float64, "scale", [3], r)], "z");
        var diagnostics = new DiagnosticBag();

        Assert.Null(GradientBuilder.Build(model, ["a"], CubicLoss("z"), diagnostics));
        Assert.Contains(diagnostics.Items, d => d.Code == "KTU4010" && d.Message.Contains("output 1 ('mean')", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("missing", "is not an initializer")]
    [InlineData("index", "is not float32 or float64")]
    public void Weights_that_cannot_be_trained_are_refused(string weight, string expected)
    {
        var r = new Random(4);
        var model = Model([Node("Gather", ["a", "index"], ["y"])], [Random(Float64, "a", [3], r), Int64s("index", [1], [1])], "y");
        var diagnostics = new DiagnosticBag();

        Assert.Null(GradientBuilder.Build(model, [weight], CubicLoss("y"), diagnostics));
        Assert.Contains(diagnostics.Items, d => d.Code == "KTU4011" && d.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_model_below_opset_13_is_refused()
    {
        var r = new Random(5);
        var model = Model([Node("Relu", ["a"], ["y"])], [Random(Float64, "a", [3], r)], "y", opset: 12);
        var diagnostics = new DiagnosticBag();

        Assert.Null(GradientBuilder.Build(model, ["a"], CubicLoss("y"), diagnostics));
        Assert.Contains(diagnostics.Items, d => d.Code == "KTU4011" && d.Message.Contains("below 13", StringComparison.Ordinal));
    }

    private static Case F64(NodeProto[] nodes, TensorProto[] initializers, string output, params string[] trained) => new(Float64, nodes, initializers, output, trained);
}
