using KtuGate.Diagnostics;
using KtuGate.Models;

namespace KtuGate.Probing;

/// <summary>What a model predicted for a set of exemplars.</summary>
/// <param name="N">Exemplars that were decoded and probed.</param>
/// <param name="PredictedCounts">For each fine label index, how many exemplars were predicted as it.</param>
/// <param name="Samples">Up to a few exemplar files per predicted label, in probing order, for reports to show.</param>
public sealed record ProbeTally(int N, IReadOnlyList<int> PredictedCounts, IReadOnlyList<IReadOnlyList<string>> Samples)
{
    /// <summary>For models that predict coarse groups themselves (dual encoders): how many exemplars went to each group; null where coarse predictions follow from fine ones.</summary>
    public IReadOnlyList<int>? CoarsePredictedCounts { get; init; }

    /// <summary>For a dual encoder: per prompt wording, how many exemplars it alone still recalls as the concept.</summary>
    public IReadOnlyList<WordingTally> Wordings { get; init; } = [];
}

/// <summary>How many exemplars one wording of a concept recalls.</summary>
/// <param name="Wording">The prompt, e.g. "a photo of a trainer".</param>
/// <param name="Recalled">Exemplars for which this wording outscores every other label.</param>
public sealed record WordingTally(string Wording, int Recalled);

/// <summary>A way to probe a model for a concept's exemplars.</summary>
public interface IConceptProbe
{
    /// <summary>Runs the exemplars through the model and counts the predictions.</summary>
    /// <param name="exemplars">The exemplars, as the model's kind loaded them from the concept's files.</param>
    /// <param name="fineLabel">The label the concept matches, or -1.</param>
    /// <param name="wordings">Prompts naming the concept, probed one at a time where the model takes prompts.</param>
    /// <param name="diagnostics">Receives KTU2008 for files that are not images.</param>
    /// <param name="progress">Told how many exemplars are done.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    ProbeTally Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordings, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>Runs exemplar images through a classifier in batches and counts its predictions.</summary>
/// <remarks>Exemplars are streamed: memory holds one batch, however many exemplars there are.</remarks>
public sealed class ClassifierProbe : IConceptProbe
{
    private readonly LoadedModel _model;
    private readonly int _batchSize;

    /// <summary>Makes a probe over an open model.</summary>
    /// <param name="model">The model; the probe does not own it.</param>
    /// <param name="batchSize">Exemplars per inference call.</param>
    public ClassifierProbe(LoadedModel model, int batchSize = 64)
    {
        Perturbation = Perturbation.None;
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _model = model;
        _batchSize = batchSize;
    }

    /// <summary>How exemplars are changed before probing (none by default).</summary>
    public Perturbation Perturbation { get; init; }

    /// <summary>Where to record an inner tensor's rows (the model must have it as a graph output), or null.</summary>
    public SiteActivations? Record { get; init; }

    /// <summary>Classifies every exemplar and counts the predictions; undecodable files are reported (KTU2008) and left out of n.</summary>
    /// <param name="files">The exemplar files, read one batch at a time.</param>
    /// <param name="diagnostics">Receives KTU2008 for each file that is not a readable image.</param>
    /// <param name="progress">Told how many exemplars have been classified, after every batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public ProbeTally Probe(IEnumerable<string> files, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var labels = _model.Manifest.Labels.Count;
        var tally = new TallyBuilder(labels, null, -1, []);
        var n = ImageBatches.Run(_model, files, _batchSize, diagnostics, progress, cancellationToken, Record?.Tensor, (rows, extra, batch) =>
        {
            Record?.Add(Perturbation, extra, batch);
            for (var i = 0; i < batch.Count; i++)
            {
                tally.Add(batch[i], rows.Slice(i * labels, labels), [], []);
            }
        }, Perturbation);
        return tally.Build(n);
    }

    /// <inheritdoc />
    ProbeTally IConceptProbe.Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordings, DiagnosticBag diagnostics, IProgress<int>? progress, CancellationToken cancellationToken)
        => Probe(Exemplar.Files(exemplars), diagnostics, progress, cancellationToken);
}
