using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace KtuGate.Probing;

/// <summary>A text encoder (BERT WordPiece tokenizer and an ONNX model) that turns texts into embeddings, each text embedded once per run.</summary>
/// <remarks>Shared by the kinds that embed text (a dual encoder's text tower, a text-embedding model). Owns its <see cref="InferenceSession"/>; dispose it.</remarks>
public sealed class TextTower : IDisposable
{
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly TextEncoderSpec _spec;
    private readonly Dictionary<string, float[]> _cache = new(StringComparer.Ordinal);
    private readonly bool _ownsSession;

    private TextTower(InferenceSession session, BertTokenizer tokenizer, TextEncoderSpec spec, IReadOnlyList<string> externalFiles, bool ownsSession = true)
    {
        _ownsSession = ownsSession;
        ExternalFiles = externalFiles;
        _session = session;
        _tokenizer = tokenizer;
        _spec = spec;
        Dimension = session.OutputMetadata[spec.Output].Dimensions[^1];
    }

    /// <summary>The external-data files the tower's model refers to, relative to its folder.</summary>
    public IReadOnlyList<string> ExternalFiles { get; }

    /// <summary>The embedding size.</summary>
    public int Dimension { get; }

    /// <summary>How many distinct prompts have been run through the model.</summary>
    public int Embedded => _cache.Count;

    /// <summary>Opens the text encoder a manifest names.</summary>
    /// <param name="spec">The encoder.</param>
    /// <param name="preference">Where ONNX Runtime runs it.</param>
    /// <param name="diagnostics">Receives its problems.</param>
    /// <param name="limits">What the model may declare.</param>
    /// <param name="problem">The code its problems are reported with (a dual encoder's KTU2017 by default).</param>
    /// <returns>The encoder, or null with errors in <paramref name="diagnostics"/>.</returns>
    /// <remarks>The tower's external data and declared sizes are checked (<see cref="ModelFile.Load"/>) before ONNX Runtime reads any of it.</remarks>
    public static TextTower? Open(TextEncoderSpec spec, ExecutionProviderPreference preference, DiagnosticBag diagnostics, ModelLimits? limits = null, DiagnosticDescriptor? problem = null)
    {
        problem ??= DiagnosticCodes.TextTowerInvalid;
        foreach (var file in new[] { spec.Model, spec.Vocabulary })
        {
            if (!File.Exists(file))
            {
                diagnostics.Add(problem, spec.Location, $"'{file}' does not exist");
                return null;
            }
        }

        if (ContainedFile.NotRegularFile(spec.Vocabulary) is { } vocabularyProblem)
        {
            diagnostics.Add(problem, spec.Location, $"'{spec.Vocabulary}': {vocabularyProblem}");
            return null;
        }

        if (ModelFile.Load(spec.Model, null, limits ?? ModelLimits.Default, diagnostics) is not { } checkedModel)
        {
            return null;
        }

        using var options = SessionFactory.CreateOptions(preference, new DiagnosticBag(), out _);
        if (options is null)
        {
            return null;
        }

        InferenceSession session;
        try
        {
            session = new InferenceSession(spec.Model, options);
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(problem, spec.Location, "ONNX Runtime cannot load it: " + e.Message.ReplaceLineEndings(" "));
            return null;
        }

        var missing = new[] { spec.Inputs.Ids, spec.Inputs.Mask }.Where(n => !session.InputMetadata.ContainsKey(n)).ToList();
        if (missing.Count > 0 || !session.OutputMetadata.TryGetValue(spec.Output, out var output) || output.Dimensions.Length is not (2 or 3))
        {
            diagnostics.Add(problem, spec.Location,
                $"it must take {spec.Inputs.Ids} and {spec.Inputs.Mask} (int64) and give '{spec.Output}' as [batch, tokens, dim] or [batch, dim]; it has inputs {string.Join(", ", session.InputMetadata.Keys)} and outputs {string.Join(", ", session.OutputMetadata.Keys)}");
            session.Dispose();
            return null;
        }

        return new TextTower(session, BertTokenizer.Create(spec.Vocabulary), spec, ExternalData.Files(checkedModel));
    }

    /// <summary>
    /// A tower over a session someone else opened and owns (a model the gate opened for one pass, weights overridden or not), with the
    /// tokenizer of <paramref name="like"/>; disposing it leaves the session open.
    /// </summary>
    public static TextTower Over(InferenceSession session, TextTower like) => new(session, like._tokenizer, like._spec, like.ExternalFiles, ownsSession: false);

    /// <summary>The tokens ids the tower feeds for a text, [CLS] and [SEP] included.</summary>
    public IReadOnlyList<int> Tokenize(string text)
    {
        var ids = _tokenizer.EncodeToIds(text);
        return ids.Count <= _spec.MaxTokens ? ids : [.. ids.Take(_spec.MaxTokens - 1), ids[^1]];
    }

    /// <summary>Embeds the texts not yet cached in padded batches (the attention mask keeps padding out of the pooling), so that many short texts cost few runs.</summary>
    /// <param name="texts">The texts; those already embedded are skipped.</param>
    /// <param name="batchSize">Texts per run.</param>
    public void Prefetch(IEnumerable<string> texts, int batchSize = 64) => Run(_session, texts.Where(t => !_cache.ContainsKey(t)), batchSize, null);

    /// <summary>
    /// Embeds the texts not in <paramref name="states"/> as <see cref="Prefetch"/> does, but with <paramref name="session"/>: the tower's
    /// model with <paramref name="tensor"/> (token states [batch, tokens, width]) as one more output. Each text's rows there, those of
    /// the tokens the attention mask kept, go into <paramref name="states"/>; its embedding into the tower's cache.
    /// </summary>
    public void RecordTokenStates(InferenceSession session, IEnumerable<string> texts, string tensor, Dictionary<string, float[]> states, int batchSize = 64)
        => Run(session, texts.Where(t => !states.ContainsKey(t)), batchSize, (tensor, states));

    private void Run(InferenceSession session, IEnumerable<string> texts, int batchSize, (string Tensor, Dictionary<string, float[]> States)? record)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var pending = texts.Distinct(StringComparer.Ordinal).ToList();
        var pooled = session.OutputMetadata[_spec.Output].Dimensions.Length == 2;
        for (var start = 0; start < pending.Count; start += batchSize)
        {
            var batch = pending.GetRange(start, Math.Min(batchSize, pending.Count - start));
            var tokenized = batch.Select(Tokenize).ToList();
            var (outputs, width) = RunPadded(session, _spec, tokenized, record is { } r ? [_spec.Output, r.Tensor] : [_spec.Output]);
            using (outputs)
            {
                var data = outputs[0].GetTensorDataAsSpan<float>();
                for (var i = 0; i < batch.Count; i++)
                {
                    _cache[batch[i]] = Pool(pooled ? data.Slice(i * Dimension, Dimension) : data.Slice(i * width * Dimension, width * Dimension), pooled ? 1 : tokenized[i].Count);
                }

                if (record is { } kept)
                {
                    var states = outputs[1].GetTensorDataAsSpan<float>();
                    var rowWidth = states.Length / (batch.Count * width);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        kept.States[batch[i]] = states.Slice(i * width * rowWidth, tokenized[i].Count * rowWidth).ToArray();
                    }
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="session"/> on token id lists as one batch padded to the longest (<see cref="Padded"/>; token types zero where
    /// the session takes them): the outputs named, for the caller to dispose, and the width the batch was padded to.
    /// </summary>
    public static (IDisposableReadOnlyCollection<OrtValue> Outputs, int Width) RunPadded(InferenceSession session, TextEncoderSpec spec,
        IReadOnlyList<IReadOnlyList<int>> tokenized, IReadOnlyList<string> outputs)
    {
        var (ids, mask, width) = Padded(tokenized);
        long[] shape = [tokenized.Count, width];
        var names = new List<string> { spec.Inputs.Ids, spec.Inputs.Mask };
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(ids, shape), OrtValue.CreateTensorValueFromMemory(mask, shape) };
        if (session.InputMetadata.ContainsKey(spec.Inputs.TokenTypes))
        {
            names.Add(spec.Inputs.TokenTypes);
            values.Add(OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape));
        }

        try
        {
            using var runOptions = new RunOptions();
            return (session.Run(runOptions, names, values, outputs), width);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <summary>Token id lists as one batch: ids and attention mask [texts, width], each row padded with zeros to the longest (width).</summary>
    public static (long[] Ids, long[] Mask, int Width) Padded(IReadOnlyList<IReadOnlyList<int>> tokenized)
    {
        var width = tokenized.Count == 0 ? 0 : tokenized.Max(t => t.Count);
        var ids = new long[tokenized.Count * width];
        var mask = new long[tokenized.Count * width];
        for (var i = 0; i < tokenized.Count; i++)
        {
            for (var t = 0; t < tokenized[i].Count; t++)
            {
                (ids[i * width + t], mask[i * width + t]) = (tokenized[i][t], 1);
            }
        }

        return (ids, mask, width);
    }

    /// <summary>One text's embedding from its rows: a pooled row, or its first <paramref name="tokens"/> token states (those the mask kept).</summary>
    private float[] Pool(ReadOnlySpan<float> rows, int tokens)
    {
        var embedding = new float[Dimension];
        if (rows.Length == Dimension || _spec.Pooling == TextPooling.Cls)
        {
            rows[..Dimension].CopyTo(embedding);
        }
        else
        {
            for (var t = 0; t < tokens; t++)
            {
                for (var d = 0; d < Dimension; d++)
                {
                    embedding[d] += rows[t * Dimension + d] / tokens;
                }
            }
        }

        if (_spec.Normalize)
        {
            VectorMath.Normalize(embedding);
        }

        return embedding;
    }

    /// <summary>The unit-length embedding of a text (cached for the tower's lifetime).</summary>
    public float[] Embed(string text)
    {
        if (!_cache.TryGetValue(text, out var embedding))
        {
            Prefetch([text], 1);
            embedding = _cache[text];
        }

        return embedding;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsSession)
        {
            _session.Dispose();
        }
    }
}
