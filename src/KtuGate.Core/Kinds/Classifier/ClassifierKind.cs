using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;

namespace KtuGate.Kinds.Classifier;

/// <summary>An image classifier: one score per fine label; coarse predictions follow from the fine ones.</summary>
internal sealed class ClassifierKind : IModelKind
{
    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.Classifier;

    /// <inheritdoc/>
    public string OutputRule => "a classifier's scores must be float32 [batch, labels]";

    /// <inheritdoc/>
    public string? OutputWidthProblem(ModelManifest manifest, int width)
        => width > 0 && width != manifest.Labels.Count ? $"has {width} scores per exemplar, but the manifest names {manifest.Labels.Count} labels" : null;

    /// <inheritdoc/>
    /// <remarks>The edit must write the scores themselves, one per label, for an edit judged from the site's inputs to be exact.</remarks>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput)
        => siteOutput != manifest.Output.Name || site.Outputs != manifest.Labels.Count ? " whose output is the classifier's scores" : null;

    /// <inheritdoc/>
    /// <remarks>One label per score: the output's width is the label count.</remarks>
    public KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower)
    {
        labels ??= [.. Enumerable.Range(0, outputWidth).Select(i => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"label-{i}"))];
        return new KindDraft(
            labels,
            labels.Count != outputWidth ? $"has {outputWidth} scores, but {labels.Count} labels were given" : null,
            "Check preprocess (mean/std), name the labels, group them under coarse concepts.",
            []);
    }

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics) => new Session(manifest);

    private sealed class Session(ModelManifest manifest) : KindSession
    {
        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
            => new ClassifierProbe(model, batchSize) { Perturbation = perturbation, Record = record };

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
            => new(activations, weight, bias, null, null, null);

        public override ScoreSpace Space()
        {
            // The site's outputs are the labels' scores: each label's direction is its own axis.
            var labels = manifest.Labels.Count;
            IReadOnlyList<double[]> axes = Enumerable.Range(0, labels).Select(j => Enumerable.Range(0, labels).Select(k => j == k ? 1.0 : 0.0).ToArray()).ToList();
            return new ScoreSpace(axes, axes, CoarseHasOwnDirections: false, Normalized: false, Scale: 1.0, GradientMargin: 2.0, ClosedFormMargin: _ => 2.0);
        }

        public override TrainingInput? TrainingInput(ModelManifest model) => Kinds.TrainingInput.Images(model);
    }
}
