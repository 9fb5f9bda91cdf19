using KtuGate.Diagnostics;
using KtuGate.Models;

namespace KtuGate.Probing;

/// <summary>Zero-shot probing of a CLIP-style dual encoder: each exemplar's image embedding is compared with prompt embeddings, among fine labels and among coarse groups.</summary>
/// <remarks>A label's (or group's) text embedding is the unit-length mean of its prompts' embeddings (prompt ensembling); every prompt is embedded once per run.</remarks>
public sealed class DualEncoderProbe : IConceptProbe
{
    private const int SamplesPerLabel = 4;
    private readonly LoadedModel _imageTower;
    private readonly TextTower _textTower;
    private readonly int _batchSize;
    private readonly float[][] _fine;
    private readonly float[][] _coarse;

    /// <summary>Makes a probe; neither tower is owned by it.</summary>
    public DualEncoderProbe(LoadedModel imageTower, TextTower textTower, int batchSize = 64)
    {
        _imageTower = imageTower;
        _textTower = textTower;
        _batchSize = batchSize;
        var templates = imageTower.Manifest.PromptTemplates;
        _fine = imageTower.Manifest.Labels.Select(l => Ensemble(templates, l)).ToArray();
        _coarse = imageTower.Manifest.Coarse.Select(g => Ensemble(templates, g.Name)).ToArray();
    }

    /// <summary>How exemplars are changed before probing (none by default).</summary>
    public Perturbation Perturbation { get; init; }

    /// <summary>Each label's text embedding (the unit-length mean of its prompts'), in label order.</summary>
    public IReadOnlyList<float[]> FineDirections => _fine;

    /// <summary>Each coarse group's text embedding, in manifest order.</summary>
    public IReadOnlyList<float[]> CoarseDirections => _coarse;

    /// <summary>A prompt from a template and a name.</summary>
    public static string Prompt(string template, string name) => template.Replace("{}", name, StringComparison.Ordinal);

    /// <inheritdoc />
    public ProbeTally Probe(IEnumerable<string> files, int fineLabel, IReadOnlyList<string> wordings, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var labels = _fine.Length;
        var dim = _textTower.Dimension;
        var counts = new int[labels];
        var coarseCounts = new int[_coarse.Length];
        var samples = Enumerable.Range(0, labels).Select(_ => new List<string>()).ToArray();
        var wordingEmbeddings = fineLabel < 0 ? [] : wordings.Select(_textTower.Embed).ToArray();
        var recalled = new int[wordingEmbeddings.Length];
        var scores = new float[labels];
        var coarseScores = new float[_coarse.Length];

        var n = ImageBatches.Run(_imageTower, files, _batchSize, diagnostics, progress, cancellationToken, null, (rows, _, batch) =>
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var image = rows.Slice(i * dim, dim);
                for (var j = 0; j < labels; j++)
                {
                    scores[j] = VectorMath.Dot(image, _fine[j]);
                }

                for (var g = 0; g < _coarse.Length; g++)
                {
                    coarseScores[g] = VectorMath.Dot(image, _coarse[g]);
                }

                var predicted = ImageBatches.ArgMax(scores);
                counts[predicted]++;
                if (samples[predicted].Count < SamplesPerLabel)
                {
                    samples[predicted].Add(batch[i]);
                }

                if (_coarse.Length > 0)
                {
                    coarseCounts[ImageBatches.ArgMax(coarseScores)]++;
                }

                if (wordingEmbeddings.Length > 0)
                {
                    // A wording recalls the concept when, standing alone for it, it outscores every other label.
                    var bestOther = float.NegativeInfinity;
                    for (var j = 0; j < labels; j++)
                    {
                        if (j != fineLabel && scores[j] > bestOther)
                        {
                            bestOther = scores[j];
                        }
                    }

                    for (var w = 0; w < wordingEmbeddings.Length; w++)
                    {
                        if (VectorMath.Dot(image, wordingEmbeddings[w]) > bestOther)
                        {
                            recalled[w]++;
                        }
                    }
                }
            }
        }, Perturbation);

        return new ProbeTally(n, counts, samples)
        {
            CoarsePredictedCounts = coarseCounts,
            Wordings = wordingEmbeddings.Length == 0 ? [] : wordings.Select((w, i) => new WordingTally(w, recalled[i])).ToList(),
        };
    }

    private float[] Ensemble(IReadOnlyList<string> templates, string name)
        => VectorMath.MeanDirection(templates.Select(t => _textTower.Embed(Prompt(t, name))));
}
