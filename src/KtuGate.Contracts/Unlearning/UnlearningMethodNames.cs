namespace KtuGate.Unlearning;

/// <summary>
/// The unlearning methods by name, as policies, reports and <c>ktu unlearn --method</c> spell them, with what each does: the one
/// list of names. The engine's registry, <c>UnlearningMethods</c>, pairs each name with its implementation.
/// </summary>
/// <remarks>
/// The policy parser runs in MSBuild's process too, where the methods themselves (engine types) must not load, so the names
/// live here; <c>UnlearningMethods</c> fails to load when a name has no implementation or an implementation no name, and
/// <c>SchemaTests.Schema_method_enum_is_the_registry</c> fails when a schema's enum differs from the list.
/// </remarks>
public static class UnlearningMethodNames
{
    /// <summary>Every method, in the order messages and help list them; the first is tried where a policy lists none.</summary>
    public static IReadOnlyList<UnlearningMethodName> Methods { get; } =
    [
        new("closed-form", "a ridge-regularised least-squares edit of the site, solved in closed form, no iterations"),
        new("nhl-kl", "the seed paper's negative hinge loss on the forbidden score with KL retention, by gradient steps"),
        new("ga", "gradient ascent on the forbidden classes' log-probability, no retention term"),
        new("ga-kl", "gradient ascent with KL retention"),
        new("npo-kl", "negative preference optimisation with KL retention"),
    ];

    /// <summary>Every method's name, in the order of <see cref="Methods"/>.</summary>
    public static IReadOnlyList<string> All { get; } = [.. Methods.Select(m => m.Name)];
}

/// <summary>One unlearning method's name and what it does.</summary>
/// <param name="Name">As policies, reports and the command line spell it.</param>
/// <param name="Description">One line on what the method does (shown by <c>ktu unlearn --help</c>).</param>
public sealed record UnlearningMethodName(string Name, string Description);
