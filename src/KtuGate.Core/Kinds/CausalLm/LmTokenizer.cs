using KtuGate.Diagnostics;
using KtuGate.Onnx;
using Microsoft.ML.Tokenizers;

namespace KtuGate.Kinds.CausalLm;

/// <summary>A decoder's tokenizer as its manifest names it: a SentencePiece model read by Microsoft.ML.Tokenizers, with its BOS/EOS use.</summary>
public sealed class LmTokenizer
{
    /// <summary>The largest tokenizer model read: 64 MiB (Llama's is 0.5 MB, the sample's 0.25 MB).</summary>
    public const long MaxFileBytes = 64 * 1024 * 1024;

    private readonly SentencePieceTokenizer _tokenizer;
    private readonly CausalLmTokenizer _spec;

    private LmTokenizer(SentencePieceTokenizer tokenizer, CausalLmTokenizer spec)
    {
        _tokenizer = tokenizer;
        _spec = spec;
    }

    /// <summary>The end-of-sentence id, where generation stops (when the manifest says so).</summary>
    public int Eos => _tokenizer.EndOfSentenceId;

    /// <summary>Whether generation stops at <see cref="Eos"/>.</summary>
    public bool StopAtEos => _spec.StopAtEos;

    /// <summary>The vocabulary's size.</summary>
    public int VocabularySize => _tokenizer.Vocabulary.Count;

    /// <summary>Reads the tokenizer model a manifest names; problems are KTU2060 at <paramref name="location"/>.</summary>
    /// <remarks>Untrusted input: the model must be a regular file of at most <see cref="MaxFileBytes"/>, and one that does not parse is an error, not a crash.</remarks>
    public static LmTokenizer? Open(CausalLmTokenizer spec, SourceLocation location, DiagnosticBag diagnostics)
    {
        try
        {
            using var stream = ContainedFile.OpenRegular(spec.Model, MaxFileBytes, out var problem);
            if (stream is null)
            {
                diagnostics.Add(DiagnosticCodes.LanguageModelInvalid, location, $"the tokenizer model '{spec.Model}' cannot be read: {problem}");
                return null;
            }

            // Ids are added by the decoder where the manifest says, never by the tokenizer behind its back.
            return new LmTokenizer(SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false), spec);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticCodes.LanguageModelInvalid, location, $"the tokenizer model '{spec.Model}' cannot be read: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or FormatException
            or Google.Protobuf.InvalidProtocolBufferException)
        {
            diagnostics.Add(DiagnosticCodes.LanguageModelInvalid, location, $"the tokenizer model '{spec.Model}' is not a SentencePiece model Microsoft.ML.Tokenizers reads: {e.Message}");
            return null;
        }
    }

    /// <summary>The ids of <paramref name="text"/>, without BOS or EOS.</summary>
    public IReadOnlyList<int> Encode(string text) => _tokenizer.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false);

    /// <summary>A prompt's ids: BOS first where the manifest says so.</summary>
    public int[] Prompt(string prompt) => _spec.AddBos ? [_tokenizer.BeginningOfSentenceId, .. Encode(prompt)] : [.. Encode(prompt)];

    /// <summary>
    /// The ids an answer adds after its prompt: the tail of the prompt and answer encoded together where the prompt's own ids are its
    /// head (they are whenever the prompt ends at a word boundary), else the answer encoded alone.
    /// </summary>
    public int[] Answer(string prompt, string answer)
    {
        var head = Encode(prompt);
        var whole = Encode(prompt + " " + answer);
        return whole.Count > head.Count && whole.Take(head.Count).SequenceEqual(head) ? [.. whole.Skip(head.Count)] : [.. Encode(answer)];
    }

    /// <summary>The text of generated ids.</summary>
    public string Decode(IEnumerable<int> ids) => _tokenizer.Decode(ids);
}
