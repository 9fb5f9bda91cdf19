using KtuGate.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// Runs a decoder-only ONNX model exported with the Optimum signature: greedy generation with the key/value cache (or, for a model
/// without one, or to check the cache, by feeding the whole sequence each step) and teacher-forced answer log-likelihood.
/// </summary>
/// <remarks>The session is not owned (the gate's <c>LoadedModel</c> holds it, with any candidate's initializer overrides).</remarks>
public sealed class Decoder
{
    private readonly InferenceSession _session;
    private readonly CausalLmInputs _names;
    private readonly string _logits;
    private readonly bool _feedsPositions;
    private readonly int _heads;
    private readonly int _headSize;

    private Decoder(InferenceSession session, CausalLmInputs names, string logits, int layers, int heads, int headSize)
    {
        _session = session;
        _names = names;
        _logits = logits;
        Layers = layers;
        _heads = heads;
        _headSize = headSize;
        _feedsPositions = names.Positions is { } p && session.InputMetadata.ContainsKey(p);
    }

    /// <summary>The layers whose keys and values the model caches (0 for a model without cache inputs).</summary>
    public int Layers { get; }

    /// <summary>
    /// Checks an open decoder against the names its manifest gives (KTU2060 at <c>modelInputs</c>): every input of the model must be
    /// one the gate feeds, ids and mask int64, positions int64 where the model has them, and each cached layer's key and value in and
    /// out, float [batch, heads, sequence, head size] with fixed heads and head size.
    /// </summary>
    /// <returns>The decoder, or null with the problems in <paramref name="diagnostics"/>.</returns>
    public static Decoder? Open(InferenceSession session, CausalLmInputs names, string logits, SourceLocation? location, DiagnosticBag diagnostics)
    {
        var problems = new List<string>();
        var inputs = session.InputMetadata;
        string Inputs() => string.Join(", ", inputs.Select(i => $"{i.Key} ({i.Value.ElementDataType})"));

        void Int64(string? name, bool required)
        {
            if (name is null || !inputs.TryGetValue(name, out var meta))
            {
                if (required)
                {
                    problems.Add($"the model has no input '{name}'; its inputs are: {Inputs()}");
                }
            }
            else if (meta.ElementDataType != TensorElementType.Int64 || meta.Dimensions.Length != 2)
            {
                problems.Add($"input '{name}' is {meta.ElementDataType} of rank {meta.Dimensions.Length}; it must be int64 [batch, sequence]");
            }
        }

        Int64(names.Ids, true);
        Int64(names.Mask, true);
        Int64(names.Positions, false);

        var layers = 0;
        while (inputs.ContainsKey(CausalLmInputs.OfLayer(names.PastKey, layers)))
        {
            layers++;
        }

        var (heads, headSize) = (0, 0);
        for (var layer = 0; layer < layers; layer++)
        {
            foreach (var (name, outName) in new[] { (names.PastKey, names.PresentKey), (names.PastValue, names.PresentValue) })
            {
                var (input, output) = (CausalLmInputs.OfLayer(name, layer), CausalLmInputs.OfLayer(outName, layer));
                if (!inputs.TryGetValue(input, out var meta))
                {
                    problems.Add($"the model has cache input '{CausalLmInputs.OfLayer(names.PastKey, layer)}' but no '{input}'");
                    continue;
                }

                if (!session.OutputMetadata.ContainsKey(output))
                {
                    problems.Add($"the model takes '{input}' but has no output '{output}'; its outputs are: {string.Join(", ", session.OutputMetadata.Keys)}");
                }

                if (meta.ElementDataType != TensorElementType.Float || meta.Dimensions.Length != 4 || meta.Dimensions[1] <= 0 || meta.Dimensions[3] <= 0)
                {
                    problems.Add($"cache input '{input}' is {meta.ElementDataType} [{string.Join(", ", meta.Dimensions)}]; it must be float [batch, heads, past, head size] with fixed heads and head size");
                }
                else
                {
                    (heads, headSize) = (meta.Dimensions[1], meta.Dimensions[3]);
                }
            }
        }

        // Fail closed: an input the gate would not feed (a misspelt cache name, a token type) is a manifest that does not fit the model.
        var known = new HashSet<string>(StringComparer.Ordinal) { names.Ids, names.Mask };
        if (names.Positions is { } positions)
        {
            known.Add(positions);
        }

        for (var layer = 0; layer < layers; layer++)
        {
            known.Add(CausalLmInputs.OfLayer(names.PastKey, layer));
            known.Add(CausalLmInputs.OfLayer(names.PastValue, layer));
        }

        foreach (var unfed in inputs.Keys.Where(k => !known.Contains(k)))
        {
            problems.Add($"the model has input '{unfed}', which the manifest's modelInputs does not name (ids '{names.Ids}', mask '{names.Mask}', positions '{names.Positions}', cache '{names.PastKey}' / '{names.PastValue}')");
        }

        foreach (var problem in problems)
        {
            diagnostics.Add(DiagnosticCodes.LanguageModelInvalid, location, problem);
        }

        return problems.Count == 0 ? new Decoder(session, names, logits, layers, heads, headSize) : null;
    }

    /// <summary>Greedy generation after <paramref name="prompt"/>: at most <paramref name="maxNewTokens"/> ids, stopping before <paramref name="stop"/>.</summary>
    /// <param name="prompt">The prompt's ids (BOS included where the manifest says).</param>
    /// <param name="maxNewTokens">The most ids generated.</param>
    /// <param name="stop">The id that ends generation (EOS), or null.</param>
    /// <param name="useCache">Feed each new id alone with the cache the model returned (true), or the whole sequence each step with an empty cache.</param>
    public IReadOnlyList<int> Generate(IReadOnlyList<int> prompt, int maxNewTokens, int? stop, bool useCache = true)
    {
        var sequence = new List<int>(prompt);
        var generated = new List<int>();
        float[][]? cache = null;
        long[]? cacheShape = null;
        for (var step = 0; step < maxNewTokens; step++)
        {
            var cached = useCache && Layers > 0 && cache is not null;
            var past = cached ? sequence.Count - 1 : 0;
            var (logits, present, presentShape) = Run(sequence.Skip(past).ToList(), past, cached ? cache : null, cached ? cacheShape : null, wantCache: useCache && Layers > 0);
            (cache, cacheShape) = (present, presentShape);
            var next = ArgMax(logits[^1]);
            if (next == stop)
            {
                break;
            }

            generated.Add(next);
            sequence.Add(next);
        }

        return generated;
    }

    /// <summary>The answer's mean log-probability per token, teacher-forced after the prompt (length-normalised, so answers of any length compare).</summary>
    public double AnswerLogLikelihood(IReadOnlyList<int> prompt, IReadOnlyList<int> answer)
    {
        if (answer.Count == 0)
        {
            return 0;
        }

        var (logits, _, _) = Run([.. prompt, .. answer], 0, null, null, wantCache: false);
        var sum = 0.0;
        for (var i = 0; i < answer.Count; i++)
        {
            sum += LogSoftmax(logits[prompt.Count - 1 + i], answer[i]);
        }

        return sum / answer.Count;
    }

    /// <summary>One run over <paramref name="ids"/> after <paramref name="past"/> cached positions: each new position's logits, and the cache out.</summary>
    private (float[][] Logits, float[][]? Present, long[]? PresentShape) Run(IReadOnlyList<int> ids, int past, float[][]? cache, long[]? cacheShape, bool wantCache)
    {
        var n = ids.Count;
        var names = new List<string> { _names.Ids, _names.Mask };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), [1, n]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, past + n).ToArray(), [1, past + n]),
        };
        if (_feedsPositions)
        {
            names.Add(_names.Positions!);
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range(past, n).Select(p => (long)p).ToArray(), [1, n]));
        }

        long[] empty = [1, _heads, 0, _headSize];
        for (var layer = 0; layer < Layers; layer++)
        {
            names.Add(CausalLmInputs.OfLayer(_names.PastKey, layer));
            values.Add(OrtValue.CreateTensorValueFromMemory(cache?[2 * layer] ?? [], cacheShape ?? empty));
            names.Add(CausalLmInputs.OfLayer(_names.PastValue, layer));
            values.Add(OrtValue.CreateTensorValueFromMemory(cache?[2 * layer + 1] ?? [], cacheShape ?? empty));
        }

        List<string> outputs = [_logits];
        if (wantCache)
        {
            for (var layer = 0; layer < Layers; layer++)
            {
                outputs.Add(CausalLmInputs.OfLayer(_names.PresentKey, layer));
                outputs.Add(CausalLmInputs.OfLayer(_names.PresentValue, layer));
            }
        }

        try
        {
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, names, values, outputs);
            var logits = results[0];
            var shape = logits.GetTensorTypeAndShape().Shape;
            if (shape.Length != 3 || shape[0] != 1 || shape[1] != n)
            {
                throw new InvalidDataException($"The decoder's '{_logits}' is [{string.Join(", ", shape)}] for {n} new ids; expected [1, {n}, vocabulary].");
            }

            var width = (int)shape[2];
            var data = logits.GetTensorDataAsSpan<float>();
            var rows = new float[n][];
            for (var i = 0; i < n; i++)
            {
                rows[i] = data.Slice(i * width, width).ToArray();
            }

            if (!wantCache)
            {
                return (rows, null, null);
            }

            var present = new float[2 * Layers][];
            for (var i = 0; i < present.Length; i++)
            {
                present[i] = results[i + 1].GetTensorDataAsSpan<float>().ToArray();
            }

            return (rows, present, results[1].GetTensorTypeAndShape().Shape);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>The index of the largest logit; the first of equals, so that generation is deterministic.</summary>
    private static int ArgMax(float[] row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static double LogSoftmax(float[] row, int index)
    {
        var max = row.Max();
        var sum = row.Sum(v => Math.Exp(v - max));
        return row[index] - max - Math.Log(sum);
    }
}
