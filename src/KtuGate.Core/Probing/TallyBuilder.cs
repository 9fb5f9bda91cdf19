namespace KtuGate.Probing;

/// <summary>
/// Counts one concept's predictions from each exemplar's scores. The same counting serves every probe, whether the scores come from
/// ONNX Runtime or from an edit site's recorded inputs (<see cref="SiteProbe"/>), so both judge alike.
/// </summary>
internal sealed class TallyBuilder
{
    private const int SamplesPerLabel = 4;
    private readonly int _fineLabel;
    private readonly int[] _counts;
    private readonly int[]? _coarseCounts;
    private readonly List<string>[] _samples;
    private readonly IReadOnlyList<string> _wordings;
    private readonly int[] _recalled;

    /// <param name="labels">Fine labels.</param>
    /// <param name="coarseGroups">Coarse groups the model scores itself (a dual encoder), or null where coarse predictions follow from fine ones.</param>
    /// <param name="fineLabel">The concept's label, or -1.</param>
    /// <param name="wordings">Prompts naming the concept, each scored alone.</param>
    public TallyBuilder(int labels, int? coarseGroups, int fineLabel, IReadOnlyList<string> wordings)
    {
        _fineLabel = fineLabel;
        _counts = new int[labels];
        _coarseCounts = coarseGroups is { } groups ? new int[groups] : null;
        _samples = Enumerable.Range(0, labels).Select(_ => new List<string>()).ToArray();
        _wordings = wordings;
        _recalled = new int[wordings.Count];
    }

    /// <summary>Counts one exemplar.</summary>
    /// <param name="file">The exemplar.</param>
    /// <param name="fine">Its score for each label.</param>
    /// <param name="coarse">Its score for each coarse group (empty where the model scores none).</param>
    /// <param name="wordings">Its score for each wording.</param>
    public void Add(string file, ReadOnlySpan<float> fine, ReadOnlySpan<float> coarse, ReadOnlySpan<float> wordings)
    {
        var predicted = ImageBatches.ArgMax(fine);
        _counts[predicted]++;
        if (_samples[predicted].Count < SamplesPerLabel)
        {
            _samples[predicted].Add(file);
        }

        if (_coarseCounts is { Length: > 0 })
        {
            _coarseCounts[ImageBatches.ArgMax(coarse)]++;
        }

        if (wordings.Length > 0)
        {
            // A wording recalls the concept when, standing alone for it, it outscores every other label.
            var bestOther = float.NegativeInfinity;
            for (var j = 0; j < fine.Length; j++)
            {
                if (j != _fineLabel && fine[j] > bestOther)
                {
                    bestOther = fine[j];
                }
            }

            for (var w = 0; w < wordings.Length; w++)
            {
                if (wordings[w] > bestOther)
                {
                    _recalled[w]++;
                }
            }
        }
    }

    /// <summary>The tally of the <paramref name="n"/> exemplars added.</summary>
    public ProbeTally Build(int n) => new(n, _counts, _samples)
    {
        CoarsePredictedCounts = _coarseCounts,
        Wordings = _wordings.Select((w, i) => new WordingTally(w, _recalled[i])).ToList(),
    };
}
