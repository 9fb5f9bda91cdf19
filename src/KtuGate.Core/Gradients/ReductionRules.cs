using Onnx;

namespace KtuGate.Gradients;

/// <summary>Reductions: the gradient is spread back over the reduced axes.</summary>
internal sealed class ReductionRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        // Opset 13 ReduceSum takes its axes as an input; an empty list with noop_with_empty_axes is the identity.
        yield return new("ReduceSum", FirstOnly, (g, n, d) => [Spread(g, n, d[0]!, n.InputAt(1)), null], n =>
            n.Int("noop_with_empty_axes", 0) != 0 && n.InputAt(1) is not null ? "ReduceSum with noop_with_empty_axes and an axes input" : null);

        // ReduceMean (axes attribute up to opset 17): the spread gradient divided by the number of elements each output averaged.
        yield return new("ReduceMean", FirstOnly, (g, n, d) =>
        {
            var spread = Spread(g, n, d[0]!, AxesAttribute(g, n));
            var count = g.Op("CastLike", [g.Op("Div", [g.Op("Size", [n.Input[0]]), g.Op("Size", [n.Output[0]])]), spread]);
            return [g.Op("Div", [spread, count])];
        }, AxesAsInput);

        // The gradient goes to every element equal to the maximum (each of them where there are ties, as ONNX Runtime's training build does).
        yield return new("ReduceMax", FirstOnly, (g, n, d) =>
        {
            var axes = AxesAttribute(g, n);
            var isMax = g.Op("Equal", [n.Input[0], Spread(g, n, n.Output[0], axes)]);
            return [g.Op("Where", [isMax, Spread(g, n, d[0]!, axes), g.Scalar(0, d[0]!)])];
        }, AxesAsInput);

        // y = √Σx²: dx = dy · x / y.
        yield return new("ReduceL2", FirstOnly, (g, n, d) =>
        {
            var axes = AxesAttribute(g, n);
            var ratio = g.Op("Div", [d[0]!, n.Output[0]]);
            return [g.Op("Mul", [Spread(g, n, ratio, axes), n.Input[0]])];
        }, AxesAsInput);
    }

    /// <summary>The reduced tensor's gradient broadcast back to the input's shape (re-inserting the reduced axes when keepdims is 0).</summary>
    private static string Spread(GradientGraph g, NodeProto n, string gradient, string? axes)
    {
        if (n.Int("keepdims", 1) == 0 && axes is not null)
        {
            gradient = g.Op("Unsqueeze", [gradient, axes]);
        }

        return g.Op("Expand", [gradient, g.ShapeOf(n.Input[0])]);
    }

    private static string? AxesAttribute(GradientGraph g, NodeProto n) => n.Ints("axes") is { } axes ? g.Int64s(axes) : null;

    /// <summary>From opset 18 these reductions take axes as an input, which the rule (written for the attribute form) does not read.</summary>
    private static string? AxesAsInput(NodeProto n) => n.InputAt(1) is not null ? $"{n.OpType} with axes as an input" : null;
}
