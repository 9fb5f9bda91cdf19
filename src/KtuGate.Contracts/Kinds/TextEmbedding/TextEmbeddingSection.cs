using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Models;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// A text-embedding model's manifest section: its tokenizer, the model's inputs, how token states become one embedding, and the
/// fact set whose relations give each fact its candidates. The artifact itself is the encoder.
/// </summary>
/// <param name="Tokenizer">The tokenizer's type (today only <c>wordpiece</c>, BERT's).</param>
/// <param name="Vocabulary">The tokenizer's vocabulary file (a full path).</param>
/// <param name="Inputs">The model's input names.</param>
/// <param name="Pooling">How token states become one embedding.</param>
/// <param name="Normalize">Whether embeddings are scaled to unit length.</param>
/// <param name="MaxTokens">The most tokens fed, [CLS] and [SEP] included.</param>
/// <param name="Relations">The relations file: per relation, its subject templates, paraphrases, object template and coarse relation (a full path).</param>
/// <param name="FactFiles">The fact files (JSON Lines) whose objects are each relation's candidates (full paths).</param>
/// <param name="Location">Where the manifest's top object is.</param>
public sealed record TextEmbeddingSection(
    string Tokenizer, string Vocabulary, TextModelInputs Inputs, TextPooling Pooling, bool Normalize, int MaxTokens,
    string Relations, IReadOnlyList<string> FactFiles, SourceLocation Location) : ManifestSection
{
    private static readonly string[] s_tokenizers = ["wordpiece"];
    private static readonly string[] s_poolings = ["mean", "cls"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> InputFiles => [Vocabulary, Relations, .. FactFiles];

    /// <summary>Reads <c>tokenizer</c> and <c>facts</c> (required), <c>modelInputs</c>, <c>pooling</c>, <c>normalize</c> and <c>maxTokens</c>.</summary>
    /// <remarks>A text encoder takes no image: its manifest has no <c>input</c>, <c>preprocess</c>, <c>labels</c> or <c>coarse</c>.</remarks>
    internal static ManifestSectionReader Reader { get; } = new(ModelKind.TextEmbedding, ["tokenizer", "modelInputs", "pooling", "normalize", "maxTokens", "facts"], Read,
        [("tokenizer", "vocab"), ("facts", "relations"), ("facts", "files")])
    {
        FeedsImages = false,
    };

    /// <summary>The encoder this section describes, run over <paramref name="artifact"/> and read at <paramref name="output"/>.</summary>
    public TextEncoderSpec Encoder(string artifact, string output)
        => new(artifact, Vocabulary, output, Pooling, Normalize, MaxTokens, Location) { Inputs = Inputs };

    private static TextEmbeddingSection? Read(ObjectReader top, string manifestPath)
    {
        // Relative to the manifest, like every path a manifest or policy names.
        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        string Full(string path) => Path.GetFullPath(Path.Combine(folder, path));

        var tokenizer = top.Object("tokenizer", "'tokenizer'", true, "type", "vocab");
        var type = tokenizer?.OneOf("type", s_tokenizers, required: true);
        var vocab = tokenizer?.String("vocab", required: true);

        var inputs = TextModelInputs.Bert;
        if (top.Object("modelInputs", "'modelInputs'", false, "ids", "mask", "tokenTypes") is { } names)
        {
            inputs = new TextModelInputs(names.String("ids") ?? inputs.Ids, names.String("mask") ?? inputs.Mask, names.String("tokenTypes") ?? inputs.TokenTypes);
        }

        var pooling = top.OneOf("pooling", s_poolings) ?? "mean";
        var normalize = top.Boolean("normalize") ?? true;
        var maxTokens = top.Integer("maxTokens", 3, 4096) ?? 128;

        var facts = top.Object("facts", "'facts'", true, "relations", "files");
        var relations = facts?.String("relations", required: true);
        var files = facts?.Strings("files", required: true) ?? [];
        if (facts?.Get("files") is JsonTreeArray { Items.Count: 0 } empty)
        {
            top.Report(DiagnosticCodes.ManifestInvalid, empty.Location, "'facts.files' must name at least one fact file");
        }

        if (type is null || vocab is null || relations is null || files.Count == 0)
        {
            return null;
        }

        return new TextEmbeddingSection(type, Full(vocab), inputs, pooling == "cls" ? TextPooling.Cls : TextPooling.Mean, normalize, maxTokens,
            Full(relations), [.. files.Select(f => Full(f.Value))], top.Location);
    }
}
