using KtuGate.Diagnostics;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// The gate's probe of a text encoder: a concept's exemplars are facts (<see cref="FactRecord"/>, read by the kind from its fact files), and each probe (fact × name × wording) counts as a
/// prediction of the concept's label when the fact's object ranks first, of the concept's coarse group when its parent does, so the
/// paper's metrics apply to the tally unchanged. Misses go to the kind's "not known" label and group.
/// </summary>
/// <remarks>A probe of a fact whose relation has no coarse relation is a coarse miss: a coarse clause needs facts with parents.</remarks>
internal sealed class FactConceptProbe(FactProbe probe, int labels, int groups, FactWordings wordings) : IConceptProbe
{
    /// <inheritdoc/>
    public ProbeTally Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordingsOfConcept, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var records = exemplars.OfType<FactRecord>().ToList();
        var tally = probe.Probe(records, wordings, cancellationToken);
        progress?.Report(records.Count);
        return SubjectTally.Of(labels, groups, fineLabel, tally.Fine.N, tally.Fine.Successes, tally.Coarse?.Successes ?? 0,
            [.. tally.Facts.Where(f => f.Known > 0).Select(f => f.Fact.Location.File).Distinct(StringComparer.Ordinal).Take(4)]);
    }
}
