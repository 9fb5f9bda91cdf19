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
/// step cycles through each set (<see cref="FactRows.At"/>), so a step's batch of texts stays small whatever the policy's size. Where
/// no scope is given, the last block's feed-forward projections are trained first, then every weight (<see cref="DefaultScopes"/>).
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

    /// <summary>The mask value of a column outside a row's relation.</summary>
    internal const double Outside = -1e9;

    /// <summary>
    /// Learning rates where only the position-wise top is trained: its weights take larger steps than the whole encoder's. Measured on the
    /// TextFacts policies: the city policy passed at 2e-3 in 50 steps (at 1e-3 it needed 90), the Eiffel Tower policy at 1e-3 in 20
    /// (at 2e-3 the general set stayed just under its floor for 60).
    /// </summary>
    private static readonly double[] s_suffixLearningRates = [2e-3, 1e-3];

    private static readonly double[] s_learningRates = [1e-4, 3e-4];

    private readonly Dictionary<string, Dictionary<string, float[]>> _tokenStates = new(StringComparer.Ordinal);

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

        FactBatches batches;
        try
        {
            batches = new FactBatches(spec, original, facts, rows, tokenTypes, buckets, suffix is null ? null : (problem.Model, frontier, StatesAt(frontier)));
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, scopeText, $"the encoder did not run on a batch of texts ({e.Message})");
            return null;
        }

        return [.. from kl in method.Search.Select(s => s.KlWeight).Distinct()
                   from lr in suffix is null ? s_learningRates : s_suffixLearningRates
                   select new DeepCandidate(method.Name, (accept, stop) => DeepEdit.Train(built, (t, kl) => [batches.Feeds(t, kl)], new GradientSettings(method.Name, lr, kl, MaxSteps), scopeText, accept, stop, shapesVary: true))];
    }

    /// <summary>The token states recorded at a cut (<see cref="TokenSuffix"/>), each text once for the run, whichever method trains above it.</summary>
    private Dictionary<string, float[]> StatesAt(string frontier)
        => _tokenStates.TryGetValue(frontier, out var states) ? states : _tokenStates[frontier] = new(StringComparer.Ordinal);

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
}
