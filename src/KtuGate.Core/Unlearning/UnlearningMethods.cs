namespace KtuGate.Unlearning;

/// <summary>The one registry of unlearning methods: the policy parser, the policy and report schemas, <c>ktu unlearn --method</c>, the reports and the gate all read it.</summary>
/// <remarks>Adding a method is one entry here (and, for a new kind of edit, its <see cref="UnlearningMethod"/> subclass).</remarks>
public static class UnlearningMethods
{
    /// <summary>Every method, in the order messages and help list them.</summary>
    public static IReadOnlyList<UnlearningMethod> All { get; } =
    [
        new ClosedFormMethod(),
        new GradientMethod("nhl-kl", "the seed paper's negative hinge loss on the forbidden score with KL retention, by gradient steps", GradientEdit.NegativeHinge, [4.0, 1.0], ForgetTerm.NegativeHinge),
        new GradientMethod("ga", "gradient ascent on the forbidden classes' log-probability, no retention term", GradientEdit.Ascent, [0.0], ForgetTerm.Ascent),
        new GradientMethod("ga-kl", "gradient ascent with KL retention", GradientEdit.Ascent, [4.0, 1.0], ForgetTerm.Ascent),
        new GradientMethod("npo-kl", "negative preference optimisation with KL retention", GradientEdit.NegativePreference, [4.0, 1.0], ForgetTerm.NegativePreference),
    ];

    /// <summary>Every method's name, in the order of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. All.Select(m => m.Name)];

    /// <summary>The method tried where a policy lists none.</summary>
    public static UnlearningMethod Default => All[0];

    /// <summary>The method named <paramref name="name"/>, or null.</summary>
    public static UnlearningMethod? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>The gradient method named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No gradient method has that name.</exception>
    internal static GradientMethod Gradient(string name)
        => Find(name) as GradientMethod ?? throw new ArgumentException($"'{name}' is not a gradient unlearning method.", nameof(name));
}
