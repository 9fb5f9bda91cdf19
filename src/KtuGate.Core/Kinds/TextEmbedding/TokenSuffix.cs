using Onnx;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// The part of an encoder's graph that a scope trains, cut where it reads the untrained rest, when each token's state there depends on that
/// token's state alone (a block's feed-forward projections and the layer normalisation after them): the frozen part below runs once per
/// text, and a step feeds every token of its texts as one row, with no padding and no attention.
/// </summary>
/// <remarks>
/// A step of the whole encoder runs every text through every layer forward and back; a step of the last block's feed-forward projections
/// through this cut runs two matrix products per token. The cut is refused (null, and training runs the whole graph) wherever a node of
/// the part could mix tokens: a matrix product of two activations (attention), a reduction over any axis but the last, a reshape, a node
/// reading a graph input or a non-scalar tensor other than the one frontier (an attention mask).
/// </remarks>
internal static class TokenSuffix
{
    /// <summary>Ops that act on each position's last axis alone, given operands that are the frontier, a trained path's tensor, or a vector.</summary>
    private static readonly HashSet<string> s_positionWise = new(StringComparer.Ordinal)
    {
        "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Tanh", "Relu", "Sigmoid", "Gelu", "FastGelu", "Cast", "Identity",
        "ReduceMean", "LayerNormalization",
    };

    /// <summary>
    /// The suffix of <paramref name="model"/> from the one tensor below <paramref name="trained"/> to <paramref name="output"/>: a model whose
    /// only input is that tensor (<paramref name="frontier"/>, [batch, tokens, width] in the encoder, fed as [1, all tokens, width]).
    /// </summary>
    /// <returns>The suffix model, or null where the trained part is not position-wise or reads more than one tensor from below.</returns>
    public static ModelProto? Cut(ModelProto model, IReadOnlyCollection<string> trained, string output, out string frontier)
    {
        frontier = string.Empty;
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var constants = graph.Node.Where(n => n.OpType == "Constant" && n.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { Dims.Count: <= 1 })
            .SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);

        if (Kept(graph, trained, output, out var live) is not { } kept || Frontier(graph, kept, live, initializers, constants) is not { } below)
        {
            return null;
        }

        frontier = below;
        return Suffix(model, kept, constants, frontier, output);
    }

    /// <summary>The nodes between the trained weights and <paramref name="output"/> that the output needs, in order; null where it needs no trained weight or not all of them.</summary>
    private static List<NodeProto>? Kept(GraphProto graph, IReadOnlyCollection<string> trained, string output, out HashSet<string> live)
    {
        // Tensors that depend on a trained weight, in the graph's (topological) order.
        live = new HashSet<string>(trained, StringComparer.Ordinal);
        var dependent = new List<NodeProto>();
        foreach (var node in graph.Node)
        {
            if (node.Input.Any(live.Contains))
            {
                dependent.Add(node);
                live.UnionWith(node.Output);
            }
        }

        if (!live.Contains(output))
        {
            return null;
        }

        // Only what the output needs: walk back from it.
        var needed = new HashSet<string>(StringComparer.Ordinal) { output };
        var kept = new List<NodeProto>();
        for (var i = dependent.Count - 1; i >= 0; i--)
        {
            if (dependent[i].Output.Any(needed.Contains))
            {
                kept.Add(dependent[i]);
                needed.UnionWith(dependent[i].Input.Where(n => n.Length > 0));
            }
        }

        kept.Reverse();
        if (!trained.All(needed.Contains))
        {
            return null;
        }

        return kept;
    }

    /// <summary>The one tensor from below that the kept nodes read, or null where a node is not position-wise or they read more than one.</summary>
    private static string? Frontier(GraphProto graph, List<NodeProto> kept, HashSet<string> live, Dictionary<string, TensorProto> initializers, HashSet<string> constants)
    {
        var below = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in kept)
        {
            // A matrix product mixes tokens unless its right operand is a weight (a product of two activations is attention).
            var weighted = node.OpType != "MatMul" || (initializers.TryGetValue(node.Input[1], out var w) && w.Dims.Count == 2);
            if (!s_positionWise.Contains(node.OpType) || !weighted || node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0) || !LastAxisOnly(node, initializers))
            {
                return null;
            }

            for (var i = 0; i < node.Input.Count; i++)
            {
                var input = node.Input[i];
                if (input.Length == 0 || live.Contains(input))
                {
                    continue;
                }

                if (constants.Contains(input) || (initializers.TryGetValue(input, out var t) && (t.Dims.Count <= 1 || (node.OpType == "MatMul" && i == 1 && t.Dims.Count == 2))))
                {
                    continue;
                }

                // A matrix product's left operand from below, or any operand that is not a scalar, vector or weight: the frontier.
                if (initializers.ContainsKey(input) || graph.Input.Any(g => g.Name == input))
                {
                    return null;
                }

                below.Add(input);
            }
        }

        return below.Count == 1 ? below.Single() : null;
    }

    /// <summary>The suffix model: the kept nodes and what they read, fed <paramref name="frontier"/> as [batch, tokens, width].</summary>
    private static ModelProto Suffix(ModelProto model, List<NodeProto> kept, HashSet<string> constants, string frontier, string output)
    {
        var graph = model.Graph;
        var used = kept.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var suffix = new ModelProto { IrVersion = model.IrVersion, Graph = new GraphProto { Name = graph.Name + ".ktu_suffix" } };
        suffix.OpsetImport.AddRange(model.OpsetImport.Select(o => o.Clone()));
        suffix.Graph.Node.AddRange(graph.Node.Where(n => n.OpType == "Constant" && n.Output.Any(o => constants.Contains(o) && used.Contains(o))).Select(n => n.Clone()));
        suffix.Graph.Node.AddRange(kept.Select(n => n.Clone()));
        suffix.Graph.Initializer.AddRange(graph.Initializer.Where(t => used.Contains(t.Name)).Select(t => t.Clone()));
        var name = frontier;
        suffix.Graph.Input.Add(new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = Shape("batch", "tokens", "width") } },
        });
        suffix.Graph.Output.Add(graph.Output.FirstOrDefault(o => o.Name == output)?.Clone() ?? new ValueInfoProto
        {
            Name = output,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });
        return suffix;
    }

    /// <summary>Whether a reduction or normalisation acts on the last axis only (other ops have no axis).</summary>
    private static bool LastAxisOnly(NodeProto node, Dictionary<string, TensorProto> initializers)
    {
        switch (node.OpType)
        {
            case "ReduceMean":
                var axes = node.Attribute.FirstOrDefault(a => a.Name == "axes")?.Ints.ToList()
                    ?? (node.Input.Count > 1 && initializers.TryGetValue(node.Input[1], out var t) ? [.. t.Int64Data] : null);
                return axes is [-1];
            case "LayerNormalization":
                return (node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? -1) == -1;
            default:
                return true;
        }
    }

    private static TensorShapeProto Shape(params string[] symbols)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(symbols.Select(s => new TensorShapeProto.Types.Dimension { DimParam = s }));
        return shape;
    }
}
