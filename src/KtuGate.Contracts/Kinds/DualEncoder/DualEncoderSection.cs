using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Models;

namespace KtuGate.Kinds.DualEncoder;

/// <summary>A dual encoder's manifest section: the text tower that embeds the prompts, and the prompt templates.</summary>
/// <param name="TextTower">The text tower.</param>
/// <param name="PromptTemplates">Prompt templates, each with one "{}" where a concept's name goes.</param>
public sealed record DualEncoderSection(TextTowerSpec TextTower, IReadOnlyList<string> PromptTemplates) : ManifestSection
{
    private static readonly string[] s_poolings = ["mean", "cls"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> InputFiles => [TextTower.Model, TextTower.Vocabulary];

    /// <summary>Reads <c>textTower</c> (required) and <c>prompts</c> (default: "a photo of a {}").</summary>
    internal static ManifestSectionReader Reader { get; } = new(ModelKind.DualEncoder, ["textTower", "prompts"], Read,
        [("textTower", "model"), ("textTower", "vocab")]);

    private static DualEncoderSection? Read(ObjectReader top, string manifestPath)
    {
        var textTower = ReadTextTower(top, manifestPath);
        var prompts = new List<string>();
        foreach (var prompt in top.Strings("prompts"))
        {
            if (prompt.Value.Split("{}").Length != 2)
            {
                top.Report(DiagnosticCodes.ManifestInvalid, prompt.Location, $"Prompt template '{prompt.Value}' must contain '{{}}' exactly once, where the concept's name goes");
            }
            else
            {
                prompts.Add(prompt.Value);
            }
        }

        return textTower is null ? null : new DualEncoderSection(textTower, prompts.Count > 0 ? prompts : ["a photo of a {}"]);
    }

    private static TextTowerSpec? ReadTextTower(ObjectReader top, string manifestPath)
    {
        var reader = top.Object("textTower", "'textTower'", true, "model", "vocab", "output", "pooling", "normalize", "maxTokens");
        if (reader is null)
        {
            return null;
        }

        var model = reader.String("model", required: true);
        var vocab = reader.String("vocab", required: true);
        var output = reader.String("output") ?? "last_hidden_state";
        var pooling = reader.OneOf("pooling", s_poolings) ?? "mean";
        var normalize = reader.Boolean("normalize") ?? true;
        var maxTokens = reader.Integer("maxTokens", 3, 4096) ?? 128;
        if (model is null || vocab is null)
        {
            return null;
        }

        // Relative to the manifest, like every path a manifest or policy names.
        var folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        return new TextTowerSpec(Path.GetFullPath(Path.Combine(folder, model)), Path.GetFullPath(Path.Combine(folder, vocab)), output,
            pooling == "cls" ? TextPooling.Cls : TextPooling.Mean, normalize, maxTokens, reader.Location);
    }
}

/// <summary>The text tower of a dual encoder: a text encoder (<see cref="TextEncoderSpec"/>) with a dual encoder's defaults.</summary>
/// <param name="Model">The ONNX model (a full path).</param>
/// <param name="Vocabulary">The BERT WordPiece vocabulary, one token per line (a full path).</param>
/// <param name="Output">The output to read: token states [batch, tokens, dim] or a pooled [batch, dim].</param>
/// <param name="Pooling">How token states become one embedding.</param>
/// <param name="Normalize">Whether embeddings are scaled to unit length.</param>
/// <param name="MaxTokens">The most tokens fed, [CLS] and [SEP] included.</param>
/// <param name="Location">Where the manifest describes it.</param>
public sealed record TextTowerSpec(string Model, string Vocabulary, string Output, TextPooling Pooling, bool Normalize, int MaxTokens, SourceLocation Location)
    : TextEncoderSpec(Model, Vocabulary, Output, Pooling, Normalize, MaxTokens, Location);
