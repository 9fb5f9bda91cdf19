using KtuGate.Diagnostics;

namespace KtuGate.Models;

/// <summary>How a text encoder pools its token states into one embedding.</summary>
public enum TextPooling
{
    /// <summary>The mean of the token states the attention mask keeps.</summary>
    Mean,

    /// <summary>The state of the first ([CLS]) token.</summary>
    Cls,
}

/// <summary>A text encoder: a BERT WordPiece vocabulary and an ONNX model whose token states become one embedding per text.</summary>
/// <remarks>Shared by every kind that embeds text (a dual encoder's text tower, a text-embedding model), so that one reader runs them.</remarks>
/// <param name="Model">The ONNX model (a full path).</param>
/// <param name="Vocabulary">The BERT WordPiece vocabulary, one token per line (a full path).</param>
/// <param name="Output">The output to read: token states [batch, tokens, dim] or a pooled [batch, dim].</param>
/// <param name="Pooling">How token states become one embedding.</param>
/// <param name="Normalize">Whether embeddings are scaled to unit length.</param>
/// <param name="MaxTokens">The most tokens fed, [CLS] and [SEP] included.</param>
/// <param name="Location">Where the manifest describes it.</param>
public record TextEncoderSpec(string Model, string Vocabulary, string Output, TextPooling Pooling, bool Normalize, int MaxTokens, SourceLocation Location)
{
    /// <summary>The model's input names.</summary>
    public TextModelInputs Inputs { get; init; } = TextModelInputs.Bert;
}

/// <summary>The names of a text encoder's inputs.</summary>
/// <param name="Ids">The token ids (int64 [batch, tokens]).</param>
/// <param name="Mask">The attention mask (int64 [batch, tokens]).</param>
/// <param name="TokenTypes">The token type ids, fed as zeros where the model has this input.</param>
public sealed record TextModelInputs(string Ids, string Mask, string TokenTypes)
{
    /// <summary>BERT's names, as Hugging Face exports them.</summary>
    public static TextModelInputs Bert { get; } = new("input_ids", "attention_mask", "token_type_ids");
}
