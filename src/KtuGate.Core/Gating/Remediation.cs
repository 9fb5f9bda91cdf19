using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Unlearning;

namespace KtuGate;

/// <summary>Unlearns the concepts of failing forget clauses: an edit plan, each method's candidates judged, the first that passes written and probed.</summary>
internal static class Remediation
{
    /// <summary>
    /// Unlearns the concepts of failing forget clauses by editing the sites of the artifact's edit plan, method by method and setting by
    /// setting from the least intrusive, until the edited artifact meets every threshold (judged against the original as baseline). Each
    /// candidate is judged from the edit site's inputs recorded while the original was verified where that reproduces the original's probe
    /// results, else by ONNX Runtime with its initializers overridden; only one that passes there is written and probed with ONNX Runtime,
    /// and only a probed pass is kept.
    /// </summary>
    internal static Checked Remediate(
        GateModelInput input, ModelManifest manifest, IReadOnlyList<Policy> policies, Checked verified, SitePlan? plan, DiagnosticBag planProblems,
        GateRequest request, string baseDirectory, DiagnosticBag diagnostics, CheckOptions options, CancellationToken cancellationToken)
    {
        var failing = verified.Verdicts.Where(v => v.Kind == "forget" && !v.Passed).ToList();
        var allowed = policies.Where(p => p.Remedy.Allowed).ToList();
        foreach (var policy in policies.Where(p => failing.Any(f => f.Policy == p.Id) && !allowed.Contains(p)))
        {
            diagnostics.Add(DiagnosticCodes.RemediationNotAllowed, new SourceLocation(policy.Path), policy.Id);
        }

        var targets = failing.Where(f => allowed.Any(p => p.Id == f.Policy)).ToList();
        if (targets.Count == 0)
        {
            return verified;
        }

        if (plan is null)
        {
            diagnostics.AddRange(planProblems.Items);
            return verified;
        }

        return new RemediationRun(new RemediationRun.Context(input, manifest, policies, allowed, verified, plan, request, baseDirectory, diagnostics, options, cancellationToken)).Run(targets);
    }

    internal static List<string> Missed(DiagnosticBag trial, Checked judged)
        => trial.Items.Concat(judged.Judgements).Concat(judged.Verdicts.SelectMany(v => v.Diagnostics))
            .Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => $"{d.Code} {d.Message}").ToList();

    internal static double? LowestQualityUtility(Checked judged)
        => judged.Report?.Metrics.Select(m => m.QualityUtility).Where(q => q is not null).DefaultIfEmpty(null).Min();

    /// <summary>Whether two runs' probe results agree on every exemplar set: predictions, coarse predictions and wordings.</summary>
    internal static bool SameTallies(IReadOnlyDictionary<string, ProbeTally> a, IReadOnlyDictionary<string, ProbeTally> b)
        => a.Count == b.Count && a.All(x => b.TryGetValue(x.Key, out var y)
            && x.Value.N == y.N
            && x.Value.PredictedCounts.SequenceEqual(y.PredictedCounts)
            && (x.Value.CoarsePredictedCounts ?? []).SequenceEqual(y.CoarsePredictedCounts ?? [])
            && x.Value.Wordings.Select(w => w.Recalled).SequenceEqual(y.Wordings.Select(w => w.Recalled)));

    /// <summary>The methods to try, in order: the request's, or those the policies list (the registry's default where they list none); each that supports the plan.</summary>
    /// <exception cref="ArgumentException">The request names a method the registry does not have (the command line and policies accept only the registry's names).</exception>
    internal static IEnumerable<UnlearningMethod> MethodsFor(GateRequest request, IReadOnlyList<Policy> allowed, EditPlan plan)
        => (request.RemedyMethods ?? allowed.SelectMany(p => p.Remedy.Methods.Count == 0 ? [UnlearningMethods.Default.Name] : p.Remedy.Methods).Distinct().ToList())
            .Select(name => UnlearningMethods.Find(name) ?? throw new ArgumentException($"'{name}' is not an unlearning method; one of {string.Join(", ", UnlearningMethods.Names)}.", nameof(request)))
            .Where(m => m.Supports(plan));

    /// <summary>A candidate edit of one site.</summary>
    internal static CandidateEdit Candidate(EditSite site, double[,] weight, double[] bias) => new([new SiteWeights(site, weight, bias)]);

    internal static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}
