using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// A causal language model (a decoder exported with the Optimum signature): its knowledge is question/answer records. A policy's
/// concept is an entity, bound by its names to a record subject of the manifest's question/answer files; its exemplars are such
/// files, probed by <see cref="QaProbe"/> (fine: greedy generation answers the record's question; coarse: its coarse question).
/// </summary>
internal sealed class CausalLmKind : IModelKind
{
    /// <summary>The label that counts a question the model did not answer.</summary>
    public const string NotKnown = "(answer not given)";

    /// <summary>The coarse group that counts a coarse question the model did not answer.</summary>
    public const string CoarseNotKnown = "(coarse answer not given)";

    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.CausalLm;

    /// <inheritdoc/>
    public string OutputRule => "a causal language model's output must be float32 logits [batch, sequence, vocabulary]";

    /// <inheritdoc/>
    public IReadOnlyList<int> OutputRanks => [3];

    /// <inheritdoc/>
    public string? OutputWidthProblem(ModelManifest manifest, int width) => null;

    /// <inheritdoc/>
    /// <remarks>
    /// The decoder's head (the linear layer that writes the logits) is its last layer, the scope <c>last</c>; the edits themselves are the
    /// kind's own (<see cref="CausalLmUnlearning"/>), token losses trained through the graph, never a closed-form edit of class scores.
    /// </remarks>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput)
        => siteOutput == manifest.Output.Name ? null : $" that writes the decoder's '{manifest.Output.Name}' (its head; '{site.Node}' writes '{siteOutput}')";

    /// <inheritdoc/>
    /// <remarks><c>ktu init</c> drafts image models only; a decoder's manifest names its tokenizer and question/answer files (see samples/TinyLm).</remarks>
    public KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower)
        => new([], "is a causal language model's, which ktu init does not draft yet: write its manifest by hand (samples/TinyLm shows one)", string.Empty, []);

    /// <inheritdoc/>
    /// <remarks>Each record of the file is one question at each level.</remarks>
    public Func<string, int>? ProbeCounter(ModelManifest manifest) => file => QaSet.Read(file, new DiagnosticBag()).Count;

    /// <inheritdoc/>
    public bool RecordsSiteFeatures => false;

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
    {
        var section = manifest.SectionAs<CausalLmSection>();
        var tokenizer = LmTokenizer.Open(section.Tokenizer, section.Tokenizer.Location ?? section.Location, diagnostics);
        var records = QaSet.Load(section.QaFiles, diagnostics);
        var retain = tokenizer is null ? null : OpenRetainModel(manifest, section, tokenizer, provider, limits, diagnostics);
        return new Session(section, tokenizer, records, manifest.Output.Name, retain);
    }

    /// <summary>
    /// The retain model the manifest names, checked like the artifact (the same size and external-data rules, the same decoder inputs)
    /// and against the artifact's tokenizer; every problem is KTU2065 at the manifest's <c>forgetQuality.retainModel</c>. Null where none is named.
    /// </summary>
    private static RetainModel? OpenRetainModel(ModelManifest manifest, CausalLmSection section, LmTokenizer tokenizer, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
    {
        if (section.RetainModel is not { } path)
        {
            return null;
        }

        // The artifact's own checks run on the retain model; their findings are reported at the manifest line that named it.
        var location = section.RetainModelLocation ?? section.Location;
        var local = new DiagnosticBag();
        var model = LoadedModel.Open(path, manifest, provider, local, limits);
        var decoder = model is null ? null : Decoder.Open(model.Session, section.Inputs, manifest.Output.Name, location, local);
        var vocabulary = model?.Session.OutputMetadata[manifest.Output.Name].Dimensions[^1];
        if (decoder is not null && vocabulary > 0 && vocabulary != tokenizer.VocabularySize)
        {
            local.Add(DiagnosticCodes.LanguageModelInvalid, location, $"its logits cover {vocabulary} tokens but the artifact's tokenizer has {tokenizer.VocabularySize}: it does not share the tokenizer");
        }

        if (!local.HasErrors)
        {
            return new RetainModel(model!, decoder!);
        }

        model?.Dispose();
        foreach (var problem in local.Items.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            diagnostics.Add(DiagnosticCodes.RetainModelInvalid, location, $"'{path}': {problem.Code} {problem.Message}");
        }

        return null;
    }

    /// <summary>The tokenizer, the records and the retain model, read once for the run; each pass's decoder is the model the gate opened for it.</summary>
    private sealed class Session(CausalLmSection section, LmTokenizer? tokenizer, IReadOnlyList<QaRecord>? records, string logits, RetainModel? retain) : KindSession
    {
        /// <summary>The retain model's truth ratios, by forget set (its files), measured once per run.</summary>
        private readonly Dictionary<string, IReadOnlyList<double>> _retainRatios = new(StringComparer.Ordinal);

        public override bool CanProbe => tokenizer is not null && records is not null && (section.RetainModel is null || retain is not null);

        /// <summary>
        /// TOFU's forget quality of the pass's model where the manifest names a retain model: the KS test of the truth ratios of the
        /// policies' forget clauses' records (those with perturbed answers) against the retain model's (KTU2066 where none has them).
        /// </summary>
        public override ModelReport Describe(ModelReport report, LoadedModel? model, IReadOnlyList<Policy> policies, string baseDirectory, DigestCache? digests, DiagnosticBag diagnostics)
        {
            if (retain is null || model is null || tokenizer is null)
            {
                return report;
            }

            var files = policies.SelectMany(p => p.Forget.SelectMany(f => p.GetConcept(f.Concept).Files)).Distinct(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
            {
                return report;
            }

            // The probe read and reported these files already; a record it refused is not measured here either.
            var forget = files.SelectMany(f => QaSet.Read(f, new DiagnosticBag())).Where(r => r.Perturbed.Count > 0).ToList();
            if (forget.Count == 0)
            {
                diagnostics.Add(DiagnosticCodes.ForgetQualityUnmeasured, section.RetainModelLocation ?? section.Location,
                    $"none of the forget clauses' {files.Count} question/answer file(s) has a record with 'perturbed' answers");
                return report;
            }

            if (Decoder.Open(model.Session, section.Inputs, logits, section.Inputs.Location ?? section.Location, diagnostics) is not { } decoder)
            {
                return report;
            }

            var key = string.Join('\n', files);
            if (!_retainRatios.TryGetValue(key, out var without))
            {
                without = _retainRatios[key] = Ratios(retain.Decoder, forget);
            }

            var with = Ratios(decoder, forget);
            return report with
            {
                ForgetQuality = new ForgetQualityReport(ForgetQuality.PValue(with, without), forget.Count, ForgetQuality.Statistic(with, without),
                    FileDigests.Of(baseDirectory, section.RetainModel!, digests)!),
            };
        }

        private List<double> Ratios(Decoder decoder, IReadOnlyList<QaRecord> forget)
        {
            var probe = new QaProbe(decoder, tokenizer!, section);
            return [.. forget.Select(r => probe.TruthRatio(r)!.Value)];
        }

        public override KindUnlearning? Unlearning => tokenizer is null || records is null ? null : new CausalLmUnlearning(section, tokenizer, records, logits);

        /// <summary>The record subjects as labels (a concept binds by its names), each its own coarse group, and the "not given" label and group last.</summary>
        public override ModelManifest Labelled(ModelManifest manifest)
            => records is null ? manifest : LabelledBySubjects(manifest, records.Select(r => r.Subject), NotKnown, CoarseNotKnown, "(coarse)");

        /// <summary>The decoder's inputs, cache and vocabulary against the manifest (KTU2060 at its <c>modelInputs</c>).</summary>
        public override void CheckModel(LoadedModel model, DiagnosticBag diagnostics)
        {
            var location = section.Inputs.Location ?? section.Location;
            if (Decoder.Open(model.Session, section.Inputs, model.Manifest.Output.Name, location, diagnostics) is null || tokenizer is null)
            {
                return;
            }

            var vocabulary = model.Session.OutputMetadata[model.Manifest.Output.Name].Dimensions[^1];
            if (vocabulary > 0 && vocabulary != tokenizer.VocabularySize)
            {
                diagnostics.Add(DiagnosticCodes.LanguageModelInvalid, section.Tokenizer.Location ?? section.Location,
                    $"the decoder's logits cover {vocabulary} tokens but the tokenizer '{section.Tokenizer.Model}' has {tokenizer.VocabularySize}: they are not each other's");
            }
        }

        /// <summary>A concept's question/answer files read as records, each at its file and line (KTU2061 for a bad record).</summary>
        public override IReadOnlyList<Exemplar> Exemplars(IReadOnlyList<string> files, DiagnosticBag diagnostics) => [.. files.SelectMany(f => QaSet.Read(f, diagnostics))];

        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
        {
            var labels = model.Manifest.Labels.Count;

            // Robustness for text: the records' paraphrased questions stand in for mirrored and noisy images.
            return new QaConceptProbe(model, section, tokenizer!, labels, perturbation == Perturbation.None ? QaWordings.Questions : QaWordings.Paraphrases);
        }

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
            => throw new InvalidOperationException(NoEdit);

        public override ScoreSpace Space() => throw new InvalidOperationException(NoEdit);

        public override void Dispose() => retain?.Model.Dispose();

        private const string NoEdit = "A causal language model is unlearned by its own token losses (Unlearning), never from an edit site's recorded inputs.";
    }
}

/// <summary>The retain model a manifest names, open for the run: the model (owned) and its decoder.</summary>
internal sealed record RetainModel(LoadedModel Model, Decoder Decoder);
