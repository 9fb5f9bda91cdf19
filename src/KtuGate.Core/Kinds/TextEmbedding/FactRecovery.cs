using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// A text encoder's recovery profile: at the input of each transformer block and at the encoder's output, can a linear probe still read a
/// forgotten fact's object out of the subject's wordings? The same probe as the images' (<see cref="LinearProbe"/>), before and after the edit.
/// </summary>
/// <remarks>
/// For a forgotten fact (the Eiffel Tower → Paris), a logistic probe is trained to tell the wordings of the relation's other subjects whose
/// object is the forgotten one (the Louvre → Paris) from those of its other facts, each wording's token states mean-pooled at the depth;
/// the rate is how many of the forgotten fact's wordings (templates and paraphrases) it reads as that object (recovered).
/// A clause's facts add up. A high rate after the edit says the fact is still in the encoder at that depth, even where the ranking no
/// longer shows it.
/// </remarks>
internal static class FactRecovery
{
    /// <summary>What the probe tells the forgotten object's wordings from (the rates are of held-out wordings read as the object).</summary>
    public const string Against = "other objects";

    /// <summary>
    /// The depths probed, in the model's order: each layer normalisation's output that feeds three or more matrix products (a block's
    /// query, key and value: its input), and the encoder's output; every layer normalisation's output where none feeds three.
    /// </summary>
    public static IReadOnlyList<string> Depths(ModelProto model, string output)
    {
        var nodes = model.Graph.Node.ToList();
        var producers = nodes.SelectMany(n => n.Output.Select(o => (o, n))).GroupBy(p => p.o).ToDictionary(g => g.Key, g => g.First().n);
        var normalised = nodes.Where(n => n.OpType == "LayerNormalization").Select(n => n.Output[0])
            .Concat(nodes.Where(n => IsDecomposedNorm(n, producers)).Select(n => n.Output[0])).ToHashSet(StringComparer.Ordinal);
        var matMulReaders = nodes.Where(n => n.OpType is "MatMul" or "Gemm").SelectMany(n => n.Input).GroupBy(i => i).ToDictionary(g => g.Key, g => g.Count());
        var blockInputs = normalised.Where(t => matMulReaders.GetValueOrDefault(t) >= 3).ToHashSet(StringComparer.Ordinal);
        var chosen = blockInputs.Count > 0 ? blockInputs : normalised;
        chosen.Add(output);
        return [.. nodes.SelectMany(n => n.Output).Where(chosen.Contains).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The profile of each forget clause (its policy, concept and fact files), the original's against the model with <paramref name="weights"/>;
    /// null where the encoder does not run (the profile is a record for the auditor, not a threshold).
    /// </summary>
    public static List<RecoveryDepth>? Profile(TextEncoderSpec spec, TextTower tokenizer, FactSet facts, ModelProto model, IReadOnlyList<InitializerOverride> weights,
        IReadOnlyList<(string Policy, string Concept, IReadOnlyList<string> Files)> clauses, string folder)
    {
        var depths = Depths(model, spec.Output);
        var forgotten = clauses.Select(c => (c.Policy, c.Concept, Facts: facts.ReadOfRelations(c.Files, new DiagnosticBag()))).ToList();
        var relations = forgotten.SelectMany(c => c.Facts.Select(f => f.Relation)).ToHashSet(StringComparer.Ordinal);
        var all = facts.Facts.Concat(forgotten.SelectMany(c => c.Facts)).Where(f => relations.Contains(f.Relation)).DistinctBy(f => (f.Relation, f.Subject, f.Object)).ToList();

        // Each record's wordings (every name in every template and paraphrase), worded once however often the probes ask.
        var wordings = new Dictionary<FactRecord, List<string>>();
        List<string> Wordings(FactRecord fact)
            => wordings.TryGetValue(fact, out var known) ? known : wordings[fact] = [.. facts.Relations[fact.Relation].SubjectTexts(fact, paraphrases: true)];

        // The forget files' own records too: one whose names differ from the fact set's record of the same fact is probed with its own.
        var texts = all.Concat(forgotten.SelectMany(c => c.Facts)).SelectMany(Wordings).Distinct(StringComparer.Ordinal).ToList();
        Dictionary<string, Dictionary<string, float[]>> before, after;
        try
        {
            before = Pooled(spec, tokenizer, model, depths, texts, folder);
            after = Pooled(spec, tokenizer, ModelProto.Parser.ParseFrom(OnnxGraph.WithInitializers(model, weights)), depths, texts, folder);
        }
        catch (OnnxRuntimeException)
        {
            return null;
        }

        RateInfo Score(Dictionary<string, float[]> pooled, List<FactRecord> clauseFacts)
        {
            var (successes, n) = (0, 0);
            foreach (var fact in clauseFacts)
            {
                // Trained on the relation's other subjects' facts, tested on every wording of the forgotten fact: trained on some of its
                // own wordings, the probe would learn the subject's name (which the edit keeps), not where it places the subject.
                var held = Wordings(fact).ToHashSet(StringComparer.Ordinal);
                List<float[]> Of(Func<FactRecord, bool> which) => [.. all.Where(f => f.Relation == fact.Relation && f.Subject != fact.Subject && which(f)).SelectMany(Wordings)
                    .Distinct(StringComparer.Ordinal).Where(t => !held.Contains(t)).Select(t => pooled[t])];
                var score = LinearProbe.Recovered(Of(f => f.Object == fact.Object), Of(f => f.Object != fact.Object), [.. held.Select(t => pooled[t])]);
                (successes, n) = (successes + score.Successes, n + score.N);
            }

            return ReportAssembly.Rate(new Measurements.Proportion(successes, n))!;
        }

        return [.. from clause in forgotten
                   where clause.Facts.Count > 0
                   from depth in depths
                   select new RecoveryDepth(clause.Policy, clause.Concept, depth, SiteInput: false, Against, Score(before[depth], clause.Facts), Score(after[depth], clause.Facts))];
    }

    /// <summary>Whether <paramref name="node"/> ends a layer normalisation written out: Add(Mul(Div(Sub(x, ReduceMean(x)), ...), γ), β).</summary>
    private static bool IsDecomposedNorm(NodeProto node, Dictionary<string, NodeProto> producers)
    {
        NodeProto? Producer(NodeProto n, string op) => n.Input.Select(i => producers.GetValueOrDefault(i)).FirstOrDefault(p => p?.OpType == op);
        return node.OpType == "Add" && Producer(node, "Mul") is { } scale && Producer(scale, "Div") is { } divided && Producer(divided, "Sub") is { } centred
            && centred.Input.Count == 2 && producers.GetValueOrDefault(centred.Input[1]) is { OpType: "ReduceMean" } mean && mean.Input[0] == centred.Input[0];
    }

    /// <summary>Each text's token states at each depth, mean-pooled over the tokens its attention mask keeps, as the model gives them.</summary>
    private static Dictionary<string, Dictionary<string, float[]>> Pooled(TextEncoderSpec spec, TextTower tokenizer, ModelProto model, IReadOnlyList<string> depths, IReadOnlyList<string> texts, string folder)
    {
        _ = SessionFactory.OnnxRuntimeVersion;
        var path = Path.Combine(folder, $"ktu-recovery.{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, OnnxGraph.WithOutputs(model, depths));
        try
        {
            using var session = new InferenceSession(path);
            var result = depths.ToDictionary(d => d, _ => new Dictionary<string, float[]>(StringComparer.Ordinal), StringComparer.Ordinal);
            var sorted = texts.Select(t => (Text: t, Tokens: tokenizer.Tokenize(t))).OrderBy(t => t.Tokens.Count).ToList();
            const int block = 64;
            for (var start = 0; start < sorted.Count; start += block)
            {
                var batch = sorted.GetRange(start, Math.Min(block, sorted.Count - start));
                var (outputs, width) = TextTower.RunPadded(session, spec, [.. batch.Select(t => t.Tokens)], depths);
                using (outputs)
                {
                    for (var d = 0; d < depths.Count; d++)
                    {
                        // Token states [batch, tokens, dim], or an output already pooled [batch, dim] (one "token" per text).
                        var states = outputs[d].GetTensorDataAsSpan<float>();
                        var perText = outputs[d].GetTensorTypeAndShape().Shape.Length == 3 ? width : 1;
                        var dim = states.Length / (batch.Count * perText);
                        for (var i = 0; i < batch.Count; i++)
                        {
                            var pooled = new float[dim];
                            var count = Math.Min(batch[i].Tokens.Count, perText);
                            for (var t = 0; t < count; t++)
                            {
                                System.Numerics.Tensors.TensorPrimitives.Add(pooled, states.Slice((i * perText + t) * dim, dim), pooled);
                            }

                            System.Numerics.Tensors.TensorPrimitives.Divide(pooled, count, pooled);
                            result[depths[d]][batch[i].Text] = pooled;
                        }
                    }
                }
            }

            return result;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
