namespace KtuGate.Unlearning;

/// <summary>The names of the unlearning methods, as policies, reports and <c>ktu unlearn --method</c> spell them.</summary>
/// <remarks>
/// The policy parser runs in MSBuild's process too, where the methods themselves (engine types) must not load, so it reads
/// the names here; the engine's registry, <c>UnlearningMethods</c>, holds the methods in the same order
/// (<c>SchemaTests.Schema_method_enum_is_the_registry</c> fails when the two differ).
/// </remarks>
public static class UnlearningMethodNames
{
    /// <summary>Every method's name, in the order messages and help list them; the first is tried where a policy lists none.</summary>
    public static IReadOnlyList<string> All { get; } = ["closed-form", "nhl-kl", "ga", "ga-kl", "npo-kl"];
}
