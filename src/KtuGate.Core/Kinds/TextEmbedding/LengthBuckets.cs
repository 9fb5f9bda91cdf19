using Onnx;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// Training batches of texts without most of their padding: the encoder's graph is copied once per length bucket (the copies share its
/// weights, so their gradients add up), and each step's texts, sorted by token count, are split into the buckets where the padded
/// positions are fewest.
/// </summary>
/// <remarks>
/// A step's texts are mostly short (a candidate such as "France" is three tokens, an anchor word three) and some long (a template
/// wording such as "the city of Paris, a large city"). Measured on the TextFacts city policy's batches (about 220 texts, 940 tokens):
/// one width pads them to about 1980 positions, two widths to 1270, three to 1040. Each copy adds to the gradient graph, which ONNX
/// Runtime takes longer than linearly to open (MiniLM's: 3.7 s for one copy, 12 s for two, 27 s for three), so two: a step took
/// about 1.6 s against 2.8 s with one.
/// </remarks>
internal static class LengthBuckets
{
    /// <summary>How many widths a step's batch is split into.</summary>
    public const int Count = 2;

    /// <summary>The name bucket <paramref name="bucket"/> gives the encoder's tensor <paramref name="tensor"/> (bucket 0 keeps the model's names).</summary>
    public static string Name(string tensor, int bucket) => bucket == 0 || tensor.Length == 0 ? tensor : $"{tensor}.ktu_bucket{bucket}";

    /// <summary>
    /// The model with its nodes <see cref="Count"/> times over, copy k reading and producing the tensors <see cref="Name"/> gives (its own
    /// inputs, the same initializers); null where a node holds a subgraph, whose outer-scope names a copy could not rename.
    /// </summary>
    public static ModelProto? Copied(ModelProto model, IReadOnlyCollection<string> inputs)
    {
        if (model.Graph.Node.Any(n => n.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0)))
        {
            return null;
        }

        var copy = model.Clone();
        var graph = copy.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var nodes = graph.Node.ToList();
        for (var bucket = 1; bucket < Count; bucket++)
        {
            var k = bucket;
            string Rename(string tensor) => initializers.Contains(tensor) ? tensor : Name(tensor, k);
            foreach (var node in nodes)
            {
                var twin = node.Clone();
                twin.Name = node.Name.Length == 0 ? string.Empty : Name(node.Name, k);
                for (var i = 0; i < twin.Input.Count; i++)
                {
                    twin.Input[i] = Rename(twin.Input[i]);
                }

                for (var i = 0; i < twin.Output.Count; i++)
                {
                    twin.Output[i] = Rename(twin.Output[i]);
                }

                graph.Node.Add(twin);
            }

            foreach (var input in graph.Input.Where(i => inputs.Contains(i.Name)).ToList())
            {
                // Its own symbolic dimensions too: ONNX Runtime takes one name for one size throughout the graph.
                var twin = input.Clone();
                twin.Name = Name(input.Name, k);
                foreach (var dim in twin.Type?.TensorType?.Shape?.Dim ?? [])
                {
                    dim.DimParam = dim.DimParam.Length == 0 ? dim.DimParam : Name(dim.DimParam, k);
                }

                graph.Input.Add(twin);
            }
        }

        return copy;
    }

    /// <summary>
    /// Where the texts, sorted by token count, are cut into <see cref="Count"/> runs so that the padded positions (each run's size times
    /// its longest text) are fewest: each run's start index, ascending, the first 0. A run may be empty where there are fewer texts.
    /// </summary>
    public static int[] Cuts(IReadOnlyList<int> sortedLengths)
    {
        var n = sortedLengths.Count;
        var cost = new long[Count + 1, n + 1];
        var from = new int[Count + 1, n + 1];
        for (var j = 1; j <= n; j++)
        {
            cost[0, j] = long.MaxValue;
        }

        for (var k = 1; k <= Count; k++)
        {
            for (var j = 0; j <= n; j++)
            {
                // Runs 1..k cover the first j texts; run k covers texts i..j-1 (empty where i == j).
                (cost[k, j], from[k, j]) = (long.MaxValue, j);
                for (var i = 0; i <= j; i++)
                {
                    if (cost[k - 1, i] == long.MaxValue)
                    {
                        continue;
                    }

                    var total = cost[k - 1, i] + (i == j ? 0 : (long)(j - i) * sortedLengths[j - 1]);
                    if (total < cost[k, j])
                    {
                        (cost[k, j], from[k, j]) = (total, i);
                    }
                }
            }
        }

        var cuts = new int[Count];
        var end = n;
        for (var k = Count; k >= 1; k--)
        {
            cuts[k - 1] = from[k, end];
            end = from[k, end];
        }

        return cuts;
    }
}
