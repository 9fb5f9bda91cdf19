namespace KtuGate.Gradients;

/// <summary>Ops that move, select or reshape elements without changing them: the gradient goes back to where each element came from.</summary>
internal sealed class DataMovementRules : GradientRuleFamily
{
    /// <inheritdoc/>
    public override IEnumerable<GradientRule> Rules()
    {
        foreach (var op in new[] { "Reshape", "Flatten", "Squeeze", "Unsqueeze" })
        {
            yield return new(op, FirstOnly, (g, n, d) => [g.Op("Reshape", [d[0]!, g.ShapeOf(n.Input[0])]), .. new string?[n.Input.Count - 1]]);
        }

        yield return new("Expand", FirstOnly, (g, n, d) => [g.ReduceTo(d[0]!, n.Input[0]), null]);

        yield return new("Transpose", FirstOnly, (g, n, d) =>
        {
            // Without perm the axes are reversed, which is its own inverse.
            var perm = n.Ints("perm");
            if (perm is null)
            {
                return [g.Op("Transpose", [d[0]!])];
            }

            var inverse = new long[perm.Length];
            for (var i = 0; i < perm.Length; i++)
            {
                inverse[perm[i]] = i;
            }

            return [g.Op("Transpose", [d[0]!], GradientGraph.Attr("perm", inverse))];
        });

        // Selections: the same Slice or Gather applied to every element's flat index says where each output element came from.
        yield return new("Slice", FirstOnly, (g, n, d) =>
            [g.ScatterBack(n.Input[0], d[0]!, index => g.Op("Slice", [index, .. n.Input.Skip(1)])), .. new string?[n.Input.Count - 1]]);
        yield return new("Gather", FirstOnly, (g, n, d) =>
            [g.ScatterBack(n.Input[0], d[0]!, index => g.Op("Gather", [index, n.Input[1]], GradientGraph.Attr("axis", n.Int("axis", 0)))), null]);

        // Concat: split the gradient along the axis into the inputs' lengths (read at run time).
        yield return new("Concat", All, (g, n, d) =>
        {
            var axis = n.Int("axis", 0);
            var lengths = g.Op("Concat", [.. n.Input.Select(i => g.Op("Gather", [g.ShapeOf(i), g.Int64s([axis])]))], GradientGraph.Attr("axis", 0));
            var parts = g.OpN("Split", [d[0]!, lengths], n.Input.Count, GradientGraph.Attr("axis", axis));
            return [.. parts.Select((p, i) => g.Needs(n.Input[i]) ? p : null)];
        });

        // Split: the outputs' gradients concatenated back along the axis, zeros for an output no gradient reaches (a decoder's q, k, v
        // from one projection). The split sizes (input or attribute) carry none.
        yield return new("Split", FirstOnly, (g, n, d) =>
        {
            var parts = n.Output.Select((o, i) => d[i] ?? g.ZerosOfShape(g.ShapeOf(o)));
            return [g.Op("Concat", parts, GradientGraph.Attr("axis", n.Int("axis", 0))), .. new string?[n.Input.Count - 1]];
        }, Outputs: int.MaxValue);
    }
}
