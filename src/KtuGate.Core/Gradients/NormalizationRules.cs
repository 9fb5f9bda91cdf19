namespace KtuGate.Gradients;

/// <summary>Layer normalisation and batch normalisation in its inference form.</summary>
internal sealed class NormalizationRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        // x̂ = (x − μ)·σ⁻¹ over the axes from `axis` on; y = x̂·scale + b.
        // dx = σ⁻¹·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dy·scale; the mean and inverse deviation outputs carry no gradient here.
        yield return new("LayerNormalization", All, (g, n, d) =>
        {
            var x = n.Input[0];
            var scale = n.Input[1];
            var dy = d[0]!;
            var axis = n.Int("axis", -1);
            var axes = axis < 0
                ? g.Int64s([.. Enumerable.Range((int)axis, (int)-axis).Select(a => (long)a)])
                : g.Op("Range", [g.Int64s([axis], scalar: true), g.Op("Size", [g.ShapeOf(x)]), g.Int64s([1], scalar: true)]);
            string Mean(string t)
            {
                var sum = g.Op("ReduceSum", [t, axes], GradientGraph.Attr("keepdims", 1));
                return g.Op("Div", [sum, g.Op("CastLike", [g.Op("Div", [g.Op("Size", [t]), g.Op("Size", [sum])]), t])]);
            }

            var centred = g.Op("Sub", [x, Mean(x)]);
            var variance = Mean(g.Op("Mul", [centred, centred]));
            var inverse = g.Op("Reciprocal", [g.Op("Sqrt", [g.Op("Add", [variance, g.Scalar(n.Float("epsilon", 1e-5f), variance)])])]);
            var normalized = g.Op("Mul", [centred, inverse]);
            string? dx = null;
            if (g.Needs(x))
            {
                var dNormalized = g.Op("Mul", [dy, scale]);
                var inner = g.Op("Sub", [g.Op("Sub", [dNormalized, Mean(dNormalized)]), g.Op("Mul", [normalized, Mean(g.Op("Mul", [dNormalized, normalized]))])]);
                dx = g.Op("Mul", [inverse, inner]);
            }

            var dScale = g.Needs(scale) ? g.ReduceTo(g.Op("Mul", [dy, normalized]), scale) : null;
            var dBias = n.InputAt(2) is { } b && g.Needs(b) ? g.ReduceTo(dy, b) : null;
            return [dx, dScale, dBias];
        });

        // Inference form: y = (x − mean)·k + b per channel (axis 1), k = scale/√(var + ε).
        yield return new("BatchNormalization", All, (g, n, d) =>
        {
            var x = n.Input[0];
            var (scale, bias, mean, variance) = (n.Input[1], n.Input[2], n.Input[3], n.Input[4]);
            var dy = d[0]!;
            string Channel(string v) => g.Op("Reshape", [v, g.ChannelShape(scale, x)]);
            string PerChannel(string t) => g.SumPerChannel(t, scale, x);

            var inverse = g.Op("Reciprocal", [g.Op("Sqrt", [g.Op("Add", [variance, g.Scalar(n.Float("epsilon", 1e-5f), variance)])])]);
            var k = g.Op("Mul", [scale, inverse]);
            var centred = g.Op("Sub", [x, Channel(mean)]);
            var dx = g.Needs(x) ? g.Op("Mul", [dy, Channel(k)]) : null;
            var dScale = g.Needs(scale) ? PerChannel(g.Op("Mul", [dy, g.Op("Mul", [centred, Channel(inverse)])])) : null;
            var dBias = g.Needs(bias) || g.Needs(mean) ? PerChannel(dy) : null;
            var dMean = g.Needs(mean) ? g.Op("Neg", [g.Op("Mul", [dBias!, k])]) : null;

            // ∂y/∂var = (x − mean)·scale·(−½)·(var + ε)^(−3/2).
            var dVariance = g.Needs(variance)
                ? g.Op("Mul", [PerChannel(g.Op("Mul", [dy, centred])), g.Op("Mul", [k, g.Op("Mul", [g.Op("Mul", [inverse, inverse]), g.Scalar(-0.5, inverse)])])])
                : null;
            return [dx, dScale, g.Needs(bias) ? dBias : null, dMean, dVariance];
        }, n => n.Int("training_mode", 0) != 0 || n.Output.Count > 1 ? "BatchNormalization in training mode" : null);
    }
}
