namespace KtuGate.Unlearning;

/// <summary>
/// The engine's registry of unlearning methods: each name of <see cref="UnlearningMethodNames.Methods"/> (the one list of names,
/// which the policy parser, the schemas, <c>ktu unlearn --method</c> and the reports read) paired with its implementation.
/// </summary>
/// <remarks>Adding a method is its name in <see cref="UnlearningMethodNames"/> and its implementation here (and, for a new kind of edit, its <see cref="UnlearningMethod"/> subclass).</remarks>
public static class UnlearningMethods
{
    /// <summary>Every method, in the order of <see cref="UnlearningMethodNames.Methods"/>; loading fails when the two lists differ (see <see cref="Pair"/>).</summary>
    public static IReadOnlyList<UnlearningMethod> All { get; } = Pair(
    [
        new ClosedFormMethod(),
        new GradientMethod("nhl-kl", ForgetTerm.NegativeHinge, [4.0, 1.0]),
        new GradientMethod("ga", ForgetTerm.Ascent, [0.0]),
        new GradientMethod("ga-kl", ForgetTerm.Ascent, [4.0, 1.0]),
        new GradientMethod("npo-kl", ForgetTerm.NegativePreference, [4.0, 1.0]),
    ]);

    /// <summary>Every method's name, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(m => m.Name)];

    /// <summary>The method tried where a policy lists none.</summary>
    public static UnlearningMethod Default => All[0];

    /// <summary>The method named <paramref name="name"/>, or null.</summary>
    public static UnlearningMethod? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>Orders <paramref name="implementations"/> by <see cref="UnlearningMethodNames.Methods"/>, one per name.</summary>
    /// <exception cref="InvalidOperationException">A name has no implementation, or two; or an implementation has a name the list lacks.</exception>
    /// <remarks>Loudly, at first use, so that a name the policy parser accepts can never reach a gate that cannot run it.</remarks>
    public static IReadOnlyList<UnlearningMethod> Pair(IReadOnlyList<UnlearningMethod> implementations)
    {
        if (implementations.FirstOrDefault(m => !UnlearningMethodNames.All.Contains(m.Name)) is { } unnamed)
        {
            throw new InvalidOperationException($"The unlearning method '{unnamed.Name}' is implemented but not named in UnlearningMethodNames.Methods.");
        }

        return [.. UnlearningMethodNames.All.Select(name => implementations.Count(m => m.Name == name) == 1
            ? implementations.Single(m => m.Name == name)
            : throw new InvalidOperationException($"The unlearning method '{name}' (UnlearningMethodNames.Methods) needs exactly one implementation in UnlearningMethods.All."))];
    }

    /// <summary>The gradient method named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No gradient method has that name.</exception>
    internal static GradientMethod Gradient(string name)
        => Find(name) as GradientMethod ?? throw new ArgumentException($"'{name}' is not a gradient unlearning method.", nameof(name));
}
