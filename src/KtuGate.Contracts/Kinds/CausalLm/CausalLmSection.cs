using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Models;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// A causal language model's manifest section: its tokenizer, the decoder's input and cache names, how a question becomes a prompt,
/// how an answer is generated and matched, and the question/answer files whose subjects are the model's labels. The artifact is
/// the decoder itself (exported the way Hugging Face Optimum exports one: ids, mask, positions and the key/value cache in; logits
/// and the new cache out).
/// </summary>
/// <param name="Tokenizer">The tokenizer: its type (today <c>sentencepiece</c>), model file and BOS/EOS use.</param>
/// <param name="Inputs">The decoder's input and output names.</param>
/// <param name="Prompt">The prompt a question is put in, with <c>{question}</c> once (a chat template reduced to its one turn).</param>
/// <param name="MaxNewTokens">The most tokens greedy generation adds to a prompt.</param>
/// <param name="Match">How a generated answer is compared with the record's answer.</param>
/// <param name="QaFiles">The question/answer files (JSON Lines) whose subjects are the model's labels (full paths).</param>
/// <param name="Location">Where the manifest's top object is.</param>
public sealed record CausalLmSection(
    CausalLmTokenizer Tokenizer, CausalLmInputs Inputs, string Prompt, int MaxNewTokens, AnswerMatch Match, IReadOnlyList<string> QaFiles,
    SourceLocation Location) : ManifestSection
{
    private static readonly string[] s_tokenizers = ["sentencepiece"];
    private static readonly string[] s_matches = ["exact", "contains", "rouge-l"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> InputFiles => RetainModel is null ? [Tokenizer.Model, .. QaFiles] : [Tokenizer.Model, .. QaFiles, RetainModel];

    /// <summary>
    /// The retain model (a full path): the decoder trained without the forget set, against which the report measures TOFU's forget quality;
    /// null where the manifest's <c>forgetQuality</c> names none.
    /// </summary>
    public string? RetainModel { get; init; }

    /// <summary>Where the manifest names <see cref="RetainModel"/> (its <c>forgetQuality.retainModel</c> value), for the errors about it.</summary>
    public SourceLocation? RetainModelLocation { get; init; }

    /// <summary>Reads <c>tokenizer</c> and <c>qa</c> (required), <c>modelInputs</c>, <c>prompt</c>, <c>generation</c> and <c>forgetQuality</c>.</summary>
    /// <remarks>A decoder takes no image: its manifest has no <c>input</c>, <c>preprocess</c>, <c>labels</c> or <c>coarse</c>.</remarks>
    internal static ManifestSectionReader Reader { get; } = new(ModelKind.CausalLm, ["tokenizer", "modelInputs", "prompt", "generation", "qa", "forgetQuality"], Read,
        [("tokenizer", "model"), ("qa", "files"), ("forgetQuality", "retainModel")])
    {
        FeedsImages = false,
    };

    /// <summary>The least ROUGE-L recall of the answer's words that counts as giving it, where <see cref="Match"/> is <see cref="AnswerMatch.RougeL"/>.</summary>
    public double MinRecall { get; init; } = 0.5;

    /// <summary>The prompt for <paramref name="question"/>.</summary>
    public string PromptFor(string question) => Prompt.Replace("{question}", question, StringComparison.Ordinal);

    private static CausalLmSection? Read(ObjectReader top, string manifestPath)
    {
        // Relative to the manifest, like every path a manifest or policy names.
        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        string Full(string path) => Path.GetFullPath(Path.Combine(folder, path));

        var tokenizer = top.Object("tokenizer", "'tokenizer'", true, "type", "model", "addBos", "eos");
        var type = tokenizer?.OneOf("type", s_tokenizers, required: true);
        var model = tokenizer?.String("model", required: true);
        var addBos = tokenizer?.Boolean("addBos") ?? true;
        var stopAtEos = tokenizer?.Boolean("eos") ?? true;

        var inputs = CausalLmInputs.Optimum with { Location = top.Location };
        if (top.Object("modelInputs", "'modelInputs'", false, "ids", "mask", "positions", "pastKey", "pastValue", "presentKey", "presentValue") is { } names)
        {
            // An empty positions name says the decoder takes none (it derives positions from the mask itself).
            var positions = names.Get("positions") is JsonTreeString { Value.Length: 0 } ? null : names.String("positions") ?? inputs.Positions;
            inputs = new CausalLmInputs(names.String("ids") ?? inputs.Ids, names.String("mask") ?? inputs.Mask, positions,
                Layered(names, "pastKey") ?? inputs.PastKey, Layered(names, "pastValue") ?? inputs.PastValue,
                Layered(names, "presentKey") ?? inputs.PresentKey, Layered(names, "presentValue") ?? inputs.PresentValue, names.Location);
        }

        var prompt = top.String("prompt") ?? "{question}";
        if (prompt.Split("{question}").Length != 2 && top.Get("prompt") is { } promptValue)
        {
            top.Report(DiagnosticCodes.ManifestInvalid, promptValue.Location, "'prompt' must hold '{question}' exactly once");
            return null;
        }

        var generation = top.Object("generation", "'generation'", false, "maxNewTokens", "match", "minRecall");
        var maxNewTokens = generation?.Integer("maxNewTokens", 1, 512) ?? 16;
        var match = generation?.OneOf("match", s_matches) ?? "exact";
        var minRecall = generation?.Number("minRecall", 0, 1) ?? 0.5;

        var qa = top.Object("qa", "'qa'", true, "files");
        var files = qa?.Strings("files", required: true) ?? [];
        if (qa?.Get("files") is JsonTreeArray { Items.Count: 0 } empty)
        {
            top.Report(DiagnosticCodes.ManifestInvalid, empty.Location, "'qa.files' must name at least one question/answer file");
        }

        var forgetQuality = top.Object("forgetQuality", "'forgetQuality'", false, "retainModel");
        var retainModel = forgetQuality?.String("retainModel", required: true);

        if (type is null || model is null || files.Count == 0 || (forgetQuality is not null && retainModel is null))
        {
            return null;
        }

        var rule = match switch { "contains" => AnswerMatch.Contains, "rouge-l" => AnswerMatch.RougeL, _ => AnswerMatch.Exact };
        return new CausalLmSection(new CausalLmTokenizer(type, Full(model), addBos, stopAtEos) { Location = tokenizer!.Location }, inputs, prompt, maxNewTokens,
            rule, [.. files.Select(f => Full(f.Value))], top.Location)
        {
            MinRecall = minRecall,
            RetainModel = retainModel is null ? null : Full(retainModel),
            RetainModelLocation = forgetQuality?.Get("retainModel")?.Location ?? forgetQuality?.Location,
        };
    }

    /// <summary>A cache name, which must hold <c>{layer}</c> once (the decoder has one per layer).</summary>
    private static string? Layered(ObjectReader names, string field)
    {
        var value = names.String(field);
        if (value is not null && value.Split("{layer}").Length != 2)
        {
            names.Report(DiagnosticCodes.ManifestInvalid, names.Get(field)!.Location, $"'modelInputs.{field}' must hold '{{layer}}' exactly once");
            return null;
        }

        return value;
    }
}

/// <summary>A decoder's tokenizer.</summary>
/// <param name="Type">Its type: <c>sentencepiece</c> (a SentencePiece <c>.model</c>).</param>
/// <param name="Model">The tokenizer's model file (a full path).</param>
/// <param name="AddBos">Whether a prompt starts with the beginning-of-sentence token.</param>
/// <param name="StopAtEos">Whether generation stops at the end-of-sentence token.</param>
public sealed record CausalLmTokenizer(string Type, string Model, bool AddBos, bool StopAtEos)
{
    /// <summary>Where the manifest names it (its <c>tokenizer</c> object), for the errors about it.</summary>
    public SourceLocation? Location { get; init; }
}

/// <summary>A decoder's input and output names; the cache names hold <c>{layer}</c>.</summary>
/// <param name="Ids">The token ids (int64 [batch, sequence]).</param>
/// <param name="Mask">The attention mask over the cache and the new tokens (int64 [batch, past + sequence]).</param>
/// <param name="Positions">The position ids (int64 [batch, sequence]), or null for a decoder that takes none.</param>
/// <param name="PastKey">Each layer's cached keys in (float [batch, heads, past, head size]).</param>
/// <param name="PastValue">Each layer's cached values in.</param>
/// <param name="PresentKey">Each layer's keys out, the cache and the new tokens'.</param>
/// <param name="PresentValue">Each layer's values out.</param>
/// <param name="Location">Where the manifest names them (its <c>modelInputs</c>, or its top object for the defaults).</param>
public sealed record CausalLmInputs(
    string Ids, string Mask, string? Positions, string PastKey, string PastValue, string PresentKey, string PresentValue, SourceLocation? Location)
{
    /// <summary>The names Hugging Face Optimum and ONNX Runtime GenAI exports use.</summary>
    public static CausalLmInputs Optimum { get; } = new("input_ids", "attention_mask", "position_ids",
        "past_key_values.{layer}.key", "past_key_values.{layer}.value", "present.{layer}.key", "present.{layer}.value", null);

    /// <summary>A cache name for one layer.</summary>
    public static string OfLayer(string name, int layer) => name.Replace("{layer}", layer.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}

/// <summary>How a generated answer is compared with the expected one (both trimmed, case ignored).</summary>
public enum AnswerMatch
{
    /// <summary>The generated text is the answer.</summary>
    Exact,

    /// <summary>The generated text contains the answer.</summary>
    Contains,

    /// <summary>The answer's words recalled by the generated text's (their longest common subsequence, ROUGE-L recall) reach the manifest's <c>minRecall</c>.</summary>
    RougeL,
}
