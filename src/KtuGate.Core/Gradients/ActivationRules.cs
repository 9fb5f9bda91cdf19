namespace KtuGate.Gradients;

/// <summary>Activations and the softmax family.</summary>
internal sealed class ActivationRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        // The gradient passes where the input is positive (0 at the kink, as PyTorch and ONNX Runtime take it).
        yield return new("Relu", FirstOnly, (g, n, d) => [g.Op("Where", [g.Op("Greater", [n.Input[0], g.Scalar(0, n.Input[0])]), d[0]!, g.Scalar(0, d[0]!)])]);

        // erf'(x) = 2/√π · exp(−x²).
        yield return new("Erf", FirstOnly, (g, n, d) =>
        {
            var x = n.Input[0];
            var bell = g.Op("Exp", [g.Op("Neg", [g.Op("Mul", [x, x])])]);
            return [g.Op("Mul", [d[0]!, g.Op("Mul", [bell, g.Scalar(2 / Math.Sqrt(Math.PI), x)])])];
        });

        // tanh' = 1 − y², σ' = y(1 − y).
        yield return new("Tanh", FirstOnly, (g, n, d) => [g.Op("Mul", [d[0]!, g.Op("Sub", [g.Scalar(1, n.Output[0]), g.Op("Mul", [n.Output[0], n.Output[0]])])])]);
        yield return new("Sigmoid", FirstOnly, (g, n, d) => [g.Op("Mul", [d[0]!, g.Op("Mul", [n.Output[0], g.Op("Sub", [g.Scalar(1, n.Output[0]), n.Output[0]])])])]);

        // Clip passes the gradient inside [min, max]; below min it goes to min, above max to max (each summed to its shape).
        yield return new("Clip", All, (g, n, d) =>
        {
            var x = n.Input[0];
            var min = n.InputAt(1);
            var max = n.InputAt(2);
            string? inside = null;
            if (min is not null)
            {
                inside = g.Op("GreaterOrEqual", [x, min]);
            }

            if (max is not null)
            {
                var belowMax = g.Op("LessOrEqual", [x, max]);
                inside = inside is null ? belowMax : g.Op("And", [inside, belowMax]);
            }

            var dx = inside is null ? d[0] : g.Op("Where", [inside, d[0]!, g.Scalar(0, d[0]!)]);
            var dMin = min is not null && g.Needs(min) ? g.ReduceTo(g.Op("Where", [g.Op("Less", [x, min]), d[0]!, g.Scalar(0, d[0]!)]), min) : null;
            var dMax = max is not null && g.Needs(max) ? g.ReduceTo(g.Op("Where", [g.Op("Greater", [x, max]), d[0]!, g.Scalar(0, d[0]!)]), max) : null;
            return [dx, dMin, dMax];
        });

        // Opset 13 softmax over one axis: dx = y ⊙ (dy − Σ dy ⊙ y).
        yield return new("Softmax", FirstOnly, (g, n, d) =>
        {
            var y = n.Output[0];
            var axis = g.Int64s([n.Int("axis", -1)]);
            var dot = g.Op("ReduceSum", [g.Op("Mul", [d[0]!, y]), axis], GradientGraph.Attr("keepdims", 1));
            return [g.Op("Mul", [y, g.Op("Sub", [d[0]!, dot])])];
        });

        // dx = dy − softmax(x) · Σ dy.
        yield return new("LogSoftmax", FirstOnly, (g, n, d) =>
        {
            var axis = g.Int64s([n.Int("axis", -1)]);
            var total = g.Op("ReduceSum", [d[0]!, axis], GradientGraph.Attr("keepdims", 1));
            return [g.Op("Sub", [d[0]!, g.Op("Mul", [g.Op("Exp", [n.Output[0]]), total])])];
        });
    }
}
