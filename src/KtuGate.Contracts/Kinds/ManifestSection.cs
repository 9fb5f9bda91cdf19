using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Models;

namespace KtuGate.Kinds;

/// <summary>
/// A kind's own part of a manifest (a dual encoder's text tower and prompts), read by that kind's <see cref="ManifestSectionReader"/>
/// and carried by <see cref="ModelManifest.Section"/> for the kind's engine to read. It lives in Contracts, beside the parser,
/// because the parser also runs in MSBuild's process, where a kind's engine types must not load.
/// </summary>
public abstract record ManifestSection
{
    /// <summary>The section of a kind whose manifest has no fields of its own.</summary>
    public static ManifestSection None { get; } = new NoSection();

    /// <summary>Files the section names besides the artifact (full paths), which the up-to-date check and the report's inputs list.</summary>
    public virtual IReadOnlyList<string> InputFiles => [];

    private sealed record NoSection : ManifestSection;
}

/// <summary>Reads one kind's manifest section: the top-level fields only that kind may have, with located errors.</summary>
/// <param name="Kind">The kind whose manifests have this section.</param>
/// <param name="Fields">The top-level manifest fields the section owns; another kind's manifest may not have them.</param>
/// <param name="Read">Reads the section from the manifest's top object and the manifest's path (paths in it are relative to
/// the manifest); null when it has errors, which it has reported.</param>
/// <param name="Paths">Where the section holds file paths relative to the manifest, each as the top-level object and the field in
/// it (e.g. <c>("textTower", "model")</c>): what a copy of the manifest in another folder must rebase.</param>
internal sealed record ManifestSectionReader(ModelKind Kind, IReadOnlyList<string> Fields, Func<ObjectReader, string, ManifestSection?> Read,
    IReadOnlyList<(string Object, string Field)> Paths)
{
    /// <summary>The reader of a kind whose manifest has no fields of its own.</summary>
    public static ManifestSectionReader Without(ModelKind kind) => new(kind, [], (_, _) => ManifestSection.None, []);

    /// <summary>Whether the kind's model takes images, so that its manifest has <c>input</c>, <c>preprocess</c>, <c>labels</c> and <c>coarse</c> (true unless the kind says otherwise).</summary>
    public bool FeedsImages { get; init; } = true;

    /// <summary>
    /// Checks the names the section uses against the manifest's labels and coarse groups once those are read (a dual encoder's prompts
    /// of a label must name one); null where the section names none.
    /// </summary>
    public Action<ManifestSection, IReadOnlyList<string>, IReadOnlyList<CoarseGroup>, DiagnosticBag>? CheckNames { get; init; }
}
