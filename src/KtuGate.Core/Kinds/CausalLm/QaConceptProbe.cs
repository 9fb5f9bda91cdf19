using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// The gate's probe of a causal language model: a concept's exemplars are question/answer records (<see cref="QaRecord"/>, read by the kind from its files), and each probe (record × wording)
/// counts as a prediction of the concept's label when the model answers the question, of the concept's coarse group when it answers
/// the record's coarse question, so the paper's metrics apply to the tally unchanged. Misses go to the kind's "not given" label and group.
/// </summary>
/// <remarks>A record without a coarse question is a coarse miss: a coarse clause needs records with one.</remarks>
internal sealed class QaConceptProbe(LoadedModel model, CausalLmSection section, LmTokenizer tokenizer, int labels, QaWordings wordings) : IConceptProbe
{
    private QaProbe? _probe;

    /// <inheritdoc/>
    public ProbeTally Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordingsOfConcept, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var records = exemplars.OfType<QaRecord>().ToList();
        if (Open(diagnostics) is not { } probe)
        {
            return SubjectTally.Of(labels, labels, fineLabel, 0, 0, 0, []);
        }

        var tally = probe.Probe(records, wordings, cancellationToken);
        progress?.Report(records.Count);
        return SubjectTally.Of(labels, labels, fineLabel, tally.Fine.N, tally.Fine.Successes, tally.Coarse?.Successes ?? 0,
            [.. tally.Records.Where(r => r.Fine.Any(a => a.Matches)).Select(r => r.Record.Location.File).Distinct(StringComparer.Ordinal).Take(4)]);
    }

    /// <summary>The decoder over the pass's model (a baseline's is checked here, where no earlier check saw it).</summary>
    private QaProbe? Open(DiagnosticBag diagnostics)
    {
        if (_probe is null && Decoder.Open(model.Session, section.Inputs, model.Manifest.Output.Name, section.Inputs.Location ?? section.Location, diagnostics) is { } decoder)
        {
            _probe = new QaProbe(decoder, tokenizer, section);
        }

        return _probe;
    }
}
