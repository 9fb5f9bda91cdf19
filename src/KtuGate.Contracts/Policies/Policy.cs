using KtuGate.Diagnostics;

namespace KtuGate.Policies;

/// <summary>The level of a concept hierarchy at which knowledge is measured.</summary>
public enum KnowledgeLevel
{
    /// <summary>The concept itself, among its siblings (e.g. "sneaker" among footwear and everything else).</summary>
    Fine,

    /// <summary>The concept's coarse parent (e.g. "footwear" for a sneaker exemplar).</summary>
    Coarse,
}

/// <summary>A must-not-know policy: which knowledge a model must not have, and which it must keep.</summary>
/// <param name="Path">The policy file's path as given.</param>
/// <param name="Id">The policy's id.</param>
/// <param name="Title">A one-line title, if any.</param>
/// <param name="Request">Who asked for it and why.</param>
/// <param name="Concepts">The concepts the policy names, in file order.</param>
/// <param name="Forget">Concepts the model must not know.</param>
/// <param name="Retain">Concepts the model must keep knowing.</param>
/// <param name="Remedy">Whether and how the gate may unlearn.</param>
public sealed record Policy(
    string Path,
    string Id,
    string? Title,
    PolicyRequest? Request,
    IReadOnlyList<Concept> Concepts,
    IReadOnlyList<ForgetClause> Forget,
    IReadOnlyList<RetainClause> Retain,
    RemedyOptions Remedy)
{
    /// <summary>The format version this build reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Prompt templates (each with one "{}") to probe every concept's names with, besides the model's own.</summary>
    public IReadOnlyList<string> PromptTemplates { get; init; } = [];

    /// <summary>The general probe set: exemplar files whose folder names their label, unrelated to the request.</summary>
    public IReadOnlyList<string> GeneralFiles { get; init; } = [];

    /// <summary>Thresholds on the aggregate metrics (quality, utility, general accuracy), or null.</summary>
    public MetricThresholds? Metrics { get; init; }

    /// <summary>The concept with this key.</summary>
    public Concept GetConcept(string name) => Concepts.First(c => c.Name == name);

    /// <summary>The concept's coarse parent walking up the hierarchy one step, or null at the top.</summary>
    public Concept? ParentOf(Concept concept) => concept.Parent is null ? null : GetConcept(concept.Parent);
}

/// <summary>Who asked for the forgetting, and why — what an auditor reads first.</summary>
public sealed record PolicyRequest(string? RequestedBy, string? Reason, string? Reference);

/// <summary>A piece of knowledge, named as people name it.</summary>
/// <param name="Name">The concept's key in the policy.</param>
/// <param name="Aliases">Other names for it; the model is matched by key or alias.</param>
/// <param name="Parent">The coarser concept it belongs to, if any.</param>
/// <param name="Exemplars">Exemplar file globs, relative to the policy's folder.</param>
/// <param name="Files">The exemplar files the globs matched: full paths, sorted, without duplicates.</param>
/// <param name="Location">Where the concept is defined.</param>
public sealed record Concept(string Name, IReadOnlyList<string> Aliases, string? Parent, IReadOnlyList<ExemplarPattern> Exemplars, IReadOnlyList<string> Files, SourceLocation Location)
{
    /// <summary>Where the 'parent' value is written, if any.</summary>
    public SourceLocation? ParentLocation { get; init; }

    /// <summary>The key followed by the aliases.</summary>
    public IEnumerable<string> Names => Aliases.Prepend(Name);
}

/// <summary>An exemplar glob and where it was written.</summary>
public sealed record ExemplarPattern(string Pattern, SourceLocation Location);

/// <summary>A clause saying the model must not know a concept.</summary>
/// <param name="Concept">The concept's key.</param>
/// <param name="Level">The level measured.</param>
/// <param name="MaxAccuracy">The highest accuracy allowed; judged on the upper bound of the 95% interval.</param>
/// <param name="Location">Where the clause is written.</param>
public sealed record ForgetClause(string Concept, KnowledgeLevel Level, double MaxAccuracy, SourceLocation Location);

/// <summary>A clause saying the model must keep knowing a concept.</summary>
/// <param name="Concept">The concept's key.</param>
/// <param name="Level">The level measured.</param>
/// <param name="MinAccuracy">The lowest accuracy allowed, judged on the measured rate.</param>
/// <param name="MaxDrop">The largest drop allowed against a baseline artifact, judged on the measured rates.</param>
/// <param name="Location">Where the clause is written.</param>
public sealed record RetainClause(string Concept, KnowledgeLevel Level, double? MinAccuracy, double? MaxDrop, SourceLocation Location);

/// <summary>Whether the gate may unlearn a violated concept, and with which methods.</summary>
public sealed record RemedyOptions(bool Allowed, IReadOnlyList<string> Methods)
{
    /// <summary>The share of each concept's exemplars held out from an edit when the policy does not say.</summary>
    public const double DefaultHoldOut = 0.3;

    /// <summary>No remediation.</summary>
    public static RemedyOptions None { get; } = new(false, []);

    /// <summary>The share of each concept's exemplars (and of the general set) that an edit is not fitted on and is judged on, in [0.05, 0.95].</summary>
    public double HoldOut { get; init; } = DefaultHoldOut;

    /// <summary>
    /// What an edit may train: <c>last</c> (the last linear layer, the default), <c>all</c> (every float weight), <c>feed-forward</c> (every
    /// transformer block's feed-forward projections; <c>feed-forward:K</c> block K's) or node names and initializer-name prefixes. The last layer is tried first whenever the scope includes it (<c>all</c> does): it is the cheapest edit.
    /// </summary>
    public IReadOnlyList<string> Scope { get; init; } = [LastScope];

    /// <summary>Where <see cref="Scope"/> is written, or null where the policy leaves it to the default.</summary>
    public SourceLocation? ScopeLocation { get; init; }

    /// <summary>The scope entry for the last linear layer.</summary>
    public const string LastScope = "last";

    /// <summary>The scope entry for every float weight of the model.</summary>
    public const string AllScope = "all";
}

/// <summary>Thresholds on the unlearning metrics of the seed paper, judged on the measured values.</summary>
/// <param name="MinQuality">Lowest quality (relative drop of forget fine accuracy against the baseline).</param>
/// <param name="MinUtility">Lowest utility (retained share of the other accuracies against the baseline).</param>
/// <param name="MinQualityUtility">Lowest Q-U, the harmonic mean of quality and utility.</param>
/// <param name="MinGeneralAccuracy">Lowest accuracy on the general probe set.</param>
/// <param name="MaxGeneralDrop">Largest drop of general accuracy against the baseline.</param>
/// <param name="Location">Where the thresholds are written.</param>
public sealed record MetricThresholds(double? MinQuality, double? MinUtility, double? MinQualityUtility, double? MinGeneralAccuracy, double? MaxGeneralDrop, SourceLocation Location)
{
    /// <summary>Highest accuracy allowed on flipped or noisy forget exemplars, judged like a forget clause on the upper bound.</summary>
    public double? MaxPerturbedAccuracy { get; init; }

    /// <summary>Highest share of a forgotten fine concept's exemplars that any single wording of it (each template with each alias) may still recall, on the upper bound; dual encoders only.</summary>
    public double? MaxWordingRecall { get; init; }

    /// <summary>Highest held-out accuracy (upper bound) of a linear probe telling a forgotten concept's exemplars from its siblings' by the features just below the edit site.</summary>
    public double? MaxLinearProbeAccuracy { get; init; }
}
