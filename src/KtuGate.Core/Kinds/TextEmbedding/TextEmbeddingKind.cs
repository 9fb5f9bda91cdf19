using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// A text-embedding model (a sentence encoder such as all-MiniLM-L6-v2): the artifact is the encoder, and its knowledge is facts.
/// A policy's concept is an entity, bound by its names to a fact subject of the manifest's fact set; its exemplars are fact files,
/// probed by <see cref="FactProbe"/> (fine: the object ranks first among the relation's candidates; coarse: the object's parent).
/// </summary>
internal sealed class TextEmbeddingKind : IModelKind
{
    /// <summary>The label that counts a probe whose fact's object did not rank first.</summary>
    public const string NotKnown = "(fact not known)";

    /// <summary>The coarse group that counts a probe whose parent did not rank first.</summary>
    public const string ParentNotKnown = "(parent not known)";

    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.TextEmbedding;

    /// <inheritdoc/>
    public string OutputRule => "a text encoder's output must be float32 token states [batch, tokens, dim] or embeddings [batch, dim]";

    /// <inheritdoc/>
    public IReadOnlyList<int> OutputRanks => [2, 3];

    /// <inheritdoc/>
    public string? OutputWidthProblem(ModelManifest manifest, int width) => null;

    /// <inheritdoc/>
    /// <remarks>No unlearning method edits inside a transformer yet (issue #13 item 5 waits on whole-graph gradients).</remarks>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput)
        => " that an unlearning method supports in a text encoder (none edits inside a transformer yet)";

    /// <inheritdoc/>
    /// <remarks><c>ktu init</c> drafts image models only; a text encoder's manifest names its tokenizer and fact set (see samples/TextFacts).</remarks>
    public KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower)
        => new([], "is a text encoder's, which ktu init does not draft yet: write its manifest by hand (samples/TextFacts shows one)", string.Empty, []);

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
    {
        var section = manifest.SectionAs<TextEmbeddingSection>();
        var facts = FactSet.Load(section.Relations, section.FactFiles, diagnostics);
        var encoder = TextTower.Open(section.Encoder(artifact, manifest.Output.Name), provider, diagnostics, limits, DiagnosticCodes.TextEncoderInvalid);
        return new Session(encoder, facts);
    }

    /// <summary>The encoder and the fact set, open for the run so that each text is embedded once.</summary>
    private sealed class Session(TextTower? encoder, FactSet? facts) : KindSession
    {
        private readonly FactProbe? _probe = encoder is null || facts is null ? null : new FactProbe(encoder, facts);

        public override bool CanProbe => _probe is not null;

        /// <summary>The fact subjects as labels (a concept binds by its names), each its own coarse group, and the "not known" label and group last.</summary>
        public override ModelManifest Labelled(ModelManifest manifest)
            => facts is null ? manifest : LabelledBySubjects(manifest, facts.Facts.Select(f => f.Subject), NotKnown, ParentNotKnown, "(parent)");

        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
        {
            var labels = model.Manifest.Labels.Count;

            // Robustness for text: the relation's paraphrased wordings stand in for mirrored and noisy images.
            return new FactConceptProbe(Facts, facts!, labels, labels, perturbation == Perturbation.None ? FactWordings.Templates : FactWordings.Paraphrases);
        }

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
            => throw new InvalidOperationException(NoEdit);

        public override ScoreSpace Space() => throw new InvalidOperationException(NoEdit);

        public override void Dispose() => encoder?.Dispose();

        private FactProbe Facts => _probe ?? throw new InvalidOperationException("The text encoder or its facts did not open; it cannot be probed.");

        private const string NoEdit = "A text encoder has no edit site an unlearning method supports (KTU4003 stops remediation first).";
    }
}
