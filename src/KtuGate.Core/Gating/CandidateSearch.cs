using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using KtuGate.Verdicts;
using static KtuGate.ModelCheck;
using static KtuGate.Remediation;

namespace KtuGate;

/// <summary>
/// A remediation's search over candidate edits: the judges (in memory where exact, else ONNX Runtime with initializer overrides), then each
/// method's settings in turn, gentlest first: the last layer's, then training through the network over the scope; or, for a kind that
/// unlearns with its own losses, its methods over its scopes.
/// </summary>
internal sealed class CandidateSearch(RemediationRun.Context c, bool judgedOnAll, string staging)
{
    /// <summary>How each candidate is tried.</summary>
    private readonly CandidateTrials _trials = new(c, new EditReadings(c, staging), judgedOnAll, staging);

    /// <summary>What the search reads inside the network: linear-probe bounds, feature targets, recovery profiles.</summary>
    private EditReadings Readings => _trials.Readings;

    /// <summary>
    /// Every trial is judged against the original on the held-out exemplars: the original's results there are the baseline, and each prompt
    /// is embedded once. Judging from the site's inputs is exact when the probes read the site's output up to a positive scale; it must
    /// reproduce the original's results of the verify pass. Where it does not, candidates are probed with ONNX Runtime, their initializers
    /// overridden in the session (no model written).
    /// </summary>
    private (ICandidateJudge Judge, bool InMemory, CheckOptions Judging, ICandidateJudge Probing) MakeJudge()
    {
        var untimed = c.Request with { Progress = null };
        var onOriginal = new GateModelInput(c.Input.Artifact, c.Input.Manifest, c.Input.Artifact);
        Checked InMemory(double[,] w, double[] b, DiagnosticBag bag, CheckOptions options)
            => CheckModel(onOriginal, c.Manifest, c.Policies, untimed, c.BaseDirectory, bag, c.CancellationToken, options with { Edit = new SiteEdit(w, b, c.Plan.Activations) });

        var everything = c.Options with { BaselineTallies = c.Verified.Tallies };
        var judgedInMemory = !c.Request.ProbeEveryCandidate && c.Plan.Edits.Sites.Count == 1 && SameTallies(InMemory(c.Plan.Weight, c.Plan.Bias, new DiagnosticBag(), everything).Tallies, c.Verified.Tallies);

        // The original on the held-out part, measured the way candidates are, is their baseline there.
        var alone = new GateModelInput(c.Input.Artifact, c.Input.Manifest);
        var heldOut = c.Options with { Split = ExemplarSplit.Judged };
        var original = CheckModel(alone, c.Manifest, c.Policies, untimed, c.BaseDirectory, new DiagnosticBag(), c.CancellationToken,
            judgedInMemory ? heldOut with { Edit = new SiteEdit(c.Plan.Weight, c.Plan.Bias, c.Plan.Activations) } : heldOut);
        var judging = heldOut with { BaselineTallies = c.Verified.Tallies.Concat(original.Tallies).DistinctBy(t => t.Key).ToDictionary() };
        var probing = new OnnxRuntimeJudge((overrides, bag) => CheckModel(onOriginal, c.Manifest, c.Policies, untimed, c.BaseDirectory, bag, c.CancellationToken, judging with { Overrides = overrides }));
        return judgedInMemory ? (new SiteJudge((w, b, bag) => InMemory(w, b, bag, judging)), true, judging, probing) : (probing, false, judging, probing);
    }

    /// <summary>
    /// Each method's candidates in turn, gentlest setting first, until one passes the judge and then the probe of its written bytes: first
    /// the last layer's (where the scope includes it: it is the cheapest edit), then, where the scope reaches deeper, the gradient methods
    /// trained through the network over it (judged by ONNX Runtime with the trained initializers overridden).
    /// </summary>
    internal SearchResult Search(UnlearningProblem problem, string candidatePath)
    {
        var (judge, judgedInMemory, shared, probing) = MakeJudge();
        var (scope, location) = Scope();
        var tried = new List<RemediationAttemptInfo>();
        var bounded = Readings.BoundedProbes();

        // An edit of the last layer leaves its inputs as they are: where the original misses a linear-probe bound there, none could pass.
        var belowMissed = bounded.Count > 0 && Readings.ProbeMisses(null, bounded).Count > 0;
        try
        {
            var methods = !belowMissed && (scope.Contains(RemedyOptions.LastScope) || scope.Contains(RemedyOptions.AllScope)) ? MethodsFor(c.Request, c.Allowed, c.Plan.Edits).ToList() : [];
            foreach (var candidates in methods.Select(m => m.Candidates(problem).ToList()))
            {
                foreach (var (index, (method, solve)) in candidates.Index())
                {
                    c.CancellationToken.ThrowIfCancellationRequested();
                    _trials.Searching(method, index, candidates.Count);
                    var (newWeight, newBias, settingsText) = solve(judgedInMemory ? (w, b) => judge.Judge(Candidate(c.Site, w, b)).Missed.Count == 0 : null);
                    var candidate = Candidate(c.Site, newWeight, newBias);
                    if (judge.Judge(candidate) is { Missed.Count: > 0 } rejected)
                    {
                        tried.Add(CandidateTrials.Attempt(method, settingsText, rejected.Missed, rejected.Result, judge.Probes));
                        continue;
                    }

                    if (_trials.Keep(method, settingsText, OnnxGraph.WithSite(c.Plan.Model, c.Site, newWeight, newBias), candidatePath, shared, tried, judgedInMemory) is { } kept)
                    {
                        var overrides = candidate.Overrides();
                        return kept with
                        {
                            Trained = ([RemedyOptions.LastScope], overrides.Count, CandidateTrials.Changed(overrides, Candidate(c.Site, c.Plan.Weight, c.Plan.Bias).Overrides())),
                            Profile = Readings.Profile(overrides),
                        };
                    }
                }
            }

            if (scope.Any(e => e != RemedyOptions.LastScope) && Deep(scope, location) is { } plain)
            {
                var deep = bounded.Count > 0 ? plain with { Feature = new FeatureTerm(c.Site.Input, Readings.ForgetFeatureTargets(problem)) } : plain;
                foreach (var method in DeepMethods(location))
                {
                    var candidates = DeepEdit.Candidates(method, problem, deep, c.Diagnostics, location) ?? [];
                    foreach (var (index, candidate) in candidates.Index())
                    {
                        _trials.Searching(candidate.Method, index, candidates.Count);
                        if (_trials.TryDeep(candidate, deep.Scope, probing, candidatePath, shared, tried, judgedInMemory, location, bounded) is { } ended)
                        {
                            return ended;
                        }
                    }
                }
            }
        }
        finally
        {
            File.Delete(candidatePath);
        }

        return new SearchResult(tried, null, null, null, judgedInMemory);
    }

    /// <summary>
    /// The search of a kind that unlearns with its own losses (<see cref="KindSession.Unlearning"/>): each method the kind can run (one it
    /// cannot is skipped with KTU4022), its candidates over the scope (the kind's default where neither the request nor a policy names one)
    /// judged by ONNX Runtime with the trained initializers overridden, on the held-out part, or on every exemplar where it is too small.
    /// </summary>
    internal (SearchResult Search, int Forget, int Retain) SearchOwn(KindUnlearning own, IReadOnlyList<ClauseVerdict> targets, string candidatePath)
    {
        var untimed = c.Request with { Progress = null };
        var onOriginal = new GateModelInput(c.Input.Artifact, c.Input.Manifest, c.Input.Artifact);
        var baseline = c.Verified.Tallies;
        if (!judgedOnAll)
        {
            // The original on the held-out part, measured the way candidates are, is their baseline there.
            var original = CheckModel(new GateModelInput(c.Input.Artifact, c.Input.Manifest), c.Manifest, c.Policies, untimed, c.BaseDirectory, new DiagnosticBag(),
                c.CancellationToken, c.Options with { Split = ExemplarSplit.Judged });
            baseline = baseline.Concat(original.Tallies).DistinctBy(t => t.Key).ToDictionary();
        }

        var judging = c.Options with { Split = judgedOnAll ? null : ExemplarSplit.Judged, BaselineTallies = baseline };
        var probing = new OnnxRuntimeJudge((overrides, bag) => CheckModel(onOriginal, c.Manifest, c.Policies, untimed, c.BaseDirectory, bag, c.CancellationToken, judging with { Overrides = overrides }));
        bool Fitted(string file) => judgedOnAll || !HoldOut.HeldOutByAny(c.Policies, file);
        var forget = targets.SelectMany(v => c.Policies.First(p => p.Id == v.Policy).GetConcept(v.Concept).Files).Where(Fitted).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var retain = c.Policies.SelectMany(p => p.Retain.SelectMany(r => p.GetConcept(r.Concept).Files).Concat(p.GeneralFiles))
            .Where(f => Fitted(f) && !forget.Contains(f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var tried = new List<RemediationAttemptInfo>();
        var none = new SearchResult(tried, null, null, null, JudgedInMemory: false);
        var (requested, location) = Scope();
        var defaults = c.Request.RemedyScope is null && location is null;
        IReadOnlyList<IReadOnlyList<string>> scopes = defaults ? own.DefaultScopes : [requested];
        var names = c.Request.RemedyMethods ?? [.. c.Allowed.SelectMany(p => p.Remedy.Methods.Count == 0 ? UnlearningMethods.Names : p.Remedy.Methods).Distinct()];
        var methods = new List<GradientMethod>();
        foreach (var method in names.Select(n => UnlearningMethods.Find(n) ?? throw new ArgumentException($"'{n}' is not an unlearning method.", nameof(targets))))
        {
            var why = own.CannotRun(method) ?? (method is GradientMethod ? null : "it is not a gradient method");
            if (why is not null)
            {
                c.Diagnostics.Add(DiagnosticCodes.MethodSkipped, location, method.Name, ManifestKinds.NameOf(c.Manifest.Kind), why);
                continue;
            }

            methods.Add((GradientMethod)method);
        }

        try
        {
            foreach (var scope in scopes)
            {
                // A default scope that names nothing in this model (no feed-forward block) is passed over; a requested one is an error.
                var resolving = defaults ? new DiagnosticBag() : c.Diagnostics;
                if (EditScope.Resolve(c.Plan.Model, scope, c.Site, resolving, location) is not { } trained)
                {
                    if (defaults)
                    {
                        continue;
                    }

                    return (none, forget.Count, retain.Count);
                }

                var problem = new KindUnlearningProblem(c.Plan.Model, c.Input.Artifact, scope, trained, forget, retain);
                foreach (var gradient in methods)
                {
                    var candidates = own.Candidates(gradient, problem, c.Diagnostics, location) ?? [];
                    foreach (var (index, candidate) in candidates.Index())
                    {
                        _trials.Searching(candidate.Method, index, candidates.Count);
                        if (_trials.TryDeep(candidate, scope, probing, candidatePath, judging, tried, judgedInMemory: false, location) is { } ended)
                        {
                            return (ended, forget.Count, retain.Count);
                        }
                    }
                }
            }
        }
        finally
        {
            File.Delete(candidatePath);
        }

        return (none, forget.Count, retain.Count);
    }

    /// <summary>The scope to try: the request's (<c>ktu unlearn --scope</c>), else every entry of the remediating policies' <c>remedy.scope</c>; and where it was written.</summary>
    private (IReadOnlyList<string> Scope, SourceLocation? Location) Scope() => RemediationRun.ScopeOf(c.Request, c.Allowed);

    /// <summary>What a deep edit over <paramref name="scope"/> trains, or null after a coded error (KTU4012 for an entry naming nothing, KTU4013 where the kind cannot feed its exemplars).</summary>
    private DeepProblem? Deep(IReadOnlyList<string> scope, SourceLocation? location)
    {
        if (EditScope.Resolve(c.Plan.Model, scope, c.Site, c.Diagnostics, location) is not { } trained)
        {
            return null;
        }

        if (c.Options.Kind!.TrainingInput(c.Manifest) is not { } input)
        {
            c.Diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, string.Join(", ", scope), $"a '{ManifestKinds.NameOf(c.Manifest.Kind)}' model's exemplars are not fed to it as one input tensor");
            return null;
        }

        return new DeepProblem(c.Plan.Model, c.Input.Artifact, scope, trained, input, c.Manifest.Output.Name);
    }

    /// <summary>
    /// The gradient methods to train a deep scope with, in the order tried: those among the request's or policies' methods, or nhl-kl (the
    /// seed paper's) where neither names any method; none, with KTU4013, where the methods named are all last-layer ones.
    /// </summary>
    private IReadOnlyList<GradientMethod> DeepMethods(SourceLocation? location)
    {
        var named = MethodsFor(c.Request, c.Allowed, c.Plan.Edits).ToList();
        if (named.OfType<GradientMethod>().ToList() is { Count: > 0 } gradient)
        {
            return gradient;
        }

        if (c.Request.RemedyMethods is null && c.Allowed.All(p => p.Remedy.Methods.Count == 0))
        {
            return [UnlearningMethods.Gradient("nhl-kl")];
        }

        var (scope, _) = Scope();
        c.Diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, string.Join(", ", scope), $"none of the methods tried ({string.Join(", ", named.Select(m => m.Name))}) trains through the network");
        return [];
    }
}

/// <summary>How a search over the candidates ended: every attempt, and the chosen one if any passed (with its verdicts on the exemplars it was fitted on).</summary>
internal sealed record SearchResult(List<RemediationAttemptInfo> Tried, Checked? Chosen, byte[]? Bytes, string? Method, bool JudgedInMemory)
{
    public IReadOnlyList<ClauseVerdict> Fitted { get; init; } = [];

    /// <summary>What the kept edit trained, how many initializers and how many parameters it changed.</summary>
    public (IReadOnlyList<string> Scope, int Initializers, long Changed)? Trained { get; init; }

    /// <summary>The kept edit's recovery profile: each forget clause's linear probe at every depth it trained, before and after.</summary>
    public IReadOnlyList<RecoveryDepth>? Profile { get; init; }
}
