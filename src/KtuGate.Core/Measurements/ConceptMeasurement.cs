using KtuGate.Policies;

namespace KtuGate.Measurements;

/// <summary>How well a model recognises one concept on its exemplars, at both levels of the hierarchy.</summary>
/// <param name="Concept">The concept's key in its policy.</param>
/// <param name="FineLabel">The model label the concept matches, when it is a fine concept.</param>
/// <param name="CoarseGroup">The model's coarse group for the concept.</param>
/// <param name="Fine">Share of exemplars predicted as the concept's own label, or null for a coarse concept.</param>
/// <param name="Coarse">Share of exemplars predicted as any label of the concept's coarse group, or null when it has none.</param>
/// <param name="Predicted">How many exemplars went to each model label, in label order.</param>
public sealed record ConceptMeasurement(
    string Concept,
    string? FineLabel,
    string? CoarseGroup,
    Proportion? Fine,
    Proportion? Coarse,
    IReadOnlyList<KeyValuePair<string, int>> Predicted)
{
    /// <summary>The exemplars measured.</summary>
    public int N => Fine?.N ?? Coarse?.N ?? 0;

    /// <summary>The rate at a level, or null when the concept has no such level in the model.</summary>
    public Proportion? At(KnowledgeLevel level) => level == KnowledgeLevel.Fine ? Fine : Coarse;
}
