using System.Reflection;
using KtuGate.Models;

namespace KtuGate.Kinds;

/// <summary>The registry of model kinds the gate can probe, keyed by the name manifests give them.</summary>
/// <remarks>
/// Adding a kind is one folder under <c>Kinds/</c> (its <see cref="IModelKind"/>), where its manifest has fields of its own one
/// under KtuGate.Contracts' <c>Kinds/</c> (its <see cref="ManifestSection"/>), one line in <see cref="ManifestKinds"/>' registry
/// (which <see cref="ManifestKinds.Supported"/> lists, and the manifest parser reads) and its name in the manifest schema (see
/// docs/architecture.md): each supported kind's
/// implementation is found here, so that this registry and the parser's cannot disagree.
/// </remarks>
internal static class ModelKinds
{
    /// <summary>Every kind, in the order messages list them (that of <see cref="ManifestKinds.Supported"/>).</summary>
    public static IReadOnlyList<IModelKind> All { get; } = Implementations();

    /// <summary>The kind named <paramref name="name"/> in a manifest, or null when this KtuGate cannot probe it.</summary>
    public static IModelKind? Find(string name) => All.FirstOrDefault(k => k.Name == name);

    /// <summary>The kind of a parsed manifest (only kinds in the registry parse).</summary>
    public static IModelKind Of(ModelManifest manifest) => All.First(k => k.Kind == manifest.Kind);

    // One implementation per supported kind: a supported kind without one, or with two, fails every gate run at its start
    // (and so every gate test); a kind implemented but not supported is never used, and the parser rejects its manifests.
    private static List<IModelKind> Implementations()
    {
        var implemented = typeof(ModelKinds).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IModelKind).IsAssignableFrom(t))
            .Select(t => (IModelKind)Activator.CreateInstance(t, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, null, null)!)
            .ToList();
        return [.. ManifestKinds.Supported.Select(kind => implemented.Single(k => k.Kind == kind))];
    }
}
