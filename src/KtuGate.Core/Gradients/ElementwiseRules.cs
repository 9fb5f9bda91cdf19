using Onnx;

namespace KtuGate.Gradients;

/// <summary>Arithmetic with numpy broadcasting: each input's gradient is summed back to its own shape.</summary>
internal sealed class ElementwiseRules : GradientRuleFamily
{
    private static readonly HashSet<long> s_floatTypes =
        [(long)TensorProto.Types.DataType.Float, (long)TensorProto.Types.DataType.Double, (long)TensorProto.Types.DataType.Float16, (long)TensorProto.Types.DataType.Bfloat16];

    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        yield return new("Add", All, (g, n, d) => [Reduced(g, n, 0, d[0]!), Reduced(g, n, 1, d[0]!)]);
        yield return new("Sub", All, (g, n, d) => [Reduced(g, n, 0, d[0]!), g.Needs(n.Input[1]) ? g.ReduceTo(g.Op("Neg", [d[0]!]), n.Input[1]) : null]);
        yield return new("Sum", All, (g, n, d) => [.. n.Input.Select((_, i) => Reduced(g, n, i, d[0]!))]);
        yield return new("Mul", All, (g, n, d) =>
        [
            g.Needs(n.Input[0]) ? g.ReduceTo(g.Op("Mul", [d[0]!, n.Input[1]]), n.Input[0]) : null,
            g.Needs(n.Input[1]) ? g.ReduceTo(g.Op("Mul", [d[0]!, n.Input[0]]), n.Input[1]) : null,
        ]);

        // y = a / b: ∂y/∂a = 1/b, ∂y/∂b = −y/b.
        yield return new("Div", All, (g, n, d) =>
        [
            g.Needs(n.Input[0]) ? g.ReduceTo(g.Op("Div", [d[0]!, n.Input[1]]), n.Input[0]) : null,
            g.Needs(n.Input[1]) ? g.ReduceTo(g.Op("Neg", [g.Op("Mul", [d[0]!, g.Op("Div", [n.Output[0], n.Input[1]])])]), n.Input[1]) : null,
        ]);

        // y = a^b: ∂y/∂a = b·a^(b−1), ∂y/∂b = y·ln a. The exponent may be of another type (an integer), so it is cast like the base.
        yield return new("Pow", All, (g, n, d) =>
        {
            string? da = null, db = null;
            if (g.Needs(n.Input[0]))
            {
                var b = g.Op("CastLike", [n.Input[1], n.Input[0]]);
                da = g.ReduceTo(g.Op("Mul", [d[0]!, g.Op("Mul", [b, g.Op("Pow", [n.Input[0], g.Op("Sub", [b, g.Scalar(1, n.Input[0])])])])]), n.Input[0]);
            }

            if (g.Needs(n.Input[1]))
            {
                db = g.ReduceTo(g.Op("Mul", [d[0]!, g.Op("Mul", [n.Output[0], g.Op("Log", [n.Input[0]])])]), n.Input[1]);
            }

            return [da, db];
        });

        yield return new("Neg", FirstOnly, (g, n, d) => [g.Op("Neg", [d[0]!])]);
        yield return new("Identity", FirstOnly, (g, n, d) => [d[0]]);

        // y = √a: ∂y/∂a = 1/(2y).
        yield return new("Sqrt", FirstOnly, (g, n, d) => [g.Op("Div", [g.Op("Mul", [d[0]!, g.Scalar(0.5, d[0]!)]), n.Output[0]])]);
        yield return new("Exp", FirstOnly, (g, n, d) => [g.Op("Mul", [d[0]!, n.Output[0]])]);
        yield return new("Log", FirstOnly, (g, n, d) => [g.Op("Div", [d[0]!, n.Input[0]])]);

        // y = 1/a: ∂y/∂a = −y².
        yield return new("Reciprocal", FirstOnly, (g, n, d) => [g.Op("Neg", [g.Op("Mul", [d[0]!, g.Op("Mul", [n.Output[0], n.Output[0]])])])]);
        yield return new("Abs", FirstOnly, (g, n, d) => [g.Op("Mul", [d[0]!, g.Op("Sign", [n.Input[0]])])]);

        // A cast to a float type passes the gradient back in the input's type; a cast to an integer or bool is a step function (no gradient).
        yield return new("Cast", (n, i) => s_floatTypes.Contains(n.Int("to", 0)), (g, n, d) => [g.Op("CastLike", [d[0]!, n.Input[0]])]);

        // The condition picks which branch each element came from; the other branch gets zero there.
        yield return new("Where", (n, i) => i > 0, (g, n, d) =>
        [
            null,
            g.Needs(n.Input[1]) ? g.ReduceTo(g.Op("Where", [n.Input[0], d[0]!, g.Scalar(0, d[0]!)]), n.Input[1]) : null,
            g.Needs(n.Input[2]) ? g.ReduceTo(g.Op("Where", [n.Input[0], g.Scalar(0, d[0]!), d[0]!]), n.Input[2]) : null,
        ]);

        // Ops whose outputs are shapes, indices, masks or constants: no input carries a gradient.
        foreach (var op in new[] { "Shape", "Size", "Constant", "ConstantOfShape", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "ArgMax", "ArgMin", "NonZero", "Range" })
        {
            yield return GradientRule.Constant(op);
        }
    }

    private static string? Reduced(GradientGraph g, NodeProto n, int input, string d) => g.Needs(n.Input[input]) ? g.ReduceTo(d, n.Input[input]) : null;
}
