using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Puts each remediated artifact in its original's place in a list of items (None, Content, EmbeddedResource, their copy-to-output and publish lists), and picks out the items that stand for a gated model.</summary>
/// <remarks>
/// The gate may run after the original has been listed for copying, publishing and packing (after Build). Replacing the item, with its
/// metadata (TargetPath, RelativePath, CopyToOutputDirectory, Pack, ManifestResourceName, ...), makes every later step take the artifact
/// that passed the gate.
/// </remarks>
public sealed class KtuUseGatedArtifacts : Microsoft.Build.Utilities.Task
{
    /// <summary>The gated artifacts, each with <c>OriginalPath</c>: the full path of the model item it stands for (itself where it was not edited).</summary>
    public ITaskItem[] Gated { get; set; } = [];

    /// <summary>The items to rewrite.</summary>
    public ITaskItem[] Items { get; set; } = [];

    /// <summary>The project's folder: an original there keeps its project-relative place as <c>Link</c>, so that packing puts the replacement where the original went.</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>The items, in order, with every original replaced by its remediated artifact.</summary>
    [Output]
    public ITaskItem[] Result { get; private set; } = [];

    /// <summary>Only the items that stand for a model, each with <c>KtuOriginalPath</c>.</summary>
    [Output]
    public ITaskItem[] Replaced { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        var byOriginal = Gated.DistinctBy(r => Path.GetFullPath(r.GetMetadata("OriginalPath")), StringComparer.Ordinal)
            .ToDictionary(r => Path.GetFullPath(r.GetMetadata("OriginalPath")), r => Path.GetFullPath(r.ItemSpec), StringComparer.Ordinal);
        var replaced = new List<ITaskItem>();
        Result = Items.Select(item =>
        {
            var full = Path.GetFullPath(Path.Combine(ProjectDirectory, item.ItemSpec));
            if (!byOriginal.TryGetValue(full, out var remediated))
            {
                return item;
            }

            if (string.Equals(remediated, full, StringComparison.Ordinal))
            {
                replaced.Add(item);
                return item;
            }

            var replacement = new TaskItem(remediated, item.CloneCustomMetadata());
            var relative = Path.GetRelativePath(Path.GetFullPath(ProjectDirectory), full);
            if (string.IsNullOrEmpty(item.GetMetadata("Link")) && !relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative))
            {
                replacement.SetMetadata("Link", relative);
            }

            replacement.SetMetadata("KtuOriginalPath", full);
            replaced.Add(replacement);
            return replacement;
        }).ToArray();
        Replaced = [.. replaced];
        return true;
    }
}
