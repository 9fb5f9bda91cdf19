using KtuGate.Models;

namespace KtuGate.Kinds;

/// <summary>
/// The model kinds by the names manifests give them, and which of them this KtuGate probes. The manifest parser reads them here
/// because it also runs in MSBuild's process, where a kind's engine types (probes, ONNX Runtime sessions) must not load; the
/// engine's registry, <c>ModelKinds</c>, finds each supported kind's implementation in its folder under <c>src/KtuGate.Core/Kinds/</c>.
/// </summary>
public static class ManifestKinds
{
    /// <summary>Every kind the manifest format defines (the manifest schema's <c>kind</c> enum), by name.</summary>
    public static IReadOnlyDictionary<string, ModelKind> Reserved { get; } = new Dictionary<string, ModelKind>
    {
        ["classifier"] = ModelKind.Classifier,
        ["dual-encoder"] = ModelKind.DualEncoder,
        ["text-embedding"] = ModelKind.TextEmbedding,
        ["causal-lm"] = ModelKind.CausalLm,
    };

    /// <summary>The names of <see cref="Reserved"/>, in the order messages list them.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Reserved.Keys];

    /// <summary>
    /// The kinds this KtuGate probes, each by the reader of its manifest section, in the order messages list them: the one line
    /// a new kind adds here (<see cref="ManifestSectionReader.Without"/> for a kind whose manifest has no fields of its own).
    /// </summary>
    private static readonly ManifestSectionReader[] s_supported = [ManifestSectionReader.Without(ModelKind.Classifier), DualEncoder.DualEncoderSection.Reader, TextEmbedding.TextEmbeddingSection.Reader, CausalLm.CausalLmSection.Reader];

    /// <summary>The kinds this KtuGate probes, in the order messages list them.</summary>
    public static IReadOnlyList<ModelKind> Supported { get; } = [.. s_supported.Select(r => r.Kind)];

    /// <summary>The section readers of the supported kinds, in the order of <see cref="Supported"/>.</summary>
    internal static IReadOnlyList<ManifestSectionReader> SectionReaders => s_supported;

    /// <summary>The name manifests give <paramref name="kind"/>.</summary>
    public static string NameOf(ModelKind kind) => Reserved.First(k => k.Value == kind).Key;
}
