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

    /// <summary>
    /// The label a policy's general set is probed as: fact files in a folder of this name (<c>held-out-facts/</c>), whose probes that rank
    /// the true object first count as general accuracy (the paper's general utility, for an encoder: facts no clause names).
    /// </summary>
    public const string HeldOut = "held-out facts";

    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.TextEmbedding;

    /// <inheritdoc/>
    public string OutputRule => "a text encoder's output must be float32 token states [batch, tokens, dim] or embeddings [batch, dim]";

    /// <inheritdoc/>
    public IReadOnlyList<int> OutputRanks => [2, 3];

    /// <inheritdoc/>
    public string? OutputWidthProblem(ModelManifest manifest, int width) => null;

    /// <inheritdoc/>
    /// <remarks>
    /// Any linear layer of the encoder will do: the edits are the kind's own (<see cref="TextEmbeddingUnlearning"/>), losses on the
    /// similarity logits trained through the encoder, never a closed-form edit of one layer's class scores.
    /// </remarks>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput) => null;

    /// <inheritdoc/>
    /// <remarks><c>ktu init</c> drafts image models only; a text encoder's manifest names its tokenizer and fact set (see samples/TextFacts).</remarks>
    public KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower)
        => new([], "is a text encoder's, which ktu init does not draft yet: write its manifest by hand (samples/TextFacts shows one)", string.Empty, []);

    /// <inheritdoc/>
    public bool RecordsSiteFeatures => false;

    /// <inheritdoc/>
    /// <remarks>Each fact of the file is probed with every name of its subject in every subject template of its relation.</remarks>
    public Func<string, int>? ProbeCounter(ModelManifest manifest)
    {
        var section = manifest.SectionAs<TextEmbeddingSection>();
        var relations = FactSet.Load(section.Relations, [], new DiagnosticBag())?.Relations;
        return file => relations is null ? 1
            : FactSet.ReadFacts(file, new DiagnosticBag()).Sum(f => relations.TryGetValue(f.Relation, out var r) ? f.Names.Count * r.SubjectTemplates.Count : 0);
    }

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
    {
        var section = manifest.SectionAs<TextEmbeddingSection>();
        var facts = FactSet.Load(section.Relations, section.FactFiles, diagnostics);
        var spec = section.Encoder(artifact, manifest.Output.Name);
        var encoder = TextTower.Open(spec, provider, diagnostics, limits, DiagnosticCodes.TextEncoderInvalid);
        return new Session(spec, encoder, facts);
    }

    /// <summary>
    /// The fact set, and the artifact's encoder as the run opened it: its tokenizer serves every pass, and its embeddings are the original's
    /// that unlearning keeps retained facts near. Each pass probes the model the gate opened for it (a candidate's weights overridden).
    /// </summary>
    private sealed class Session(TextEncoderSpec spec, TextTower? encoder, FactSet? facts) : KindSession
    {
        /// <summary>The last pass's model and its probe, so that the pass's perturbed probes reuse its embeddings.</summary>
        private (LoadedModel Model, TextTower Tower, FactProbe Probe)? _pass;

        public override bool CanProbe => encoder is not null && facts is not null;

        /// <summary>
        /// The fact subjects as labels (a concept binds by its names), each its own coarse group, then the general set's label
        /// (<see cref="HeldOut"/>), and the "not known" label and group last.
        /// </summary>
        public override ModelManifest Labelled(ModelManifest manifest)
            => facts is null ? manifest : LabelledBySubjects(manifest, facts.Facts.Select(f => f.Subject).Append(HeldOut), NotKnown, ParentNotKnown, "(parent)");

        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
        {
            var labels = model.Manifest.Labels.Count;

            // Robustness for text: the relation's paraphrased wordings stand in for mirrored and noisy images.
            return new FactConceptProbe(Facts(model), labels, labels, perturbation == Perturbation.None ? FactWordings.Templates : FactWordings.Paraphrases);
        }

        /// <summary>A concept's fact files read as facts of the fact set's relations, each at its file and line (KTU2042 for an undefined relation).</summary>
        public override IReadOnlyList<Exemplar> Exemplars(IReadOnlyList<string> files, DiagnosticBag diagnostics) => facts!.ReadOfRelations(files, diagnostics);

        public override KindUnlearning? Unlearning => encoder is null || facts is null ? null : new TextEmbeddingUnlearning(spec, encoder, facts);

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
            => throw new InvalidOperationException(NoEdit);

        public override ScoreSpace Space() => throw new InvalidOperationException(NoEdit);

        public override void Dispose()
        {
            _pass?.Tower.Dispose();
            encoder?.Dispose();
        }

        /// <summary>The probe of the pass's model, embedding with its session (each text once per pass).</summary>
        private FactProbe Facts(LoadedModel model)
        {
            if (encoder is null || facts is null)
            {
                throw new InvalidOperationException("The text encoder or its facts did not open; it cannot be probed.");
            }

            if (_pass is not { } pass || !ReferenceEquals(pass.Model, model))
            {
                _pass?.Tower.Dispose();
                var tower = TextTower.Over(model.Session, encoder);
                pass = (model, tower, new FactProbe(tower, facts));
                _pass = pass;
            }

            return pass.Probe;
        }

        private const string NoEdit = "A text encoder is unlearned by its own losses on the similarity logits (Unlearning), never from an edit site's recorded inputs.";
    }
}
