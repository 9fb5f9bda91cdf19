using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;

namespace KtuGate.Kinds.DualEncoder;

/// <summary>A CLIP-style dual encoder: the artifact is the image tower, compared zero-shot with a text tower's prompt embeddings, among labels and among coarse groups.</summary>
internal sealed class DualEncoderKind : IModelKind
{
    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.DualEncoder;

    /// <inheritdoc/>
    public string OutputRule => "an image tower's embeddings must be float32 [batch, dim]";

    /// <inheritdoc/>
    /// <remarks>The width is checked against the text tower once it is open (<see cref="KindSession.CheckModel"/>).</remarks>
    public string? OutputWidthProblem(ModelManifest manifest, int width) => null;

    /// <inheritdoc/>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput) => null;

    /// <inheritdoc/>
    /// <remarks>
    /// The output is an embedding, whose width says nothing about the labels; the text tower (named, or placeholders) turns each
    /// label's prompts into the embeddings it is compared with.
    /// </remarks>
    public KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower)
    {
        var tower = textTower ?? new ManifestScaffold.TextTowerDraft("text-tower/model.onnx", "text-tower/vocab.txt", "last_hidden_state");
        return new KindDraft(
            labels ?? ["label-a", "label-b"],
            null,
            "This is the image tower of a dual encoder. Check preprocess (mean/std), the text tower and the prompts the model was trained with, name the labels, group them under coarse concepts.",
            [
                $"\"textTower\": {{ \"model\": {Json(tower.Model)}, \"vocab\": {Json(tower.Vocab)}, \"output\": {Json(tower.Output)}, \"pooling\": \"mean\", \"normalize\": true }},",
                "\"prompts\": [\"a photo of a {}\"],",
            ]);
    }

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
        => new Session(manifest, manifest.Section is DualEncoderSection section ? TextTower.Open(section.TextTower, provider, diagnostics, limits) : null);

    /// <summary>The text tower, open for the whole run so that every prompt is embedded once.</summary>
    private sealed class Session(ModelManifest manifest, TextTower? textTower) : KindSession
    {
        public override bool CanProbe => textTower is not null;

        public override void CheckModel(LoadedModel model, DiagnosticBag diagnostics)
        {
            if (textTower is not null && model.OutputWidth > 0 && model.OutputWidth != textTower.Dimension)
            {
                diagnostics.Add(DiagnosticCodes.TextTowerInvalid, Section.TextTower.Location,
                    $"its embeddings have {textTower.Dimension} dimensions, but the image tower's output '{manifest.Output.Name}' has {model.OutputWidth}");
            }
        }

        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
            => new DualEncoderProbe(model, Tower, batchSize) { Perturbation = perturbation, Record = record };

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
        {
            var (fine, coarse) = DualEncoderProbe.Directions(manifest, Tower);
            return new SiteProbe(activations, weight, bias, fine, coarse, Tower.Embed);
        }

        /// <summary>
        /// Every wording a concept is probed with: each template (the model's and the policy's) with each of the concept's names, or, for a
        /// label with prompts of its own, those prompts (in place of the model's templates) and the policy's templates with each name;
        /// none for a coarse group.
        /// </summary>
        public override IReadOnlyList<string> Wordings(Policy policy, Concept concept, int fineLabel)
        {
            if (fineLabel < 0)
            {
                return [];
            }

            var own = Section.PromptsOfLabel(manifest.Labels[fineLabel]);
            return (own ?? []).Concat((own is null ? Section.PromptTemplates : []).Concat(policy.PromptTemplates).Distinct(StringComparer.Ordinal)
                .SelectMany(t => concept.Names.Select(n => DualEncoderProbe.Prompt(t, n))))
                .Distinct(StringComparer.Ordinal).ToList();
        }

        public override ModelReport Describe(ModelReport report, LoadedModel? model, IReadOnlyList<Policy> policies, string baseDirectory, DigestCache? digests, DiagnosticBag diagnostics) => textTower is null ? report : report with
        {
            TextTower = FileDigests.Of(baseDirectory, Section.TextTower.Model, digests),
            TextTowerVocabulary = FileDigests.Of(baseDirectory, Section.TextTower.Vocabulary, digests),
            TextTowerExternalData = FileDigests.External(baseDirectory, Section.TextTower.Model, textTower.ExternalFiles, digests, diagnostics),
            PromptsEmbedded = textTower.Embedded,
        };

        public override ScoreSpace Space()
        {
            // Class directions in the site's output space are the text embeddings the image embedding is compared with.
            var (fine, coarse) = DualEncoderProbe.Directions(manifest, Tower);
            static IReadOnlyList<double[]> Widen(float[][] directions) => directions.Select(d => d.Select(x => (double)x).ToArray()).ToList();
            return new ScoreSpace(Widen(fine), Widen(coarse), CoarseHasOwnDirections: true, Normalized: true, Scale: 20.0, GradientMargin: 1.0,
                ClosedFormMargin: typicalScale => 0.1 * typicalScale);
        }

        public override TrainingInput? TrainingInput(ModelManifest model) => Kinds.TrainingInput.Images(model);

        public override void Dispose() => textTower?.Dispose();

        private DualEncoderSection Section => manifest.SectionAs<DualEncoderSection>();

        private TextTower Tower => textTower ?? throw new InvalidOperationException("The dual encoder's text tower is not open; it cannot be probed.");
    }
}
