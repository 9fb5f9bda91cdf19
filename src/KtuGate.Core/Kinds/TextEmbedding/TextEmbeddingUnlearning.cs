using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// How a text encoder is unlearned: the registry's gradient methods over the fact ranking itself. Each probe wording of a subject is a row
/// whose scores are its similarities (scaled cosine) to its relation's candidates, both sides embedded by the encoder being trained, so the
/// losses are written on the similarity logits and retention covers the candidates' embeddings too.
/// </summary>
/// <remarks>
/// Forget rows: every name × wording (templates and paraphrases) of each fact in the failing forget clauses' files, the true object
/// forbidden and the relation's other candidates allowed. Retain rows, held to the original's distribution over the candidates by the
/// methods' KL term: the same wordings against the coarse relation's candidates (the Eiffel Tower stays in France), every template
/// wording of the kept facts that name a forgotten fact's subject or object, of the retained concepts' facts, and of the manifest's other facts (less the forgotten ones). Each
/// step cycles through each set (<see cref="FactRows.At"/>), so a step's batch of texts stays small whatever the policy's size. Trained
/// over every weight unless a scope says otherwise.
/// </remarks>
internal sealed class TextEmbeddingUnlearning(TextEncoderSpec spec, TextTower original, FactSet facts) : KindUnlearning
{
    /// <summary>The score scale: cosine 1 is 20 logits, so one candidate 0.1 nearer than another is e² times likelier.</summary>
    public const double Scale = 20;

    /// <summary>The hinge margin in score units (a cosine of 0.05).</summary>
    public const double Margin = 1;

    /// <summary>Forget rows per step (each with its coarse row).</summary>
    public const int ForgetBatch = 32;

    /// <summary>Rows per step of the retained concepts, and as many of one other relation.</summary>
    public const int RetainBatch = 24;

    /// <summary>The most steps one setting runs.</summary>
    public const int MaxSteps = 60;

    /// <summary>
    /// The coarse rows' KL weight, as a share of the retained rows' λ. Measured on the TextFacts policies: with a full λ the Eiffel
    /// Tower policy took 50 steps (and France stayed 3 of 6), with half 20 (3 of 6); the city policy lost 1 of 81 coarse probes with
    /// either, and 2 when the coarse rows only shared λ with every retained row.
    /// </summary>
    public const double CoarseShare = 0.5;

    /// <summary>The fed [texts, tokens] matrix that pools each text's token states where only the position-wise top is trained (<see cref="TokenSuffix"/>).</summary>
    public const string TokenPool = "ktu_loss/token_pool";

    /// <summary>The fed [rows, texts] matrix that picks each row's subject embedding out of the batch.</summary>
    public const string QueryRows = "ktu_loss/query_rows";

    /// <summary>The fed [columns, texts] matrix that picks each candidate column's embedding out of the batch.</summary>
    public const string CandidateRows = "ktu_loss/candidate_rows";

    /// <summary>The fed [anchors, texts] matrix that picks each anchor word's embedding out of the batch.</summary>
    public const string AnchorRows = "ktu_loss/anchor_rows";

    /// <summary>The fed [anchors, dim] original embeddings the anchor words are held to.</summary>
    public const string AnchorTarget = "ktu_loss/anchor_target";

    /// <summary>The fed [anchors] weights of the anchor term.</summary>
    public const string AnchorWeight = "ktu_loss/anchor_weight";

    /// <summary>Anchor words per step.</summary>
    public const int AnchorBatch = 32;

    /// <summary>The anchor term's weight relative to the KL weight.</summary>
    public const double AnchorScale = 20;

    /// <summary>How many words of the tokenizer's vocabulary serve as anchors.</summary>
    public const int Anchors = 512;

    /// <summary>The fed [rows, columns] mask: 0 on the row's relation's candidates, a large negative number elsewhere.</summary>
    public const string CandidateMask = "ktu_loss/candidate_mask";

    private const double Outside = -1e9;

    /// <summary>
    /// Learning rates where only the position-wise top is trained: its weights take larger steps than the whole encoder's. Measured on the
    /// TextFacts policies: the city policy passed at 2e-3 in 50 steps (at 1e-3 it needed 90), the Eiffel Tower policy at 1e-3 in 20
    /// (at 2e-3 the general set stayed just under its floor for 60).
    /// </summary>
    private static readonly double[] s_suffixLearningRates = [2e-3, 1e-3];

    private static readonly double[] s_learningRates = [1e-4, 3e-4];

    /// <inheritdoc/>
    /// <remarks>
    /// The last block's feed-forward projections first: the part above them is position-wise, so a step trains through two matrix
    /// products per token (<see cref="TokenSuffix"/>), and on the TextFacts policies it met every threshold (bench/results/textfacts.md);
    /// the whole encoder where that edit does not.
    /// </remarks>
    public override IReadOnlyList<IReadOnlyList<string>> DefaultScopes => [[EditScope.LastFeedForward], [EditScope.All]];

    /// <inheritdoc/>
    public override string? CannotRun(UnlearningMethod method)
        => method is GradientMethod ? null
            : $"it edits one linear layer's class scores in closed form, and a text encoder's facts are ranks among its own embeddings of the candidates (the gradient methods {string.Join(", ", UnlearningMethods.All.OfType<GradientMethod>().Select(m => m.Name))} train them)";

    /// <inheritdoc/>
    public override IReadOnlyList<DeepCandidate>? Candidates(GradientMethod method, KindUnlearningProblem problem, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var forget = facts.ReadOfRelations(problem.Forget, diagnostics);
        var retained = facts.ReadOfRelations(problem.Retain, diagnostics);
        var scopeText = string.Join(", ", problem.Scope);
        if (diagnostics.HasErrors || !DeepEdit.Trainable(problem.Model, problem.Trained, scopeText, diagnostics, location))
        {
            return null;
        }

        var rows = Rows(forget, retained);
        var tokenTypes = problem.Model.Graph.Input.Any(i => i.Name == spec.Inputs.TokenTypes);
        string[] inputs = tokenTypes ? [spec.Inputs.Ids, spec.Inputs.Mask, spec.Inputs.TokenTypes] : [spec.Inputs.Ids, spec.Inputs.Mask];

        // Where the scope is position-wise (a block's feed-forward projections), only the part above the frozen rest is trained: each
        // text's token states where it begins are recorded once, and a step feeds its texts' tokens as one row. Else the whole encoder.
        var suffix = TokenSuffix.Cut(problem.Model, problem.Trained, spec.Output, out var frontier);
        var copied = suffix is null ? LengthBuckets.Copied(problem.Model, inputs) : null;
        var buckets = suffix is not null ? 0 : copied is null ? 1 : LengthBuckets.Count;
        var built = GradientBuilder.Build(suffix ?? copied ?? problem.Model, problem.Trained, Loss(method.Term, buckets), diagnostics, problem.Artifact);
        if (built is null)
        {
            return null;
        }

        Batches batches;
        try
        {
            batches = new Batches(spec, original, facts, rows, tokenTypes, buckets, suffix is null ? null : (problem.Model, frontier));
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, scopeText, $"the encoder did not run on a batch of texts ({e.Message})");
            return null;
        }

        return [.. from kl in method.Search.Select(s => s.KlWeight).Distinct()
                   from lr in suffix is null ? s_learningRates : s_suffixLearningRates
                   select new DeepCandidate(method.Name, accept => DeepEdit.Train(built, batches.Feeds, new GradientSettings(method.Name, lr, kl, MaxSteps), scopeText, accept, shapesVary: true))];
    }

    /// <inheritdoc/>
    /// <remarks>At each block's input and the encoder's output (<see cref="FactRecovery"/>).</remarks>
    public override IReadOnlyList<RecoveryDepth>? Recovery(ModelProto model, IReadOnlyList<InitializerOverride> weights,
        IReadOnlyList<(string Policy, string Concept, IReadOnlyList<string> Files)> clauses, string folder)
        => FactRecovery.Profile(spec, original, facts, model, weights, clauses, folder);

    /// <summary>
    /// The rows, each once: forget rows, each with the coarse row of the same wording; the neighbours' rows (kept facts naming a forgotten
    /// fact's subject or object); the retained concepts' rows; and the manifest's other facts' rows by relation.
    /// </summary>
    private FactRows Rows(List<FactRecord> forget, List<FactRecord> retained)
    {
        var forgotten = forget.Select(f => (f.Relation, f.Subject)).ToHashSet();
        var seen = new HashSet<(string Text, string Relation)>();
        var rows = new FactRows([], [], [], []);
        bool Add(string text, string relation) => seen.Add((text, relation));

        foreach (var fact in forget)
        {
            var relation = facts.Relations[fact.Relation];
            var truth = IndexOf(facts.Candidates(fact.Relation), fact.Object);
            if (truth < 0)
            {
                // An object that is none of the relation's candidates never ranks first: the probe cannot know the fact, nothing to unlearn.
                continue;
            }

            var parent = facts.Parent(fact);
            foreach (var text in relation.SubjectTexts(fact, paraphrases: true))
            {
                if (Add(text, fact.Relation))
                {
                    rows.Forget.Add((new FactRow(text, fact.Relation, truth), parent is { } p && Add(text, p.Relation.Name) ? new FactRow(text, p.Relation.Name, -1, Coarse: true) : null));
                }
            }
        }

        // Forget rows first: a kept wording of a forgotten fact (the same text in a retained file) must not pull it back. The neighbours
        // (kept facts that name a forgotten fact's subject or object: France's capital is Paris, Paris is in France) come next, then the
        // retained concepts' facts, then the rest.
        var entities = forget.SelectMany(f => new[] { f.Subject, f.Object }).ToHashSet(StringComparer.Ordinal);
        var kept = retained.Concat(facts.Facts).Where(f => !forgotten.Contains((f.Relation, f.Subject))).ToList();
        foreach (var (list, source) in new[] { (rows.Neighbours, kept.Where(f => entities.Contains(f.Subject) || entities.Contains(f.Object))), (rows.Retained, retained), (null, facts.Facts) })
        {
            foreach (var fact in source.Where(f => !forgotten.Contains((f.Relation, f.Subject))))
            {
                var relation = facts.Relations[fact.Relation];
                foreach (var text in relation.SubjectTexts(fact, paraphrases: false).Where(t => Add(t, fact.Relation)))
                {
                    var row = new FactRow(text, fact.Relation, -1);
                    if (list is not null)
                    {
                        list.Add(row);
                    }
                    else if (rows.Pool.FirstOrDefault(g => g[0].Relation == fact.Relation) is { } group)
                    {
                        group.Add(row);
                    }
                    else
                    {
                        rows.Pool.Add([row]);
                    }
                }
            }
        }

        return rows;
    }

    /// <summary>
    /// The loss over the encoder's output: pooled, normalised embeddings (of each length bucket's copy, in bucket order; or, with no
    /// bucket, of the trained top's one row of tokens, pooled by <see cref="TokenPool"/>), each row's scaled cosines to its relation's
    /// candidates, the method's terms, the anchor term.
    /// </summary>
    private LossGraph Loss(ForgetTerm term, int buckets)
    {
        var w = new LossGraphWriter("ktu_loss");
        string Op(string op, string[] inputs, params AttributeProto[] attributes) => w.Op(op, inputs, attributes);
        var toDouble = GradientGraph.Attr("to", (long)TensorProto.Types.DataType.Double);
        string Pooled(int bucket)
        {
            var e = Op("Cast", [LengthBuckets.Name(spec.Output, bucket)], toDouble);
            if (spec.Pooling == TextPooling.Cls)
            {
                e = Op("Gather", [e, w.Int64($"first_token{bucket}", 0)], GradientGraph.Attr("axis", 1));
                return Op("Reshape", [e, w.Int64($"flat{bucket}", 0, -1)]);
            }

            // The mean of the token states the attention mask keeps, as the probes pool them (a pooled [batch, dim] output passes through).
            var mask = Op("Cast", [LengthBuckets.Name(spec.Inputs.Mask, bucket)], toDouble);
            var tokens = w.Int64($"token_axis{bucket}", 1);
            var summed = Op("ReduceSum", [Op("Mul", [e, Op("Unsqueeze", [mask, w.Int64($"state_axis{bucket}", 2)])]), tokens], GradientGraph.Attr("keepdims", 0));
            return Op("Div", [summed, Op("ReduceSum", [mask, tokens], GradientGraph.Attr("keepdims", 1))]);
        }

        var e = buckets == 0 ? Op("MatMul", [TokenPool, Op("Reshape", [Op("Cast", [spec.Output], toDouble), w.Int64("token_rows", -1, original.Dimension)])])
            : buckets == 1 ? Pooled(0) : Op("Concat", [.. Enumerable.Range(0, buckets).Select(Pooled)], GradientGraph.Attr("axis", 0));
        if (spec.Normalize)
        {
            e = Op("Div", [e, Op("ReduceL2", [e], GradientGraph.Attr("axes", new long[] { 1 }), GradientGraph.Attr("keepdims", 1))]);
        }

        var queries = Op("MatMul", [QueryRows, e]);
        var candidates = Op("MatMul", [CandidateRows, e]);
        var cosines = Op("MatMul", [queries, Op("Transpose", [candidates], GradientGraph.Attr("perm", new long[] { 1, 0 }))]);
        var z = Op("Add", [Op("Mul", [cosines, w.Double("scale", [], [Scale])]), CandidateMask]);
        var (total, _, _) = MethodLoss.ScoreTerms(w, z, term, Margin);

        // Anchors: common words of the vocabulary keep their embeddings (the word meaning general utility reads), w·‖e − e_original‖².
        var drift = Op("Sub", [Op("MatMul", [AnchorRows, e]), AnchorTarget]);
        var anchored = Op("Mul", [Op("ReduceSum", [Op("Mul", [drift, drift]), w.Int64("anchor_axis", 1)], GradientGraph.Attr("keepdims", 0)), AnchorWeight]);
        w.Final("Add", [Op("ReduceSum", [total], GradientGraph.Attr("keepdims", 0)), Op("ReduceSum", [anchored], GradientGraph.Attr("keepdims", 0))], MethodLoss.Loss);
        return w.Graph(MethodLoss.Loss, [
            LossGraphWriter.Input(QueryRows, "rows", "texts"), LossGraphWriter.Input(CandidateRows, "columns", "texts"),
            .. new[] { CandidateMask, MethodLoss.Forbidden, MethodLoss.Allowed, MethodLoss.Reference }.Select(n => LossGraphWriter.Input(n, "rows", "columns")),
            .. new[] { MethodLoss.IsForget, MethodLoss.ForgetWeight, MethodLoss.RetainWeight }.Select(n => LossGraphWriter.Input(n, "rows")),
            LossGraphWriter.Input(AnchorRows, "anchors", "texts"), LossGraphWriter.Input(AnchorTarget, "anchors", "dim"), LossGraphWriter.Input(AnchorWeight, "anchors"),
            .. buckets == 0 ? new[] { LossGraphWriter.Input(TokenPool, "texts", "tokens") } : []]);
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

    /// <summary>
    /// One probe wording against one relation's candidates; <paramref name="Truth"/> the forbidden candidate's index on a forget row, else
    /// -1; <paramref name="Coarse"/> on a forget wording's coarse row (the Eiffel Tower stays in France).
    /// </summary>
    private sealed record FactRow(string Text, string Relation, int Truth, bool Coarse = false);

    /// <summary>The rows a setting trains on: forget rows with their coarse rows, the retained concepts' rows, the other facts' rows by relation.</summary>
    private sealed record FactRows(List<(FactRow Row, FactRow? Coarse)> Forget, List<FactRow> Neighbours, List<FactRow> Retained, List<List<FactRow>> Pool)
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
    private sealed class Batches
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

        public Batches(TextEncoderSpec spec, TextTower original, FactSet facts, FactRows rows, bool tokenTypes, int buckets, (ModelProto Model, string Tensor)? cut)
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

            // The original's embeddings, and where only the top is trained its token states at the cut, from one run over every text.
            _ = SessionFactory.OnnxRuntimeVersion;
            using var session = cut is { } c ? new InferenceSession(OnnxGraph.WithOutputs(c.Model, [c.Tensor])) : null;
            using var recorder = session is null ? null : TextTower.Over(session, original);
            var encoder = recorder ?? original;
            if (cut is { } at)
            {
                _frontier = (at.Tensor, recorder!.TokenStates(texts, at.Tensor));
            }
            else
            {
                original.Prefetch(texts);
            }

            // The original encoder's distribution over each row's candidates: the KL terms' reference, and npo's.
            foreach (var row in all)
            {
                var subject = encoder.Embed(row.Text);
                var z = Columns(row.Relation).Select(c => Scale * VectorMath.Cosine(subject, encoder.Embed(c))).ToArray();
                var max = z.Max();
                var exp = z.Select(v => Math.Exp(v - max)).ToArray();
                var sum = exp.Sum();
                _reference[row] = [.. exp.Select(v => v / sum)];
            }

            _anchors = [.. words.Select(word => (word, encoder.Embed(word)))];
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

            // The texts, each once, sorted by token count and cut into the length buckets (an empty one fed a text no row reads).
            var distinct = rows.Select(x => x.Text).Concat(columns).Concat(anchors.Select(a => a.Word)).Distinct(StringComparer.Ordinal)
                .OrderBy(t => _tokens[t].Count).ToList();
            int[] cuts = _buckets <= 1 ? [0] : LengthBuckets.Cuts([.. distinct.Select(t => _tokens[t].Count)]);
            var bucketTexts = cuts.Select((from, k) => distinct.GetRange(from, (k + 1 < cuts.Length ? cuts[k + 1] : distinct.Count) - from))
                .Select(run => run.Count > 0 ? run : [string.Empty]).ToList();
            var texts = bucketTexts.SelectMany(run => run).ToList();
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < texts.Count; i++)
            {
                index.TryAdd(texts[i], i);
            }

            var (q, c, b) = (rows.Count, columns.Count, texts.Count);
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

            var spec = _spec;
            var feeds = new Dictionary<string, Func<OrtValue>>
            {
                [QueryRows] = () => OrtValue.CreateTensorValueFromMemory(queryRows, [q, b]),
                [AnchorRows] = () => OrtValue.CreateTensorValueFromMemory(anchorRows, [a, b]),
                [AnchorTarget] = () => OrtValue.CreateTensorValueFromMemory(anchorTarget, [a, dim]),
                [AnchorWeight] = () => OrtValue.CreateTensorValueFromMemory(anchorWeight, [a]),
                [CandidateRows] = () => OrtValue.CreateTensorValueFromMemory(candidateRows, [c, b]),
                [CandidateMask] = () => OrtValue.CreateTensorValueFromMemory(candidateMask, [q, c]),
                [MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(forbidden, [q, c]),
                [MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(allowed, [q, c]),
                [MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(reference, [q, c]),
                [MethodLoss.IsForget] = () => OrtValue.CreateTensorValueFromMemory(isForget, [q]),
                [MethodLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(forgetWeight, [q]),
                [MethodLoss.RetainWeight] = () => OrtValue.CreateTensorValueFromMemory(retainWeight, [q]),
            };
            if (_frontier is { } frontier)
            {
                // Every token of the step's texts as one row of the frontier tensor, and each text's pooling over its own tokens.
                var lengths = texts.Select(t => _tokens[t].Count).ToArray();
                var (n, width) = (lengths.Sum(), frontier.States[texts[0]].Length / lengths[0]);
                var states = new float[n * width];
                var pool = new double[b * n];
                for (int i = 0, at = 0; i < b; at += lengths[i++])
                {
                    frontier.States[texts[i]].CopyTo(states, at * width);
                    for (var t = 0; t < (spec.Pooling == TextPooling.Cls ? 1 : lengths[i]); t++)
                    {
                        pool[i * n + at + t] = spec.Pooling == TextPooling.Cls ? 1 : 1.0 / lengths[i];
                    }
                }

                feeds[frontier.Tensor] = () => OrtValue.CreateTensorValueFromMemory(states, [1, n, width]);
                feeds[TokenPool] = () => OrtValue.CreateTensorValueFromMemory(pool, [b, n]);
                return feeds;
            }

            for (var k = 0; k < bucketTexts.Count; k++)
            {
                // Bucket k's token ids and attention mask, padded to its longest text.
                var run = bucketTexts[k];
                var (ids, mask, width) = TextTower.Padded([.. run.Select(t => _tokens[t])]);
                long[] shape = [run.Count, width];
                feeds[LengthBuckets.Name(spec.Inputs.Ids, k)] = () => OrtValue.CreateTensorValueFromMemory(ids, shape);
                feeds[LengthBuckets.Name(spec.Inputs.Mask, k)] = () => OrtValue.CreateTensorValueFromMemory(mask, shape);
                if (_tokenTypes)
                {
                    var types = new long[run.Count * width];
                    feeds[LengthBuckets.Name(spec.Inputs.TokenTypes, k)] = () => OrtValue.CreateTensorValueFromMemory(types, shape);
                }
            }

            return feeds;
        }
    }
}
