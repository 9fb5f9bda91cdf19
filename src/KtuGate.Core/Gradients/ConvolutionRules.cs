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
        var kernelShape = n.Ints("kernel_shape")!;
        var spatial = kernelShape.Length;
        var strides = n.Ints("strides") ?? Ones(spatial);
        var dilations = n.Ints("dilations") ?? Ones(spatial);
        var pads = n.Ints("pads") ?? new long[2 * spatial];
        string? dx = null, dw = null, db = null;
        var reach = Enumerable.Range(0, spatial).Select(i => dilations[i] * (kernelShape[i] - 1)).ToArray();
        if (g.Needs(x) && strides.All(s => s == 1) && Enumerable.Range(0, spatial).All(i => reach[i] >= Math.Max(pads[i], pads[i + spatial])))
        {
            // Stride 1: dx is dy convolved with the kernel flipped and its channel axes swapped, padded by the kernel's reach less the
            // forward's padding. ONNX Runtime runs it about as fast as the forward convolution; the transposed convolution below was 3%
            // slower a step through ResNet-18 on one CPU and about 60% on another (bench/results/deep-step-resnet.md).
            long[] padsBack = [.. Enumerable.Range(0, spatial).Select(i => reach[i] - pads[i]), .. Enumerable.Range(0, spatial).Select(i => reach[i] - pads[i + spatial])];
            var axes = SpatialAxes(spatial);
            var flipped = g.Op("Slice", [w, g.Int64s([.. Enumerable.Repeat(-1L, spatial)]), g.Int64s([.. Enumerable.Repeat(long.MinValue, spatial)]), g.Int64s(axes), g.Int64s([.. Enumerable.Repeat(-1L, spatial)])]);
            var swapped = g.Op("Transpose", [flipped], GradientGraph.Attr("perm", new long[] { 1, 0 }.Concat(axes).ToArray()));
            dx = g.Op("Conv", [dy, swapped], GradientGraph.Attr("pads", padsBack), GradientGraph.Attr("dilations", dilations));
        }
        else if (g.Needs(x))
        {
            // The transposed convolution spreads dy over the padded input; what fell on padding is dropped.
            var spread = g.Op("ConvTranspose", [dy, w], GradientGraph.Attr("strides", strides), GradientGraph.Attr("dilations", dilations));
            dx = g.Op("Reshape", [FitToInput(g, spread, x, pads, spatial), g.ShapeOf(x)]);
        }

        if (g.Needs(w))
        {
            dw = WeightGradient(g, x, w, dy, kernelShape, strides, dilations, pads);
        }

        if (n.InputAt(2) is { } b && g.Needs(b))
        {
            db = g.SumPerChannel(dy, b, dy);
        }

        return [dx, dw, db];
    }

    /// <summary>
    /// dW[m, c, i, j] = Σ_n Σ_hw dy[n, m, h, w] · x[n, c, i·dilation + h·stride, j·dilation + w·stride] over the padded input: for each
    /// kernel offset, the input's strided window at that offset times dy, one batched product per offset.
    /// </summary>
    private static string WeightGradient(GradientGraph g, string x, string w, string dy, long[] kernelShape, long[] strides, long[] dilations, long[] pads)
    {
        var spatial = kernelShape.Length;
        var axes = SpatialAxes(spatial);
        var padded = pads.Any(p => p != 0) ? g.Op("Pad", [x, g.Int64s([0, 0, .. pads.Take(spatial), 0, 0, .. pads.Skip(spatial)])]) : x;

        // A window of the output's size at stride s starting at b ends before b + s·size: exactly the output's positions.
        var span = g.Op("Mul", [g.Op("Slice", [g.ShapeOf(dy), g.Int64s([2]), g.Int64s([long.MaxValue])]), g.Int64s(strides)]);
        var rows = g.Op("Transpose", [g.Op("Reshape", [dy, g.Int64s([0, 0, -1])])], GradientGraph.Attr("perm", new long[] { 0, 2, 1 }));
        var offsets = new List<string>();
        foreach (var offset in Offsets(kernelShape))
        {
            var begin = g.Int64s([.. offset.Select((o, i) => o * dilations[i])]);
            var window = g.Op("Slice", [padded, begin, g.Op("Add", [span, begin]), g.Int64s(axes), g.Int64s(strides)]);
            var product = g.Op("MatMul", [g.Op("Reshape", [window, g.Int64s([0, 0, -1])]), rows]);
            offsets.Add(g.Op("ReduceSum", [product, g.Int64s([0])], GradientGraph.Attr("keepdims", 1)));
        }

        var stacked = offsets.Count == 1 ? offsets[0] : g.Op("Concat", offsets, GradientGraph.Attr("axis", 0));
        return g.Op("Reshape", [g.Op("Transpose", [stacked], GradientGraph.Attr("perm", new long[] { 2, 1, 0 })), g.ShapeOf(w)]);
    }

    /// <summary>Every position of a kernel, the last axis fastest.</summary>
    private static IEnumerable<long[]> Offsets(long[] kernelShape)
        => kernelShape.Aggregate((IEnumerable<long[]>)[[]], (prefixes, size) => prefixes.SelectMany(p => Enumerable.Range(0, (int)size).Select(i => (long[])[.. p, i])));

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
        var axes = SpatialAxes(spatial);
        return g.Op("Slice", [padded, g.Int64s(begin), g.Op("Add", [inputSize, g.Int64s(begin)]), g.Int64s(axes)]);
    }

    private static long[] Ones(int count) => [.. Enumerable.Repeat(1L, count)];

    /// <summary>The axes after batch and channel: 2 .. spatial + 1.</summary>
    private static long[] SpatialAxes(int spatial) => [.. Enumerable.Range(2, spatial).Select(a => (long)a)];
}
