using System.Globalization;

namespace KtuGate.Unlearning;

/// <summary>The gradient of one forget exemplar's loss with respect to its scores, added to <paramref name="dz"/> with weight <paramref name="w"/>.</summary>
/// <param name="z">The exemplar's scores.</param>
/// <param name="p">Their softmax.</param>
/// <param name="pRef">The original model's softmax.</param>
/// <param name="example">The exemplar (its forbidden and allowed classes).</param>
/// <param name="margin">The hinge margin, in score units.</param>
/// <param name="dz">Where the gradient is added.</param>
/// <param name="w">The exemplar's weight in the loss.</param>
internal delegate void ForgetLoss(double[] z, double[] p, double[] pRef, GradientExample example, double margin, double[] dz, double w);

/// <summary>A gradient edit (<see cref="GradientEdit"/>): one forget loss, with KL retention at each of its weights.</summary>
/// <param name="name">The method's name.</param>
/// <param name="term">Its forget loss, as <see cref="MethodLoss"/> writes it into a loss sub-graph.</param>
/// <param name="klWeights">The KL retention weights tried, strongest first (0: none).</param>
internal sealed class GradientMethod(string name, ForgetTerm term, IReadOnlyList<double> klWeights) : UnlearningMethod(name)
{
    /// <summary>The forget loss's gradient for the last layer, the analytic twin of <see cref="Term"/> (one pairing, here).</summary>
    public ForgetLoss Loss { get; } = term switch
    {
        ForgetTerm.NegativeHinge => ForgetLosses.NegativeHinge,
        ForgetTerm.Ascent => ForgetLosses.Ascent,
        ForgetTerm.NegativePreference => ForgetLosses.NegativePreference,
        _ => throw new ArgumentOutOfRangeException(nameof(term), term, "A forget term without its analytic gradient"),
    };

    /// <summary>The forget loss's term in a loss sub-graph.</summary>
    public ForgetTerm Term { get; } = term;

    /// <summary>The settings tried, gentlest first.</summary>
    public IReadOnlyList<GradientSettings> Search { get; } =
    [
        .. from lr in new[] { 1e-3, 3e-3, 1e-2 }
           from kl in klWeights
           select new GradientSettings(name, lr, kl, 150),
    ];

    internal override IEnumerable<EditCandidate> Candidates(UnlearningProblem problem)
    {
        var (space, groupOfClass, sampled) = Setup(problem);
        var examples = sampled.Select(s => s.Example).ToList();
        foreach (var settings in Search)
        {
            yield return new EditCandidate(Name, accept =>
            {
                var (w, b, steps) = GradientEdit.Optimize(problem.Weight, problem.Bias, space, groupOfClass, problem.Space.Normalized, problem.Space.Scale, examples, settings, problem.Space.GradientMargin, accept);
                return (w, b, string.Create(CultureInfo.InvariantCulture, $"lr={settings.LearningRate} kl={settings.KlWeight} steps={steps}"));
            });
        }
    }

    /// <summary>
    /// The score space gradient methods work in, each class's coarse group there, and a bounded, evenly spread sample of the problem's
    /// exemplars (forget ones first, each with the classes it must not and may be recognised as; their activations the site's inputs).
    /// </summary>
    /// <remarks>
    /// One score space: the labels', or, where a dual encoder forgets whole coarse concepts, the groups' (whose own prompts decide its coarse
    /// predictions). A deep edit (<see cref="DeepEdit"/>) trains on the same exemplars, fed as the model's inputs.
    /// </remarks>
    internal static (IReadOnlyList<double[]> Directions, List<int> GroupOfClass, List<(string File, GradientExample Example)> Examples) Setup(UnlearningProblem problem)
    {
        var manifest = problem.Manifest;
        var groupSpace = problem.Targets.Values.All(f => f.Coarse);
        var space = problem.Space.Directions(groupSpace);
        var groupOfClass = groupSpace
            ? Enumerable.Repeat(-1, manifest.Coarse.Count).ToList()
            : Enumerable.Range(0, manifest.Labels.Count).Select(l => manifest.CoarseOfLabel[l]).ToList();
        var examples = Every(problem.Forget, 300).Select(f =>
        {
            var target = problem.Targets[f.File];
            if (target.Coarse && !groupSpace)
            {
                var labels = Enumerable.Range(0, manifest.Labels.Count).Where(l => target.Forbidden.Contains(manifest.CoarseOfLabel[l])).ToHashSet();
                return (f.File, new GradientExample(f.Activation, labels, Enumerable.Range(0, manifest.Labels.Count).Where(l => !labels.Contains(l)).ToList(), KeepCoarse: false));
            }

            return (f.File, new GradientExample(f.Activation, target.Forbidden, target.Allowed, KeepCoarse: !target.Coarse && target.Forbidden.Count == 1));
        }).Concat(Every(problem.Retain, 600).Select(r => (r.File, new GradientExample(r.Activation, null, null)))).ToList();
        return (space, groupOfClass, examples);
    }

    /// <summary>At most <paramref name="count"/> items, evenly spread.</summary>
    private static IEnumerable<T> Every<T>(IReadOnlyList<T> items, int count)
        => items.Count <= count ? items : Enumerable.Range(0, count).Select(i => items[(int)((long)i * items.Count / count)]);
}
