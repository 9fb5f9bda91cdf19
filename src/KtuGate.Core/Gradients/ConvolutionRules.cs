using Onnx;

namespace KtuGate.Gradients;

/// <summary>Convolutions and pooling, with explicit padding (auto_pad is refused).</summary>
/// <remarks>ONNX Runtime's inference build runs Conv, ConvTranspose and the pools in float32 only, so these rules are checked in float32.</remarks>
internal sealed class ConvolutionRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        yield return new("Conv", All, Conv, n => ExplicitPadding(n) ?? (n.Int("group", 1) != 1 ? "grouped Conv" : null));

        // MaxPool's optional second output gives each maximum's flat index in the input; the gradient goes back there.
        yield return new("MaxPool", FirstOnly, (g, n, d) => [g.ScatterAdd(n.Input[0], g.OutputOf(n, 1), d[0]!)],
            n => ExplicitPadding(n) ?? (n.Int("storage_order", 0) != 0 ? "MaxPool with column-major storage_order" : null));

        yield return new("AveragePool", FirstOnly, AveragePool,
            n => ExplicitPadding(n) ?? (n.Int("ceil_mode", 0) != 0 ? "AveragePool with ceil_mode" : null) ?? (n.Ints("dilations") is { } dl && dl.Any(x => x != 1) ? "dilated AveragePool" : null));

        yield return new("GlobalAveragePool", FirstOnly, (g, n, d) =>
        {
            var spread = g.Op("Expand", [d[0]!, g.ShapeOf(n.Input[0])]);
            return [g.Op("Div", [spread, g.Op("CastLike", [g.Op("Div", [g.Op("Size", [n.Input[0]]), g.Op("Size", [n.Output[0]])]), spread])])];
        });
    }

    private static string? ExplicitPadding(NodeProto n)
        => n.Text("auto_pad", "NOTSET") != "NOTSET" ? $"{n.OpType} with auto_pad" : n.Ints("kernel_shape") is null ? $"{n.OpType} without kernel_shape" : null;

    private static string?[] Conv(GradientGraph g, NodeProto n, IReadOnlyList<string?> d)
    {
        var (x, w) = (n.Input[0], n.Input[1]);
        var dy = d[0]!;
        var spatial = n.Ints("kernel_shape")!.Length;
        var strides = n.Ints("strides") ?? Ones(spatial);
        var dilations = n.Ints("dilations") ?? Ones(spatial);
        var pads = n.Ints("pads") ?? new long[2 * spatial];
        string? dx = null, dw = null, db = null;
        if (g.Needs(x))
        {
            // The transposed convolution spreads dy over the padded input; what fell on padding is dropped.
            var spread = g.Op("ConvTranspose", [dy, w], GradientGraph.Attr("strides", strides), GradientGraph.Attr("dilations", dilations));
            dx = g.Op("Reshape", [FitToInput(g, spread, x, pads, spatial), g.ShapeOf(x)]);
        }

        if (g.Needs(w))
        {
            // dW[m, c] = Σ_n x[n, c] ⋆ dy[n, m]: a convolution of xᵀ by dyᵀ with stride and dilation swapped, cut to the kernel's size.
            var axes = Enumerable.Range(2, spatial).Select(a => (long)a).ToArray();
            var swap = new long[] { 1, 0 }.Concat(axes).ToArray();
            var correlated = g.Op("Conv", [g.Op("Transpose", [x], GradientGraph.Attr("perm", swap)), g.Op("Transpose", [dy], GradientGraph.Attr("perm", swap))],
                GradientGraph.Attr("strides", dilations), GradientGraph.Attr("dilations", strides), GradientGraph.Attr("pads", pads));
            var kernel = g.Op("Slice", [g.Op("Transpose", [correlated], GradientGraph.Attr("perm", swap)), g.Int64s(new long[spatial]), g.Int64s(n.Ints("kernel_shape")!), g.Int64s(axes)]);
            dw = g.Op("Reshape", [kernel, g.ShapeOf(w)]);
        }

        if (n.InputAt(2) is { } b && g.Needs(b))
        {
            db = g.SumPerChannel(dy, b, dy);
        }

        return [dx, dw, db];
    }

    /// <summary>AveragePool is linear: each output's gradient, divided by the count it averaged, spreads evenly over its window (a transposed convolution by ones, one plane at a time).</summary>
    private static string?[] AveragePool(GradientGraph g, NodeProto n, IReadOnlyList<string?> d)
    {
        var x = n.Input[0];
        var kernel = n.Ints("kernel_shape")!;
        var spatial = kernel.Length;
        var strides = n.Ints("strides") ?? Ones(spatial);
        var pads = n.Ints("pads") ?? new long[2 * spatial];
        var size = kernel.Aggregate(1L, (a, b) => a * b);
        string scaled;
        if (n.Int("count_include_pad", 0) == 0 && pads.Any(p => p != 0))
        {
            // Windows that overlap the padding average fewer elements: count them by pooling ones with the padding counted.
            var ones = g.Op("ConstantOfShape", [g.ShapeOf(x)], GradientGraph.Attr("value", g.ScalarTensor(1)));
            var share = g.Op("AveragePool", [ones], GradientGraph.Attr("kernel_shape", kernel), GradientGraph.Attr("strides", strides), GradientGraph.Attr("pads", pads), GradientGraph.Attr("count_include_pad", 1));
            scaled = g.Op("Div", [d[0]!, g.Op("Mul", [share, g.Scalar(size, share)])]);
        }
        else
        {
            scaled = g.Op("Div", [d[0]!, g.Scalar(size, d[0]!)]);
        }

        var planes = g.Op("Concat", [g.Int64s([-1, 1]), g.Op("Slice", [g.ShapeOf(scaled), g.Int64s([2]), g.Int64s([long.MaxValue])])], GradientGraph.Attr("axis", 0));
        var spread = g.Op("ConvTranspose", [g.Op("Reshape", [scaled, planes]), g.Filled(1, [1, 1, .. kernel])], GradientGraph.Attr("strides", strides));
        return [g.Op("Reshape", [FitToInput(g, spread, x, pads, spatial), g.ShapeOf(x)])];
    }

    /// <summary>
    /// Cuts a transposed convolution's output (which covers the padded input from its start, up to the last window's end) to the input:
    /// zeros appended up to the padded size, then the padding's begin and end removed.
    /// </summary>
    private static string FitToInput(GradientGraph g, string spread, string x, long[] pads, int spatial)
    {
        var inputSize = g.Op("Slice", [g.ShapeOf(x), g.Int64s([2]), g.Int64s([long.MaxValue])]);
        var spreadSize = g.Op("Slice", [g.Op("Shape", [spread]), g.Int64s([2]), g.Int64s([long.MaxValue])]);
        var begin = pads.Take(spatial).ToArray();
        var padTotal = Enumerable.Range(0, spatial).Select(i => pads[i] + pads[i + spatial]).ToArray();
        var missing = g.Op("Sub", [g.Op("Add", [inputSize, g.Int64s(padTotal)]), spreadSize]);
        var padding = g.Op("Concat", [g.Int64s(new long[spatial + 4]), missing], GradientGraph.Attr("axis", 0));
        var padded = g.Op("Pad", [spread, padding]);
        var axes = Enumerable.Range(2, spatial).Select(a => (long)a).ToArray();
        return g.Op("Slice", [padded, g.Int64s(begin), g.Op("Add", [inputSize, g.Int64s(begin)]), g.Int64s(axes)]);
    }

    private static long[] Ones(int count) => [.. Enumerable.Repeat(1L, count)];
}
