using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static KtuGate.Kinds.TextEmbedding.TextEmbeddingUnlearning;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// One probe wording against one relation's candidates; <paramref name="Truth"/> the forbidden candidate's index on a forget row, else
/// -1; <paramref name="Coarse"/> on a forget wording's coarse row (the Eiffel Tower stays in France).
/// </summary>
internal sealed record FactRow(string Text, string Relation, int Truth, bool Coarse = false);

/// <summary>The rows a setting trains on: forget rows with their coarse rows, the retained concepts' rows, the other facts' rows by relation.</summary>
internal sealed record FactRows(List<(FactRow Row, FactRow? Coarse)> Forget, List<FactRow> Neighbours, List<FactRow> Retained, List<List<FactRow>> Pool)
{
    public IEnumerable<FactRow> All => Forget.SelectMany(f => f.Coarse is null ? [f.Row] : new[] { f.Row, f.Coarse }).Concat(Neighbours).Concat(Retained).Concat(Pool.SelectMany(g => g));

    /// <summary>
    /// Step <paramref name="step"/>'s rows: the next <see cref="ForgetBatch"/> forget rows with their coarse rows, the next
    /// <see cref="RetainBatch"/> neighbours' rows and retained concepts' rows, and <see cref="RetainBatch"/> rows of one relation of the others, the relations
    /// taken in turn (so that a step embeds few relations' candidates).
    /// </summary>
    public List<FactRow> At(int step)
    {
        List<FactRow> rows = [.. Cycle(Forget, step, ForgetBatch).SelectMany(f => f.Coarse is null ? [f.Row] : new[] { f.Row, f.Coarse })];
        rows.AddRange(Cycle(Neighbours, step, RetainBatch));
        rows.AddRange(Cycle(Retained, step, RetainBatch));
        if (Pool.Count > 0)
        {
            rows.AddRange(Cycle(Pool[step % Pool.Count], step / Pool.Count, RetainBatch));
        }

        return rows;
    }

    private static IEnumerable<T> Cycle<T>(List<T> list, int step, int size)
    {
        var n = Math.Min(size, list.Count);
        return Enumerable.Range(0, n).Select(j => list[(step * n + j) % list.Count]);
    }
}

/// <summary>The steps' batches: every forget row and the next <see cref="RetainBatch"/> retain rows, the texts they and their relations' candidates need, and the fed tensors.</summary>
internal sealed class FactBatches
{
    private readonly TextEncoderSpec _spec;
    private readonly FactSet _facts;
    private readonly FactRows _rows;
    private readonly bool _tokenTypes;
    private readonly int _buckets;
    private readonly Dictionary<FactRow, double[]> _reference = [];
    private readonly Dictionary<string, IReadOnlyList<int>> _tokens = new(StringComparer.Ordinal);
    private readonly List<(string Word, float[] Embedding)> _anchors;

    /// <summary>With no bucket: the frontier tensor (<see cref="TokenSuffix"/>) and each text's token states there, as the original gives them.</summary>
    private readonly (string Tensor, Dictionary<string, float[]> States)? _frontier;

    public FactBatches(TextEncoderSpec spec, TextTower original, FactSet facts, FactRows rows, bool tokenTypes, int buckets, (ModelProto Model, string Tensor, Dictionary<string, float[]> States)? cut)
    {
        (_spec, _facts, _rows, _tokenTypes, _buckets) = (spec, facts, rows, tokenTypes, buckets);
        _tokens[string.Empty] = original.Tokenize(string.Empty);
        var all = rows.All.ToList();
        var words = AnchorWords(spec.Vocabulary);
        var texts = all.Select(r => r.Text).Concat(all.Select(r => r.Relation).Distinct().SelectMany(Columns)).Concat(words).Distinct(StringComparer.Ordinal).ToList();
        foreach (var text in texts)
        {
            _tokens[text] = original.Tokenize(text);
        }

        // The original's embeddings (in its tower's cache) and, where only the top is trained, each text's token states at the cut (in
        // the dictionary the kind keeps for the run): one run over the texts neither holds yet, whichever method or scope asks.
        if (cut is { } c)
        {
            if (texts.Any(t => !c.States.ContainsKey(t)))
            {
                _ = SessionFactory.OnnxRuntimeVersion;
                using var session = new InferenceSession(OnnxGraph.WithOutputs(c.Model, [c.Tensor]));
                original.RecordTokenStates(session, texts, c.Tensor, c.States);
            }

            _frontier = (c.Tensor, c.States);
        }
        else
        {
            original.Prefetch(texts);
        }

        // The original encoder's distribution over each row's candidates: the KL terms' reference, and npo's.
        foreach (var row in all)
        {
            var subject = original.Embed(row.Text);
            var z = Columns(row.Relation).Select(c => Scale * VectorMath.Cosine(subject, original.Embed(c))).ToArray();
            var max = z.Max();
            var exp = z.Select(v => Math.Exp(v - max)).ToArray();
            var sum = exp.Sum();
            _reference[row] = [.. exp.Select(v => v / sum)];
        }

        _anchors = [.. words.Select(word => (word, original.Embed(word)))];
        IEnumerable<string> Columns(string relation) => facts.Candidates(relation).Select(facts.Relations[relation].ObjectText);
    }

    /// <summary>
    /// <see cref="Anchors"/> common words, evenly spread over the vocabulary's whole words of three or more letters (WordPiece
    /// vocabularies list them roughly by frequency after the special and single-character tokens): the words' own embeddings are
    /// held, so that editing facts does not move word meaning in general.
    /// </summary>
    private static List<string> AnchorWords(string vocabulary)
    {
        var words = File.ReadLines(vocabulary).Where(t => t.Length >= 3 && t.All(char.IsAsciiLetterLower)).ToList();
        var step = Math.Max(1, words.Count / Anchors);
        return [.. Enumerable.Range(0, Math.Min(Anchors, words.Count)).Select(i => words[i * step])];
    }

    /// <summary>The feeds of step <paramref name="step"/>: its rows against their relations' candidates, the anchor words, and the texts' tokens.</summary>
    public Dictionary<string, Func<OrtValue>> Feeds(int step, double klWeight)
    {
        var rows = _rows.At(step);
        var facts = _facts;

        // Columns: each relation of the step's rows, its candidates in order; texts: the rows' and the columns', each once.
        var relations = rows.Select(x => x.Relation).Distinct(StringComparer.Ordinal).ToList();
        var start = new Dictionary<string, int>(StringComparer.Ordinal);
        var columns = new List<string>();
        foreach (var relation in relations)
        {
            start[relation] = columns.Count;
            columns.AddRange(facts.Candidates(relation).Select(facts.Relations[relation].ObjectText));
        }

        var anchors = Enumerable.Range(0, Math.Min(AnchorBatch, _anchors.Count)).Select(j => _anchors[(step * AnchorBatch + j) % _anchors.Count]).ToList();
        var (bucketTexts, texts, index) = Texts(rows.Select(x => x.Text).Concat(columns).Concat(anchors.Select(a => a.Word)));
        var feeds = new Dictionary<string, Func<OrtValue>>();
        AddAnchors(feeds, anchors, index, texts.Count, klWeight);
        AddRows(feeds, rows, columns, start, index, texts.Count, klWeight);
        if (_frontier is { } frontier)
        {
            FeedTokens(feeds, frontier, texts);
        }
        else
        {
            FeedBuckets(feeds, bucketTexts);
        }

        return feeds;
    }

    /// <summary>The step's texts, each once, sorted by token count and cut into the length buckets (an empty one fed a text no row reads); each text's index.</summary>
    private (List<List<string>> Buckets, List<string> Texts, Dictionary<string, int> Index) Texts(IEnumerable<string> read)
    {
        var distinct = read.Distinct(StringComparer.Ordinal).OrderBy(t => _tokens[t].Count).ToList();
        int[] cuts = _buckets <= 1 ? [0] : LengthBuckets.Cuts([.. distinct.Select(t => _tokens[t].Count)]);
        var bucketTexts = cuts.Select((from, k) => distinct.GetRange(from, (k + 1 < cuts.Length ? cuts[k + 1] : distinct.Count) - from))
            .Select(run => run.Count > 0 ? run : [string.Empty]).ToList();
        var texts = bucketTexts.SelectMany(run => run).ToList();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < texts.Count; i++)
        {
            index.TryAdd(texts[i], i);
        }

        return (bucketTexts, texts, index);
    }

    /// <summary>The anchor words' rows among the <paramref name="b"/> texts, their original embeddings and their weights.</summary>
    private static void AddAnchors(Dictionary<string, Func<OrtValue>> feeds, List<(string Word, float[] Embedding)> anchors, Dictionary<string, int> index, int b, double klWeight)
    {
        var (a, dim) = (anchors.Count, anchors.Count == 0 ? 0 : anchors[0].Embedding.Length);
        var anchorRows = new double[a * b];
        var anchorTarget = new double[a * dim];
        var anchorWeight = new double[a];
        for (var i = 0; i < a; i++)
        {
            anchorRows[i * b + index[anchors[i].Word]] = 1;
            for (var d = 0; d < dim; d++)
            {
                anchorTarget[i * dim + d] = anchors[i].Embedding[d];
            }

            // A drift of 0.01 in cosine (‖Δ‖² = 0.02) weighs about as much as the KL terms: λ·AnchorScale·0.02 over the step's anchors.
            anchorWeight[i] = klWeight * AnchorScale / a;
        }

        feeds[AnchorRows] = () => OrtValue.CreateTensorValueFromMemory(anchorRows, [a, b]);
        feeds[AnchorTarget] = () => OrtValue.CreateTensorValueFromMemory(anchorTarget, [a, dim]);
        feeds[AnchorWeight] = () => OrtValue.CreateTensorValueFromMemory(anchorWeight, [a]);
    }

    /// <summary>The rows' and candidates' places among the <paramref name="b"/> texts, and each row's targets, reference and weights for the method's loss.</summary>
    private void AddRows(Dictionary<string, Func<OrtValue>> feeds, List<FactRow> rows, List<string> columns, Dictionary<string, int> start, Dictionary<string, int> index, int b, double klWeight)
    {
        var (q, c) = (rows.Count, columns.Count);
        var queryRows = new double[q * b];
        var candidateRows = new double[c * b];
        var candidateMask = new double[q * c];
        var forbidden = new double[q * c];
        var allowed = new double[q * c];
        var reference = new double[q * c];
        var isForget = new double[q];
        var forgetWeight = new double[q];
        var retainWeight = new double[q];
        for (var j = 0; j < c; j++)
        {
            candidateRows[j * b + index[columns[j]]] = 1;
        }

        var (forgetRows, coarseRows, retainRows) = (rows.Count(x => x.Truth >= 0), rows.Count(x => x.Coarse), rows.Count(x => x.Truth < 0 && !x.Coarse));
        for (var i = 0; i < q; i++)
        {
            var row = rows[i];
            queryRows[i * b + index[row.Text]] = 1;
            Array.Fill(candidateMask, Outside, i * c, c);
            var (from, p) = (start[row.Relation], _reference[row]);
            for (var k = 0; k < p.Length; k++)
            {
                candidateMask[i * c + from + k] = 0;
                reference[i * c + from + k] = p[k];
                if (row.Truth >= 0)
                {
                    (k == row.Truth ? forbidden : allowed)[i * c + from + k] = 1;
                }
            }

            isForget[i] = row.Truth >= 0 ? 1 : 0;
            forgetWeight[i] = row.Truth >= 0 ? 1.0 / forgetRows : 0;
            // As for images, the coarse rows have a share of their own (what the forgotten subject keeps), beside the retained rows' λ.
            retainWeight[i] = row.Truth >= 0 ? 0 : row.Coarse ? CoarseShare * klWeight / coarseRows : klWeight / retainRows;
        }

        feeds[QueryRows] = () => OrtValue.CreateTensorValueFromMemory(queryRows, [q, b]);
        feeds[CandidateRows] = () => OrtValue.CreateTensorValueFromMemory(candidateRows, [c, b]);
        feeds[CandidateMask] = () => OrtValue.CreateTensorValueFromMemory(candidateMask, [q, c]);
        feeds[MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(forbidden, [q, c]);
        feeds[MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(allowed, [q, c]);
        feeds[MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(reference, [q, c]);
        feeds[MethodLoss.IsForget] = () => OrtValue.CreateTensorValueFromMemory(isForget, [q]);
        feeds[MethodLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(forgetWeight, [q]);
        feeds[MethodLoss.RetainWeight] = () => OrtValue.CreateTensorValueFromMemory(retainWeight, [q]);
    }

    /// <summary>Every token of the step's texts as one row of the frontier tensor, and each text's pooling over its own tokens.</summary>
    private void FeedTokens(Dictionary<string, Func<OrtValue>> feeds, (string Tensor, Dictionary<string, float[]> States) frontier, List<string> texts)
    {
        var cls = _spec.Pooling == TextPooling.Cls;
        var lengths = texts.Select(t => _tokens[t].Count).ToArray();
        var (b, n, width) = (texts.Count, lengths.Sum(), frontier.States[texts[0]].Length / lengths[0]);
        var states = new float[n * width];
        var pool = new double[b * n];
        for (int i = 0, at = 0; i < b; at += lengths[i++])
        {
            frontier.States[texts[i]].CopyTo(states, at * width);
            for (var t = 0; t < (cls ? 1 : lengths[i]); t++)
            {
                pool[i * n + at + t] = cls ? 1 : 1.0 / lengths[i];
            }
        }

        feeds[frontier.Tensor] = () => OrtValue.CreateTensorValueFromMemory(states, [1, n, width]);
        feeds[TokenPool] = () => OrtValue.CreateTensorValueFromMemory(pool, [b, n]);
    }

    /// <summary>Each length bucket's token ids and attention mask (and zero token types where the encoder takes them), padded to its longest text.</summary>
    private void FeedBuckets(Dictionary<string, Func<OrtValue>> feeds, List<List<string>> bucketTexts)
    {
        for (var k = 0; k < bucketTexts.Count; k++)
        {
            var run = bucketTexts[k];
            var (ids, mask, width) = TextTower.Padded([.. run.Select(t => _tokens[t])]);
            long[] shape = [run.Count, width];
            feeds[LengthBuckets.Name(_spec.Inputs.Ids, k)] = () => OrtValue.CreateTensorValueFromMemory(ids, shape);
            feeds[LengthBuckets.Name(_spec.Inputs.Mask, k)] = () => OrtValue.CreateTensorValueFromMemory(mask, shape);
            if (_tokenTypes)
            {
                var types = new long[run.Count * width];
                feeds[LengthBuckets.Name(_spec.Inputs.TokenTypes, k)] = () => OrtValue.CreateTensorValueFromMemory(types, shape);
            }
        }
    }
}
