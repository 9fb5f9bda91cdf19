using KtuGate.Probing;

namespace KtuGate.Kinds;

/// <summary>
/// The gate's tally for a kind whose probes each ask about one subject (a fact, a question): a probe counts as a prediction of the
/// concept's label when the fine fact is known, of the concept's coarse group when the coarse one is, and as the last label and
/// group (the kind's "not known") otherwise, so that the paper's metrics apply to it unchanged.
/// </summary>
internal static class SubjectTally
{
    /// <summary>The tally of <paramref name="n"/> probes of which <paramref name="fineKnown"/> knew the fine fact and <paramref name="coarseKnown"/> the coarse one.</summary>
    /// <param name="labels">The manifest's labels, the "not known" one last.</param>
    /// <param name="groups">The manifest's coarse groups, the "not known" one last.</param>
    /// <param name="fineLabel">The concept's label (its group has the same index), or -1 (then nothing counts as known).</param>
    /// <param name="n">The probes.</param>
    /// <param name="fineKnown">Probes that knew the fine fact.</param>
    /// <param name="coarseKnown">Probes that knew the coarse fact.</param>
    /// <param name="samples">Files of probes that knew the fine fact, shown with the concept's label.</param>
    public static ProbeTally Of(int labels, int groups, int fineLabel, int n, int fineKnown, int coarseKnown, IReadOnlyList<string> samples)
    {
        var counts = new int[labels];
        var coarseCounts = new int[groups];
        var known = fineLabel >= 0 ? fineKnown : 0;
        counts[fineLabel >= 0 ? fineLabel : labels - 1] += known;
        counts[labels - 1] += n - known;
        var coarse = fineLabel >= 0 ? coarseKnown : 0;
        coarseCounts[fineLabel >= 0 ? fineLabel : groups - 1] += coarse;
        coarseCounts[groups - 1] += n - coarse;
        var perLabel = Enumerable.Range(0, labels).Select(_ => (IReadOnlyList<string>)[]).ToArray();
        if (fineLabel >= 0)
        {
            perLabel[fineLabel] = samples;
        }

        return new ProbeTally(n, counts, perLabel) { CoarsePredictedCounts = coarseCounts };
    }
}
