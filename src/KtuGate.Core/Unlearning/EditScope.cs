using KtuGate.Diagnostics;
using KtuGate.Onnx;
using Onnx;

namespace KtuGate.Unlearning;

/// <summary>Which initializers a deep edit trains: <c>last</c> (the edit site's weight and bias), <c>all</c> (every float weight) or node names and initializer-name prefixes.</summary>
public static class EditScope
{
    /// <summary>The last linear layer only: today's edit, and the cheapest.</summary>
    public const string Last = "last";

    /// <summary>Every float initializer of rank 1 or more that a node reads: the whole network.</summary>
    public const string All = "all";

    /// <summary>The initializers <paramref name="scope"/> names, in the model's order, each once.</summary>
    /// <param name="model">The model.</param>
    /// <param name="scope">Entries: <see cref="Last"/>, <see cref="All"/>, a node name (its float initializer inputs) or an initializer-name prefix.</param>
    /// <param name="site">The last linear layer, for <see cref="Last"/>.</param>
    /// <param name="diagnostics">Receives KTU4012 for an entry that names nothing.</param>
    /// <param name="location">Where the scope was given (the policy), for the diagnostic.</param>
    /// <returns>The initializer names, or null after a diagnostic.</returns>
    /// <remarks>Scalars (rank 0) are left out of <see cref="All"/>: exported graphs keep constants such as exponents and epsilons there, not weights.</remarks>
    public static IReadOnlyList<string>? Resolve(ModelProto model, IReadOnlyList<string> scope, EditSite site, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var read = model.Graph.Node.SelectMany(n => n.Input).ToHashSet();
        var weights = model.Graph.Initializer
            .Where(t => t.DataType is (int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Double && t.Dims.Count > 0 && read.Contains(t.Name))
            .Select(t => t.Name).ToList();
        var chosen = new HashSet<string>();
        var ok = true;
        foreach (var entry in scope)
        {
            IEnumerable<string> named = entry switch
            {
                Last => site.Bias is null ? [site.Weight] : [site.Weight, site.Bias],
                All => weights,
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
}
