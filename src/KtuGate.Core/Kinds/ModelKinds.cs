using KtuGate.Kinds.Classifier;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;

namespace KtuGate.Kinds;

/// <summary>The registry of model kinds the gate can probe, keyed by the name manifests give them.</summary>
/// <remarks>Adding a kind is one folder under <c>Kinds/</c> and one entry here (and its name in the manifest schema).</remarks>
internal static class ModelKinds
{
    /// <summary>Every kind, in the order messages list them.</summary>
    public static IReadOnlyList<IModelKind> All { get; } = [new ClassifierKind(), new DualEncoderKind()];

    /// <summary>The kind named <paramref name="name"/> in a manifest, or null when this KtuGate cannot probe it.</summary>
    public static IModelKind? Find(string name) => All.FirstOrDefault(k => k.Name == name);

    /// <summary>The kind of a parsed manifest (only kinds in the registry parse).</summary>
    public static IModelKind Of(ModelManifest manifest) => All.First(k => k.Kind == manifest.Kind);
}
