using KtuGate.Diagnostics;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// How a causal language model is unlearned: the registry's gradient methods, as token losses over its answers (<see cref="CausalLmEdit"/>),
/// trained on the decoder as exported (an empty past fed to its cache inputs), over every float initializer unless a scope says otherwise.
/// </summary>
/// <remarks>
/// Forget: the fine question and answer of each record in the forget clauses' exemplar files. Retain: the next-token distributions of the
/// original at the answers (and EOS) of every other record the run knows (the retained concepts' and general files, and the manifest's
/// question/answer files, whose subjects are not forgotten), fine and coarse, and of the forgotten subjects' coarse questions, whose
/// answers must stay.
/// </remarks>
internal sealed class CausalLmUnlearning(CausalLmSection section, LmTokenizer tokenizer, IReadOnlyList<QaRecord> records, string logits) : KindUnlearning
{
    /// <inheritdoc/>
    public override IReadOnlyList<IReadOnlyList<string>> DefaultScopes => [[EditScope.All]];

    /// <inheritdoc/>
    public override string? CannotRun(UnlearningMethod method)
        => method is GradientMethod ? null
            : $"it edits one linear layer's class scores in closed form, and a decoder's answers are token sequences (the gradient methods {string.Join(", ", UnlearningMethods.All.OfType<GradientMethod>().Select(m => m.Name))} train its token losses)";

    /// <inheritdoc/>
    public override IReadOnlyList<DeepCandidate>? Candidates(GradientMethod method, KindUnlearningProblem problem, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var forget = problem.Forget.SelectMany(f => QaSet.Read(f, diagnostics)).ToList();
        var retained = problem.Retain.SelectMany(f => QaSet.Read(f, diagnostics)).ToList();
        if (diagnostics.HasErrors)
        {
            return null;
        }

        var forgotten = forget.Select(r => r.Subject).ToHashSet(StringComparer.Ordinal);
        var forgetPairs = forget.Select(r => r.Fine).ToHashSet();
        var keptPairs = retained.Concat(records.Where(r => !forgotten.Contains(r.Subject))).SelectMany(r => new[] { r.Fine, r.Coarse })
            .Concat(forget.Select(r => r.Coarse)).OfType<QaPair>().Where(p => !forgetPairs.Contains(p)).Distinct();
        List<TokenSequence> sequences = [.. forgetPairs.Select(p => Sequence(p, forget: true)), .. keptPairs.Select(p => Sequence(p, forget: false))];
        var feeds = Feeds(problem.Model);
        return CausalLmEdit.Candidates(method, new TokenProblem(problem, sequences, feeds, logits), diagnostics, location);
    }

    /// <summary>The prompt and the answer's ids; a kept answer ends with EOS where generation stops there, so that the edit keeps it stopping.</summary>
    private TokenSequence Sequence(QaPair pair, bool forget)
    {
        var prompt = section.PromptFor(pair.Question);
        var ids = tokenizer.Prompt(prompt);
        int[] answer = [.. tokenizer.Answer(prompt, pair.Answer), .. forget || !tokenizer.StopAtEos ? [] : new[] { tokenizer.Eos }];
        return new TokenSequence([.. ids, .. answer], ids.Length, forget);
    }

    /// <summary>The decoder's inputs for a batch: ids, mask, positions where it takes them, and an empty past for each cached layer.</summary>
    private DecoderFeeds Feeds(global::Onnx.ModelProto model)
    {
        var inputs = model.Graph.Input.ToDictionary(i => i.Name);
        var names = section.Inputs;
        var positions = names.Positions is { } p && inputs.ContainsKey(p) ? p : null;
        var past = new List<(string Name, long Heads, long HeadSize)>();
        for (var layer = 0; inputs.ContainsKey(CausalLmInputs.OfLayer(names.PastKey, layer)); layer++)
        {
            foreach (var name in new[] { CausalLmInputs.OfLayer(names.PastKey, layer), CausalLmInputs.OfLayer(names.PastValue, layer) })
            {
                var dims = inputs[name].Type.TensorType.Shape.Dim;
                past.Add((name, dims[1].DimValue, dims[3].DimValue));
            }
        }

        return (ids, mask, batch, length) =>
        {
            var feeds = new Dictionary<string, Func<OrtValue>>
            {
                [names.Ids] = () => OrtValue.CreateTensorValueFromMemory(ids, [batch, length]),
                [names.Mask] = () => OrtValue.CreateTensorValueFromMemory(mask, [batch, length]),
            };
            if (positions is not null)
            {
                var at = Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(0, length).Select(t => (long)t)).ToArray();
                feeds[positions] = () => OrtValue.CreateTensorValueFromMemory(at, [batch, length]);
            }

            foreach (var (name, heads, headSize) in past)
            {
                feeds[name] = () => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, heads, 0, headSize]);
            }

            return feeds;
        };
    }
}
