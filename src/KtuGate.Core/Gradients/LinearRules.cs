namespace KtuGate.Gradients;

/// <summary>Matrix products.</summary>
internal sealed class LinearRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        // y = a·b over the last two axes, the leading ones broadcast: da = dy·bᵀ, db = aᵀ·dy, each summed back over broadcast batch axes.
        // (1-D operands are not promoted: a 1-D b or a 1-D a needing bᵀ fails in ONNX Runtime rather than giving a wrong gradient.)
        yield return new("MatMul", All, (g, n, d) =>
        [
            g.Needs(n.Input[0]) ? g.ReduceTo(g.Op("MatMul", [d[0]!, g.SwapLastTwo(n.Input[1])]), n.Input[0]) : null,
            !g.Needs(n.Input[1]) ? null
                : g.InitializerRanks.GetValueOrDefault(n.Input[1]) == 2 ? WeightGradient(g, n.Input[0], d[0]!, n.Input[1])
                : g.ReduceTo(g.Op("MatMul", [g.SwapLastTwo(n.Input[0]), d[0]!]), n.Input[1]),
        ]);

        // y = α·A'·B' + β·C with A' = transA ? Aᵀ : A (likewise B'): each gradient is itself one Gemm.
        yield return new("Gemm", All, (g, n, d) =>
        {
            var alpha = n.Float("alpha", 1f);
            var beta = n.Float("beta", 1f);
            var transA = n.Int("transA", 0) != 0;
            var transB = n.Int("transB", 0) != 0;
            var a = n.Input[0];
            var b = n.Input[1];
            var dy = d[0]!;
            string? da = null, db = null, dc = null;
            if (g.Needs(a))
            {
                // dA' = dy·B'ᵀ; dA = dA' or its transpose.
                da = transA
                    ? Gemm(g, b, dy, alpha, transB, true)
                    : Gemm(g, dy, b, alpha, false, !transB);
            }

            if (g.Needs(b))
            {
                // dB' = A'ᵀ·dy; dB = dB' or its transpose.
                db = transB
                    ? Gemm(g, dy, a, alpha, true, transA)
                    : Gemm(g, a, dy, alpha, !transA, false);
            }

            if (n.InputAt(2) is { } c && g.Needs(c))
            {
                dc = g.ReduceTo(beta == 1f ? dy : g.Op("Mul", [dy, g.Scalar(beta, dy)]), c);
            }

            return [da, db, dc];
        });
    }

    private static string Gemm(GradientGraph g, string a, string b, float alpha, bool transA, bool transB)
        => g.Op("Gemm", [a, b], GradientGraph.Attr("alpha", alpha), GradientGraph.Attr("transA", transA ? 1 : 0), GradientGraph.Attr("transB", transB ? 1 : 0));

    /// <summary>
    /// db = Σ aᵀ·dy for a 2-D weight b [K, N] under an activation a [..., M, K]: the leading axes folded into the rows first
    /// (a as [-1, K], dy as [-1, N]), so that one [K, N] product is formed instead of one per batch element summed afterwards.
    /// </summary>
    private static string WeightGradient(GradientGraph g, string a, string dy, string b)
    {
        var rows = g.Op("Reshape", [a, g.Op("Concat", [g.Int64s([-1]), g.Op("Slice", [g.ShapeOf(b), g.Int64s([0]), g.Int64s([1])])], GradientGraph.Attr("axis", 0))]);
        var columns = g.Op("Reshape", [dy, g.Op("Concat", [g.Int64s([-1]), g.Op("Slice", [g.ShapeOf(b), g.Int64s([1]), g.Int64s([2])])], GradientGraph.Attr("axis", 0))]);
        return g.Op("MatMul", [g.Op("Transpose", [rows], GradientGraph.Attr("perm", new long[] { 1, 0 })), columns]);
    }
}
