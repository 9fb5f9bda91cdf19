using KtuGate.Measurements;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>Which wordings of a subject a fact is probed with.</summary>
public enum FactWordings
{
    /// <summary>The relation's subject templates (what a policy is judged on).</summary>
    Templates,

    /// <summary>The relation's paraphrased wordings (robustness: knowledge, not a phrasing).</summary>
    Paraphrases,
}

/// <summary>
/// Probes a text encoder for facts: a fact is known, for one wording of one of its subject's names, when the wording's embedding is
/// nearer (cosine) the true object's than every other candidate of the relation (fine level), and its parent's than every other
/// candidate of the coarse relation (coarse level: Paris among cities, France among countries).
/// </summary>
/// <remarks>Each text is embedded once per encoder (<see cref="TextTower.Embed"/> caches); the encoder is not owned.</remarks>
public sealed class FactProbe
{
    private readonly TextTower _encoder;
    private readonly FactSet _facts;
    private readonly Dictionary<string, float[][]> _candidates = new(StringComparer.Ordinal);

    /// <summary>Makes a probe over an open encoder and a fact set whose relations give the candidates.</summary>
    public FactProbe(TextTower encoder, FactSet facts)
    {
        _encoder = encoder;
        _facts = facts;
    }

    /// <summary>Probes every fact with every name of its subject in every wording.</summary>
    /// <param name="facts">The facts (from the probe's fact set or read alike).</param>
    /// <param name="wordings">The relation's templates or its paraphrases.</param>
    /// <param name="cancellationToken">Stops between facts.</param>
    public FactTally Probe(IEnumerable<FactRecord> facts, FactWordings wordings = FactWordings.Templates, CancellationToken cancellationToken = default)
    {
        var (n, fine, coarseN, coarse) = (0, 0, 0, 0);
        var recalled = new Dictionary<string, (int Known, int N)>(StringComparer.Ordinal);
        var outcomes = new List<FactOutcome>();
        var list = facts.ToList();
        _encoder.Prefetch(list.SelectMany(f => Wordings(f, wordings).SelectMany(t => f.Names.Select(n => FactRelation.Subject(t, n)))));
        foreach (var fact in list)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var relation = _facts.Relations[fact.Relation];
            var candidates = _facts.Candidates(fact.Relation);
            var truth = IndexOf(candidates, fact.Object);
            var parent = _facts.Parent(fact);
            var parentTruth = parent is { } p ? IndexOf(_facts.Candidates(p.Relation.Name), p.Parent) : -1;
            var (probes, known) = (0, 0);
            foreach (var template in Wordings(fact, wordings))
            {
                foreach (var name in fact.Names)
                {
                    var subject = _encoder.Embed(FactRelation.Subject(template, name));
                    var hit = truth >= 0 && Rank(subject, Candidates(relation)) == truth;
                    probes++;
                    known += hit ? 1 : 0;
                    var r = recalled.GetValueOrDefault(template);
                    recalled[template] = (r.Known + (hit ? 1 : 0), r.N + 1);
                    if (parent is { } up && parentTruth >= 0)
                    {
                        coarseN++;
                        coarse += Rank(subject, Candidates(up.Relation)) == parentTruth ? 1 : 0;
                    }
                }
            }

            n += probes;
            fine += known;
            outcomes.Add(new FactOutcome(fact, probes, known));
        }

        return new FactTally(new Proportion(fine, n), coarseN == 0 ? null : new Proportion(coarse, coarseN),
            recalled.Select(w => new WordingRecall(w.Key, new Proportion(w.Value.Known, w.Value.N))).ToList(), outcomes);
    }

    /// <summary>The wordings a fact's subject is probed with.</summary>
    private IReadOnlyList<string> Wordings(FactRecord fact, FactWordings wordings)
        => wordings == FactWordings.Templates ? _facts.Relations[fact.Relation].SubjectTemplates : _facts.Relations[fact.Relation].Paraphrases;

    /// <summary>The embeddings of a relation's candidates, worded by its object template, in candidate order.</summary>
    private float[][] Candidates(FactRelation relation)
    {
        if (!_candidates.TryGetValue(relation.Name, out var embedded))
        {
            var texts = _facts.Candidates(relation.Name).Select(relation.ObjectText).ToList();
            _encoder.Prefetch(texts);
            embedded = _candidates[relation.Name] = [.. texts.Select(_encoder.Embed)];
        }

        return embedded;
    }

    /// <summary>The index of the candidate nearest (cosine) the subject; the first of equals.</summary>
    private static int Rank(float[] subject, float[][] candidates)
    {
        var (best, bestScore) = (-1, double.NegativeInfinity);
        for (var i = 0; i < candidates.Length; i++)
        {
            var score = VectorMath.Cosine(subject, candidates[i]);
            if (score > bestScore)
            {
                (best, bestScore) = (i, score);
            }
        }

        return best;
    }

    private static int IndexOf(IReadOnlyList<string> candidates, string value)
    {
        for (var i = 0; i < candidates.Count; i++)
        {
            if (string.Equals(candidates[i], value, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>What a fact probe measured.</summary>
/// <param name="Fine">Probes (fact × name × wording) whose true object ranked first.</param>
/// <param name="Coarse">Probes of facts with a parent whose parent ranked first among the coarse relation's candidates; null when none has one.</param>
/// <param name="Wordings">Per wording (template), the share of its probes that recalled the object.</param>
/// <param name="Facts">Per fact, its probes and how many knew it.</param>
public sealed record FactTally(Proportion Fine, Proportion? Coarse, IReadOnlyList<WordingRecall> Wordings, IReadOnlyList<FactOutcome> Facts);

/// <summary>How often one wording recalled the object.</summary>
/// <param name="Wording">The template, e.g. "the city of {subject}".</param>
/// <param name="Recall">Its probes that ranked the true object first.</param>
public sealed record WordingRecall(string Wording, Proportion Recall);

/// <summary>One fact's result.</summary>
/// <param name="Fact">The fact.</param>
/// <param name="Probes">Its probes (names × wordings).</param>
/// <param name="Known">Those that ranked the true object first.</param>
public sealed record FactOutcome(FactRecord Fact, int Probes, int Known)
{
    /// <summary>Whether the model knows the fact: more than half of its probes rank the true object first.</summary>
    public bool IsKnown => 2 * Known > Probes;
}
