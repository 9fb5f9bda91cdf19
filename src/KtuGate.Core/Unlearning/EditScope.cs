using KtuGate.Diagnostics;
using KtuGate.Onnx;
using Onnx;

namespace KtuGate.Unlearning;

/// <summary>Which initializers a deep edit trains: <c>last</c> (the edit site's weight and bias), <c>all</c> (every float weight) or node names and initializer-name prefixes.</summary>
public static class EditScope
{
    /// <summary>The last linear layer only: today's edit, and the cheapest.</summary>
    public const string Last = "last";

    /// <summary>Every float initializer of rank 1 or more that a node reads, batch normalisation's running statistics excepted: the whole network.</summary>
    public const string All = "all";

    /// <summary>
    /// Every transformer block's feed-forward projections (weights and biases); <c>feed-forward:K</c> block K's only, counted from 0, or
    /// from the end where negative (<c>feed-forward:-1</c>: the last block's).
    /// </summary>
    public const string FeedForward = "feed-forward";

    /// <summary>The last block's feed-forward projections: a text encoder's cheap first try.</summary>
    public const string LastFeedForward = FeedForward + ":-1";

    /// <summary>The initializers <paramref name="scope"/> names, in the model's order, each once.</summary>
    /// <param name="model">The model.</param>
    /// <param name="scope">Entries: <see cref="Last"/>, <see cref="All"/>, <see cref="FeedForward"/> (or one block's), a node name (its float initializer inputs) or an initializer-name prefix.</param>
    /// <param name="site">The last linear layer, for <see cref="Last"/>.</param>
    /// <param name="diagnostics">Receives KTU4012 for an entry that names nothing.</param>
    /// <param name="location">Where the scope was given (the policy), for the diagnostic.</param>
    /// <returns>The initializer names, or null after a diagnostic.</returns>
    /// <remarks>
    /// Scalars (rank 0) are left out of <see cref="All"/>: exported graphs keep constants such as exponents and epsilons there, not weights.
    /// So are BatchNormalization's mean and variance (inputs 3 and 4), as frameworks keep them out of their parameters: in inference form
    /// they only repeat the layer's scale and bias, and a variance stepped below zero turns the layer's output into NaN. A node name or
    /// prefix still names them.
    /// </remarks>
    public static IReadOnlyList<string>? Resolve(ModelProto model, IReadOnlyList<string> scope, EditSite site, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var read = model.Graph.Node.SelectMany(n => n.Input).ToHashSet();
        var weights = model.Graph.Initializer
            .Where(t => t.DataType is (int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Double && t.Dims.Count > 0 && read.Contains(t.Name))
            .Select(t => t.Name).ToList();
        var statistics = model.Graph.Node.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Input.Skip(3).Take(2)).ToHashSet();
        var chosen = new HashSet<string>();
        var ok = true;
        foreach (var entry in scope)
        {
            IEnumerable<string> named = entry switch
            {
                Last => site.Bias is null ? [site.Weight] : [site.Weight, site.Bias],
                All => weights.Where(w => !statistics.Contains(w)),
                _ when FeedForwardNamed(model, weights, entry) is { } feedForward => feedForward,
                _ => model.Graph.Node.Where(n => n.Name == entry).SelectMany(n => n.Input).Where(weights.Contains)
                    .Concat(weights.Where(w => w.StartsWith(entry, StringComparison.Ordinal))),
            };
            var before = chosen.Count;
            chosen.UnionWith(named);
            if (chosen.Count == before && !named.Any())
            {
                diagnostics.Add(DiagnosticCodes.ScopeNamesNothing, location, entry);
                ok = false;
            }
        }

        return ok ? [.. weights.Where(chosen.Contains)] : null;
    }

    /// <summary>
    /// What a <see cref="FeedForward"/> entry names: every block's projections, or block K's for <c>feed-forward:K</c> (none where there
    /// is no such block); null where the entry is no feed-forward entry.
    /// </summary>
    private static IEnumerable<string>? FeedForwardNamed(ModelProto model, IReadOnlyCollection<string> weights, string entry)
    {
        if (entry == FeedForward)
        {
            return FeedForwardBlocks(model, weights).SelectMany(b => b);
        }

        if (!entry.StartsWith(FeedForward + ":", StringComparison.Ordinal)
            || !int.TryParse(entry.AsSpan(FeedForward.Length + 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var k))
        {
            return null;
        }

        var blocks = FeedForwardBlocks(model, weights);
        var at = k < 0 ? k + blocks.Count : k;
        return at >= 0 && at < blocks.Count ? blocks[at] : [];
    }

    /// <summary>
    /// The model's feed-forward blocks in graph order, each its two projections' weights and biases: a matrix product by a [d, h] weight
    /// (h &gt; d) whose output, through nodes that are not matrix products (bias, activation), reaches a product by an [h, d] weight.
    /// </summary>
    private static List<List<string>> FeedForwardBlocks(ModelProto model, IReadOnlyCollection<string> weights)
    {
        var dims = model.Graph.Initializer.Where(t => weights.Contains(t.Name)).ToDictionary(t => t.Name, t => t.Dims.ToArray(), StringComparer.Ordinal);
        var readers = model.Graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n, StringComparer.Ordinal);
        long[]? WeightOf(NodeProto n) => n.OpType == "MatMul" && n.Input.Count == 2 && dims.TryGetValue(n.Input[1], out var d) && d.Length == 2 ? d : null;

        // The bias a product's output is added to: a vector of its width read by the Add that reads the product.
        IEnumerable<string> Bias(NodeProto product, long width)
            => readers[product.Output[0]].Where(n => n.OpType == "Add").SelectMany(n => n.Input).Where(i => dims.TryGetValue(i, out var d) && d.Length == 1 && d[0] == width).Take(1);

        var blocks = new List<List<string>>();
        foreach (var up in model.Graph.Node)
        {
            if (WeightOf(up) is not [var d, var h] || h <= d)
            {
                continue;
            }

            var frontier = new Queue<(string Tensor, int Depth)>([(up.Output[0], 0)]);
            NodeProto? down = null;
            while (down is null && frontier.TryDequeue(out var at))
            {
                foreach (var reader in readers[at.Tensor])
                {
                    if (WeightOf(reader) is [var hh, var dd] && hh == h && dd == d)
                    {
                        down = reader;
                        break;
                    }

                    if (reader.OpType is not ("MatMul" or "Gemm") && at.Depth < 16)
                    {
                        foreach (var o in reader.Output)
                        {
                            frontier.Enqueue((o, at.Depth + 1));
                        }
                    }
                }
            }

            if (down is not null)
            {
                blocks.Add([up.Input[1], .. Bias(up, h), down.Input[1], .. Bias(down, d)]);
            }
        }

        return blocks;
    }
}
