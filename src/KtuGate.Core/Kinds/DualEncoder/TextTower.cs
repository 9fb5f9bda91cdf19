using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace KtuGate.Kinds.DualEncoder;

/// <summary>A text encoder (BERT WordPiece tokenizer and an ONNX model) that turns prompts into unit-length embeddings, each prompt embedded once per run.</summary>
/// <remarks>Owns its <see cref="InferenceSession"/>; dispose it.</remarks>
public sealed class TextTower : IDisposable
{
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly TextTowerSpec _spec;
    private readonly Dictionary<string, float[]> _cache = new(StringComparer.Ordinal);

    private TextTower(InferenceSession session, BertTokenizer tokenizer, TextTowerSpec spec, IReadOnlyList<string> externalFiles)
    {
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

    /// <summary>Opens the text tower a manifest names.</summary>
    /// <returns>The tower, or null with errors in <paramref name="diagnostics"/>.</returns>
    /// <remarks>The tower's external data and declared sizes are checked (<see cref="ModelFile.Load"/>) before ONNX Runtime reads any of it.</remarks>
    public static TextTower? Open(TextTowerSpec spec, ExecutionProviderPreference preference, DiagnosticBag diagnostics, ModelLimits? limits = null)
    {
        foreach (var file in new[] { spec.Model, spec.Vocabulary })
        {
            if (!File.Exists(file))
            {
                diagnostics.Add(DiagnosticCodes.TextTowerInvalid, spec.Location, $"'{file}' does not exist");
                return null;
            }
        }

        if (ContainedFile.NotRegularFile(spec.Vocabulary) is { } vocabularyProblem)
        {
            diagnostics.Add(DiagnosticCodes.TextTowerInvalid, spec.Location, $"'{spec.Vocabulary}': {vocabularyProblem}");
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
            diagnostics.Add(DiagnosticCodes.TextTowerInvalid, spec.Location, "ONNX Runtime cannot load it: " + e.Message.ReplaceLineEndings(" "));
            return null;
        }

        var missing = new[] { "input_ids", "attention_mask" }.Where(n => !session.InputMetadata.ContainsKey(n)).ToList();
        if (missing.Count > 0 || !session.OutputMetadata.TryGetValue(spec.Output, out var output) || output.Dimensions.Length is not (2 or 3))
        {
            diagnostics.Add(DiagnosticCodes.TextTowerInvalid, spec.Location,
                $"it must take input_ids and attention_mask (int64) and give '{spec.Output}' as [batch, tokens, dim] or [batch, dim]; it has inputs {string.Join(", ", session.InputMetadata.Keys)} and outputs {string.Join(", ", session.OutputMetadata.Keys)}");
            session.Dispose();
            return null;
        }

        return new TextTower(session, BertTokenizer.Create(spec.Vocabulary), spec, ExternalData.Files(checkedModel));
    }

    /// <summary>The tokens ids the tower feeds for a text, [CLS] and [SEP] included.</summary>
    public IReadOnlyList<int> Tokenize(string text)
    {
        var ids = _tokenizer.EncodeToIds(text);
        return ids.Count <= _spec.MaxTokens ? ids : [.. ids.Take(_spec.MaxTokens - 1), ids[^1]];
    }

    /// <summary>The unit-length embedding of a text (cached for the tower's lifetime).</summary>
    public float[] Embed(string text)
    {
        if (_cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        var ids = Tokenize(text).Select(i => (long)i).ToArray();
        var mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        long[] shape = [1, ids.Length];
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(ids, shape), OrtValue.CreateTensorValueFromMemory(mask, shape) };
        if (_session.InputMetadata.ContainsKey("token_type_ids"))
        {
            names.Add("token_type_ids");
            values.Add(OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape));
        }

        try
        {
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, names, values, [_spec.Output]);
            var data = outputs[0].GetTensorDataAsSpan<float>();
            var embedding = new float[Dimension];
            if (_session.OutputMetadata[_spec.Output].Dimensions.Length == 2)
            {
                data[..Dimension].CopyTo(embedding);
            }
            else if (_spec.Pooling == TextPooling.Cls)
            {
                data[..Dimension].CopyTo(embedding);
            }
            else
            {
                // Mean over tokens the attention mask keeps (all of them: one unpadded text per call).
                for (var t = 0; t < ids.Length; t++)
                {
                    for (var d = 0; d < Dimension; d++)
                    {
                        embedding[d] += data[t * Dimension + d] / ids.Length;
                    }
                }
            }

            if (_spec.Normalize)
            {
                VectorMath.Normalize(embedding);
            }

            return _cache[text] = embedding;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
