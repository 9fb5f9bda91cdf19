using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Kinds.CausalLm;

/// <summary>A question/answer sequence a decoder is trained on: its ids (prompt, answer and, where kept, EOS) and where the answer starts.</summary>
/// <param name="Ids">The ids.</param>
/// <param name="AnswerStart">The index of the answer's first id (the logits one position earlier predict it).</param>
/// <param name="Forget">True for a forget answer, false for a sequence whose next-token distributions are kept.</param>
internal sealed record TokenSequence(int[] Ids, int AnswerStart, bool Forget);

/// <summary>How a right-padded batch of ids becomes the decoder's inputs: ids, mask, positions and, for a model with a cache, an empty past.</summary>
/// <param name="ids">[batch, length] ids, padding 0.</param>
/// <param name="mask">[batch, length], 1 on ids, 0 on padding.</param>
/// <param name="batch">The batch size.</param>
/// <param name="length">The padded length.</param>
internal delegate Dictionary<string, Func<OrtValue>> DecoderFeeds(long[] ids, long[] mask, int batch, int length);

/// <summary>What a decoder edit trains on: the sequences, how they are fed, and the model tensor the logits are read from.</summary>
/// <param name="Problem">The model, scope and files.</param>
/// <param name="Sequences">The forget answers and the retain sequences.</param>
/// <param name="Feeds">How a batch is fed.</param>
/// <param name="Logits">The logits output, [batch, sequence, vocabulary].</param>
internal sealed record TokenProblem(Kinds.KindUnlearningProblem Problem, IReadOnlyList<TokenSequence> Sequences, DecoderFeeds Feeds, string Logits);

/// <summary>
/// Unlearning inside a decoder: a gradient method's token loss (<see cref="TokenLoss"/>) over the logits, teacher-forced on the forget answers
/// and the retain sequences, differentiated with respect to the scope's initializers (<see cref="GradientBuilder"/>) and minimised by AdamW
/// (<see cref="GradientTrainer"/>) from the original weights, the judge asked every <see cref="DeepEdit.CheckpointInterval"/> steps.
/// </summary>
/// <remarks>
/// The decoder is trained as it is exported, cache inputs included (fed an empty past), so the edited artifact is the original with new
/// initializer values: the same inputs, outputs and cache path. Every step takes every forget answer and the next <see cref="RetainBatch"/>
/// retain sequences, cycling.
/// </remarks>
internal static class CausalLmEdit
{
    /// <summary>Retain sequences per step (all of them where fewer).</summary>
    public const int RetainBatch = 32;

    /// <summary>The most steps one setting runs.</summary>
    public const int MaxSteps = 80;

    private static readonly double[] s_learningRates = [1e-3, 3e-3];

    /// <summary>The settings a method tries, gentlest first: each learning rate with each of its KL weights.</summary>
    public static IReadOnlyList<GradientSettings> Search(GradientMethod method)
        => [.. from lr in s_learningRates from kl in method.Search.Select(s => s.KlWeight).Distinct() select new GradientSettings(method.Name, lr, kl, MaxSteps)];

    /// <summary>The method's edits of the decoder, gentlest first; null after a coded error (KTU4010/KTU4011 from the gradient builder, KTU4013 where the model does not run).</summary>
    public static IReadOnlyList<DeepCandidate>? Candidates(GradientMethod method, TokenProblem problem, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var scopeText = string.Join(", ", problem.Problem.Scope);
        var model = problem.Problem.Model;
        if (!DeepEdit.Trainable(model, problem.Problem.Trained, scopeText, diagnostics, location))
        {
            return null;
        }

        var built = GradientBuilder.Build(model, problem.Problem.Trained, TokenLoss.Build(problem.Logits, method.Term), diagnostics, problem.Problem.Artifact);
        if (built is null)
        {
            return null;
        }

        Batches batches;
        try
        {
            var (reference, vocabulary) = References(problem);
            batches = new Batches(problem, method.Term, reference, vocabulary);
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, scopeText, $"the decoder did not run on a batch of sequences ({e.Message})");
            return null;
        }

        return [.. Search(method).Select(settings => new DeepCandidate(method.Name,
            (accept, stop) => DeepEdit.Train(built, (t, kl) => [batches.Feeds(t, kl)], settings, scopeText, accept, stop, shapesVary: true)))];
    }

    /// <summary>The original decoder's answer log-probability (forget sequences) or next-token distributions from the answer on (retain sequences).</summary>
    private static (List<double[][]> Reference, int Vocabulary) References(TokenProblem problem)
    {
        _ = Probing.SessionFactory.OnnxRuntimeVersion;
        using var session = new InferenceSession(problem.Problem.Artifact);
        var result = new List<double[][]>(problem.Sequences.Count);
        var vocabulary = 0;
        const int block = 32;
        for (var start = 0; start < problem.Sequences.Count; start += block)
        {
            var rows = problem.Sequences.Skip(start).Take(block).ToList();
            var (ids, mask, length) = Padded(rows);
            var feeds = problem.Feeds(ids, mask, rows.Count, length);
            var values = feeds.Values.Select(f => f()).ToList();
            try
            {
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, [.. feeds.Keys], values, [problem.Logits]);
                var logits = outputs[0].GetTensorDataAsSpan<float>();
                vocabulary = logits.Length / (rows.Count * length);
                for (var b = 0; b < rows.Count; b++)
                {
                    var row = rows[b];
                    var positions = new double[row.Ids.Length - row.AnswerStart][];
                    for (var i = 0; i < positions.Length; i++)
                    {
                        positions[i] = LogSoftmax(logits.Slice((b * length + row.AnswerStart - 1 + i) * vocabulary, vocabulary));
                    }

                    result.Add(row.Forget ? [[positions.Select((p, i) => p[row.Ids[row.AnswerStart + i]]).Sum()]] : [.. positions.Select(p => p.Select(Math.Exp).ToArray())]);
                }
            }
            finally
            {
                values.ForEach(v => v.Dispose());
            }
        }

        return (result, vocabulary);
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> row)
    {
        var max = double.NegativeInfinity;
        foreach (var v in row)
        {
            max = Math.Max(max, v);
        }

        var sum = 0.0;
        foreach (var v in row)
        {
            sum += Math.Exp(v - max);
        }

        var log = max + Math.Log(sum);
        var result = new double[row.Length];
        for (var i = 0; i < row.Length; i++)
        {
            result[i] = row[i] - log;
        }

        return result;
    }

    /// <summary>The sequences' token ids and attention mask, each padded to the longest (its length).</summary>
    private static (long[] Ids, long[] Mask, int Length) Padded(IReadOnlyList<TokenSequence> rows)
        => Probing.TextTower.Padded([.. rows.Select(r => (IReadOnlyList<int>)r.Ids)]);

    /// <summary>The steps' batches: every forget answer and the next <see cref="RetainBatch"/> retain sequences, with the loss's fed tensors.</summary>
    private sealed class Batches(TokenProblem problem, ForgetTerm term, IReadOnlyList<double[][]> reference, int vocabulary)
    {
        private readonly int[] _forget = [.. Enumerable.Range(0, problem.Sequences.Count).Where(i => problem.Sequences[i].Forget)];
        private readonly int[] _retain = [.. Enumerable.Range(0, problem.Sequences.Count).Where(i => !problem.Sequences[i].Forget)];

        public Dictionary<string, Func<OrtValue>> Feeds(int step, double klWeight)
        {
            var r = Math.Min(RetainBatch, _retain.Length);
            var picked = _forget.Concat(Enumerable.Range(0, r).Select(j => _retain[(step * r + j) % _retain.Length])).ToArray();
            var rows = picked.Select(i => problem.Sequences[i]).ToList();
            var (ids, mask, length) = Padded(rows);
            var (n, v) = (rows.Count, vocabulary);
            var answer = new double[n * length * v];
            var retainTarget = new double[n * length * v];
            var forgetWeight = new double[n];
            var sRef = new double[n];
            var retainPositions = rows.Where(s => !s.Forget).Sum(s => s.Ids.Length - s.AnswerStart);
            for (var b = 0; b < n; b++)
            {
                var (row, refs) = (rows[b], reference[picked[b]]);
                var answerLength = row.Ids.Length - row.AnswerStart;
                for (var i = 0; i < answerLength; i++)
                {
                    var at = (b * length + row.AnswerStart - 1 + i) * v;
                    if (row.Forget)
                    {
                        answer[at + row.Ids[row.AnswerStart + i]] = 1;
                    }
                    else
                    {
                        for (var k = 0; k < v; k++)
                        {
                            retainTarget[at + k] = klWeight / retainPositions * refs[i][k];
                        }
                    }
                }

                // npo weighs each answer once; ga and the hinge average over its tokens, so that long answers do not dominate.
                forgetWeight[b] = !row.Forget ? 0 : term == ForgetTerm.NegativePreference ? 1.0 / _forget.Length : 1.0 / (_forget.Length * answerLength);
                sRef[b] = row.Forget ? refs[0][0] : 0;
            }

            var feeds = problem.Feeds(ids, mask, n, length);
            feeds[TokenLoss.Answer] = () => OrtValue.CreateTensorValueFromMemory(answer, [n, length, v]);
            feeds[TokenLoss.RetainTarget] = () => OrtValue.CreateTensorValueFromMemory(retainTarget, [n, length, v]);
            feeds[TokenLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(forgetWeight, [n]);
            feeds[TokenLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(sRef, [n]);
            return feeds;
        }
    }
}
