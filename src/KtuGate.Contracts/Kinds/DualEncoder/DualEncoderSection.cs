using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Models;

namespace KtuGate.Kinds.DualEncoder;

/// <summary>A dual encoder's manifest section: the text tower that embeds the prompts, the prompt templates, and the prompts of labels and groups that have their own.</summary>
/// <param name="TextTower">The text tower.</param>
/// <param name="PromptTemplates">Prompt templates, each with one "{}" where a concept's name goes.</param>
public sealed record DualEncoderSection(TextTowerSpec TextTower, IReadOnlyList<string> PromptTemplates) : ManifestSection
{
    private static readonly string[] s_poolings = ["mean", "cls"];

    /// <summary>The prompts of labels that have their own (<c>labelPrompts</c>), in manifest order.</summary>
    public IReadOnlyList<OwnPrompts> LabelPrompts { get; init; } = [];

    /// <summary>The prompts of coarse groups that have their own (<c>coarsePrompts</c>), in manifest order.</summary>
    public IReadOnlyList<OwnPrompts> CoarsePrompts { get; init; } = [];

    /// <inheritdoc/>
    public override IReadOnlyList<string> InputFiles => [TextTower.Model, TextTower.Vocabulary];

    /// <summary>A label's own prompts, or null where the templates word it.</summary>
    public IReadOnlyList<string>? PromptsOfLabel(string label) => LabelPrompts.FirstOrDefault(p => p.Name == label)?.Prompts;

    /// <summary>A coarse group's own prompts, or null where the templates word it.</summary>
    public IReadOnlyList<string>? PromptsOfGroup(string group) => CoarsePrompts.FirstOrDefault(p => p.Name == group)?.Prompts;

    /// <summary>Reads <c>textTower</c> (required), <c>prompts</c> (default: "a photo of a {}"), <c>labelPrompts</c> and <c>coarsePrompts</c>.</summary>
    internal static ManifestSectionReader Reader { get; } = new(ModelKind.DualEncoder, ["textTower", "prompts", "labelPrompts", "coarsePrompts"], Read,
        [("textTower", "model"), ("textTower", "vocab")])
    {
        CheckNames = CheckOwnPromptNames,
    };

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

        var labelPrompts = ReadOwnPrompts(top, "labelPrompts");
        var coarsePrompts = ReadOwnPrompts(top, "coarsePrompts");
        return textTower is null ? null : new DualEncoderSection(textTower, prompts.Count > 0 ? prompts : ["a photo of a {}"])
        {
            LabelPrompts = labelPrompts,
            CoarsePrompts = coarsePrompts,
        };
    }

    /// <summary>
    /// An object from a label's (or group's) name to its prompts: the whole texts the text tower embeds for it, each non-empty, without
    /// a template's "{}", each once (KTU2071 where not). Whether each name is a label (or group) is checked once those are read.
    /// </summary>
    private static List<OwnPrompts> ReadOwnPrompts(ObjectReader top, string field)
    {
        var result = new List<OwnPrompts>();
        if (top.RawObject(field) is not { } raw)
        {
            return result;
        }

        foreach (var property in raw.Properties)
        {
            // One prompt may be written as a string, several as an array.
            IReadOnlyList<JsonTree>? items = property.Value switch
            {
                JsonTreeString one => [one],
                JsonTreeArray array => array.Items,
                _ => null,
            };
            if (items is null)
            {
                top.Report(DiagnosticCodes.ManifestInvalidValue, property.Value.Location, $"{field}.{property.Name}", "a prompt or an array of prompts", property.Value.KindName);
                continue;
            }

            if (items.Count == 0)
            {
                top.Report(DiagnosticCodes.PromptWordingInvalid, property.Value.Location, property.Name, field, "lists no prompt; give at least one, or leave the name out to word it with the templates");
                continue;
            }

            var prompts = new List<string>();
            foreach (var item in items)
            {
                if (item is not JsonTreeString text)
                {
                    top.Report(DiagnosticCodes.ManifestInvalidValue, item.Location, $"{field}.{property.Name}[]", "a prompt", item.KindName);
                }
                else if (text.Value.Trim().Length == 0)
                {
                    top.Report(DiagnosticCodes.PromptWordingInvalid, text.Location, property.Name, field, "is empty");
                }
                else if (text.Value.Contains("{}", StringComparison.Ordinal))
                {
                    top.Report(DiagnosticCodes.PromptWordingInvalid, text.Location, property.Name, field,
                        $"'{text.Value}' contains '{{}}': a label's own prompt is its whole text, with the name written out (templates with '{{}}' go in 'prompts')");
                }
                else if (prompts.Contains(text.Value, StringComparer.Ordinal))
                {
                    top.Report(DiagnosticCodes.PromptWordingInvalid, text.Location, property.Name, field, $"'{text.Value}' is listed twice");
                }
                else
                {
                    prompts.Add(text.Value);
                }
            }

            result.Add(new OwnPrompts(property.Name, prompts, property.NameLocation));
        }

        return result;
    }

    /// <summary>Each name with prompts of its own must be a label (or a coarse group) of the manifest, spelt as there (KTU2070).</summary>
    private static void CheckOwnPromptNames(ManifestSection section, IReadOnlyList<string> labels, IReadOnlyList<CoarseGroup> coarse, DiagnosticBag diagnostics)
    {
        var own = (DualEncoderSection)section;
        foreach (var prompts in own.LabelPrompts.Where(p => !labels.Contains(p.Name, StringComparer.Ordinal)))
        {
            diagnostics.Add(DiagnosticCodes.PromptNamesNothing, prompts.Location, "labelPrompts", prompts.Name, "a label", string.Join(", ", labels));
        }

        foreach (var prompts in own.CoarsePrompts.Where(p => !coarse.Any(g => g.Name == p.Name)))
        {
            diagnostics.Add(DiagnosticCodes.PromptNamesNothing, prompts.Location, "coarsePrompts", prompts.Name, "a coarse group",
                coarse.Count == 0 ? "none" : string.Join(", ", coarse.Select(g => g.Name)));
        }
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

/// <summary>A label's or a coarse group's own prompts, which stand in for the templates when it is embedded.</summary>
/// <param name="Name">The label or group, as the manifest spells it.</param>
/// <param name="Prompts">The whole texts the text tower embeds for it.</param>
/// <param name="Location">Where the manifest names it.</param>
public sealed record OwnPrompts(string Name, IReadOnlyList<string> Prompts, SourceLocation Location);

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
