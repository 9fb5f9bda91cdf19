using System.Text;
using KtuGate.Diagnostics;
using KtuGate.Policies;

namespace KtuGate.Models;

/// <summary>Where a policy concept lands in a model: its fine label and its coarse group.</summary>
/// <param name="Concept">The policy concept.</param>
/// <param name="FineLabel">The index of the label the concept names, or -1 when it names a coarse group.</param>
/// <param name="CoarseGroup">The index of the concept's coarse group in the manifest, or -1 when there is none.</param>
public sealed record ConceptBinding(Concept Concept, int FineLabel, int CoarseGroup)
{
    /// <summary>Matches a concept to the model by its key or an alias (case, spaces, hyphens and underscores ignored).</summary>
    /// <returns>The binding, or null with KTU2007 when nothing matches.</returns>
    public static ConceptBinding? Bind(Policy policy, Concept concept, ModelManifest manifest, string modelName, DiagnosticBag diagnostics)
    {
        var names = concept.Names.Select(Normalize).ToHashSet();
        var label = IndexOf(manifest.Labels, names);
        var group = IndexOf(manifest.Coarse.Select(g => g.Name).ToList(), names);
        if (label < 0 && group < 0)
        {
            diagnostics.Add(DiagnosticCodes.ConceptNotInModel, concept.Location, concept.Name,
                concept.Aliases.Count == 0 ? "none" : string.Join(", ", concept.Aliases), modelName);
            return null;
        }

        if (label >= 0)
        {
            group = manifest.CoarseOfLabel[label];
            if (policy.ParentOf(concept) is { } parent && group >= 0
                && !parent.Names.Select(Normalize).Contains(Normalize(manifest.Coarse[group].Name)))
            {
                diagnostics.Add(DiagnosticCodes.HierarchyMismatch, concept.ParentLocation ?? concept.Location,
                    concept.Name, parent.Name, manifest.Coarse[group].Name);
            }
        }

        return new ConceptBinding(concept, label, group);
    }

    /// <summary>The index of the label a name matches (case, spaces, hyphens and underscores ignored), or -1.</summary>
    public static int FindLabel(ModelManifest manifest, string name) => IndexOf(manifest.Labels, [Normalize(name)]);

    private static int IndexOf(IReadOnlyList<string> candidates, HashSet<string> names)
    {
        for (var i = 0; i < candidates.Count; i++)
        {
            if (names.Contains(Normalize(candidates[i])))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A name as labels and concepts are matched: lower case, letters and digits, runs of anything else one space.</summary>
    internal static string Normalize(string name)
    {
        var builder = new StringBuilder(name.Length);
        var gap = false;
        foreach (var c in name.Trim())
        {
            if (char.IsLetterOrDigit(c))
            {
                if (gap && builder.Length > 0)
                {
                    builder.Append(' ');
                }

                builder.Append(char.ToLowerInvariant(c));
                gap = false;
            }
            else
            {
                gap = true;
            }
        }

        return builder.ToString();
    }
}
