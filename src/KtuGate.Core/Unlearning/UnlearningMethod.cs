using KtuGate.Kinds;
using KtuGate.Models;
using KtuGate.Onnx;

namespace KtuGate.Unlearning;

/// <summary>Where a remediation may edit a model: one or more sites (linear layers whose initializers a method may change), lowest first.</summary>
/// <param name="Sites">The sites, in graph order from the input; never empty.</param>
public sealed record EditPlan(IReadOnlyList<EditSite> Sites)
{
    /// <summary>The site nearest the model's input: what an edit of the plan cannot change lies below it (the linear probe reads there).</summary>
    public EditSite Lowest => Sites[0];
}

/// <summary>One way of unlearning: its name in policies, reports and <c>ktu unlearn --method</c>, what it does, the settings it searches and the plans it can edit.</summary>
/// <remarks>
/// Every method is named once, in <see cref="UnlearningMethodNames.Methods"/> (with its description), and implemented once, in
/// <see cref="UnlearningMethods.All"/>; everything that names methods reads those lists.
/// </remarks>
public abstract class UnlearningMethod
{
    private protected UnlearningMethod(string name) => Name = name;

    /// <summary>The method's name, as policies, reports and the command line spell it.</summary>
    public string Name { get; }

    /// <summary>One line on what the method does, from <see cref="UnlearningMethodNames.Methods"/>.</summary>
    public string Description => UnlearningMethodNames.Methods.First(m => m.Name == Name).Description;

    /// <summary>Whether the method can edit the sites of <paramref name="plan"/>.</summary>
    /// <remarks>Both families solve one linear layer from its recorded inputs, so they support single-site plans.</remarks>
    public virtual bool Supports(EditPlan plan) => plan.Sites.Count == 1;

    /// <summary>The method's edits of <paramref name="problem"/>, one per setting, gentlest first; each is solved only when its turn comes.</summary>
    internal abstract IEnumerable<EditCandidate> Candidates(UnlearningProblem problem);

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>An edit to try: a method at one setting, solved on demand.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Solve">
/// Solves the edit, given an acceptance test (or null) that gradient methods ask at checkpoints, stopping at the first set of weights
/// it accepts; returns the site's new weight and bias and the settings as reports record them.
/// </param>
internal sealed record EditCandidate(string Method, Func<Func<double[,], double[], bool>?, (double[,] Weight, double[] Bias, string Settings)> Solve);

/// <summary>A site's new weights, as a method solved them.</summary>
/// <param name="Site">The site.</param>
/// <param name="Weight">Its new weight, [out, in].</param>
/// <param name="Bias">Its new bias.</param>
internal sealed record SiteWeights(EditSite Site, double[,] Weight, double[] Bias);

/// <summary>A candidate edit of a plan: new weights for its sites, or (a deep edit) new values for any of the model's initializers.</summary>
/// <param name="Sites">Each edited site's new weights; empty for a deep edit.</param>
/// <param name="Initializers">A deep edit's new initializer values; null for a site edit.</param>
internal sealed record CandidateEdit(IReadOnlyList<SiteWeights> Sites, IReadOnlyList<InitializerOverride>? Initializers = null)
{
    /// <summary>The initializers the edit replaces, with their new values in the model's layout.</summary>
    public IReadOnlyList<InitializerOverride> Overrides() => Initializers ?? [.. Sites.SelectMany(s => OnnxGraph.SiteInitializers(s.Site, s.Weight, s.Bias))];
}

/// <summary>What one forget exemplar asks of an edit: its class directions, the classes it must not be recognised as, and those it may.</summary>
/// <param name="Directions">The class directions of the score space it is judged in.</param>
/// <param name="Forbidden">The classes (of that space) it must not be recognised as.</param>
/// <param name="Allowed">The classes it may be recognised as instead.</param>
/// <param name="Coarse">Whether it is judged among the coarse groups' own directions (a dual encoder forgetting a coarse concept).</param>
internal sealed record ForgetTarget(IReadOnlyList<double[]> Directions, HashSet<int> Forbidden, List<int> Allowed, bool Coarse);

/// <summary>What a method is asked to solve: a site's weights, the inputs recorded there, and what each forget exemplar must become.</summary>
/// <param name="Edit">The closed-form edit of the site, prepared once (its Gram matrices) for every setting.</param>
/// <param name="Weight">The site's original weight, [out, in].</param>
/// <param name="Bias">The site's original bias.</param>
/// <param name="Forget">The forget exemplars' recorded inputs, by file.</param>
/// <param name="Retain">The retain exemplars' recorded inputs, by file.</param>
/// <param name="ForgetOutputs">The site's original outputs on the forget exemplars.</param>
/// <param name="Targets">What each forget exemplar (by file) must become.</param>
/// <param name="Space">How the site's output becomes class scores (the model kind's).</param>
/// <param name="Manifest">The model's manifest (labels and their coarse groups).</param>
/// <param name="Margin">One unit of the closed form's margin, in the site's output scale.</param>
internal sealed record UnlearningProblem(
    ClosedFormEdit Edit, double[,] Weight, double[] Bias,
    IReadOnlyList<(string File, float[] Activation)> Forget, IReadOnlyList<(string File, float[] Activation)> Retain,
    IReadOnlyList<double[]> ForgetOutputs, IReadOnlyDictionary<string, ForgetTarget> Targets,
    ScoreSpace Space, ModelManifest Manifest, double Margin);
