using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using static KtuGate.LinearProbing;

namespace KtuGate;

/// <summary>
/// What a remediation reads inside the network beside the clauses: the linear probes a policy bounds (at the edit site's input, for the
/// original and for each trained set of weights), the features a feature-level term pulls forget exemplars towards, and a kept edit's
/// recovery profile. Models it runs are written into the run's <paramref name="staging"/> folder.
/// </summary>
internal sealed class EditReadings(RemediationRun.Context c, string staging)
{
    /// <summary>Exemplars decoded as the model's input, each once: a linear-probe bound reads the same ones at every checkpoint.</summary>
    private readonly Dictionary<string, (float[]? Values, string? Problem)> _decoded = new(StringComparer.Ordinal);

    /// <summary>The forget clauses whose policy bounds the linear probe (<c>metrics.maxLinearProbeAccuracy</c>), with the bound.</summary>
    internal List<(ProbeSet Set, double Max)> BoundedProbes()
        => [.. ProbeSets(c.Policies, c.Manifest).Where(s => s.Policy.Metrics?.MaxLinearProbeAccuracy is not null).Select(s => (s, s.Policy.Metrics!.MaxLinearProbeAccuracy!.Value))];

    /// <summary>
    /// The linear-probe bounds an edit misses at the edit site's input (the original where <paramref name="weights"/> is null, its features as
    /// recorded by the verify pass; an edit's read by running the model with its weights), as judgements are listed among a setting's misses.
    /// </summary>
    internal List<string> ProbeMisses(IReadOnlyList<InitializerOverride>? weights, List<(ProbeSet Set, double Max)> bounded)
    {
        if (bounded.Count == 0)
        {
            return [];
        }

        Dictionary<(ProbeSet Set, string Depth), LinearProbeReport> probes;
        if (weights is null)
        {
            var recorded = LinearProbes(c.Policies, c.Manifest, c.Plan);
            probes = bounded.ToDictionary(b => (b.Set, c.Site.Input), b => recorded[(b.Set.Policy.Id, b.Set.Clause.Concept)]);
        }
        else
        {
            var input = Decoded(c.Options.Kind!.TrainingInput(c.Manifest)!);
            var sets = bounded.Select(b => b.Set).ToList();
            probes = ProbesAt(sets, Features(c.Plan.Model, weights, input, [c.Site.Input], sets.SelectMany(s => s.Own.Concat(s.Negatives)), staging));
        }

        var misses = bounded.Select(b => (b.Set, b.Max, Probe: probes[(b.Set, c.Site.Input)])).Where(b => Thresholds.Above(b.Probe.Accuracy.CiHigh, b.Max))
            .Select(b => (b.Set.Policy, b.Set.Clause, b.Probe, b.Max)).ToList();
        return [.. ProbeMissDiagnostics(misses, c.Site).Select(d => $"{d.Code} {d.Message}")];
    }

    /// <summary>
    /// Per fitted forget exemplar, the features the feature-level term pulls it towards at the edit site's input: the mean of the features the
    /// verify pass recorded for the fitted retain exemplars of the classes it may be recognised as instead (its siblings, for a fine concept).
    /// </summary>
    /// <remarks>
    /// One point among the siblings' features, not a sibling exemplar's each: a mapping every forget exemplar shares is learnt by the held-out
    /// ones too, and a linear probe cannot tell a point from the classes whose mean it is (it would have to cut one of them off).
    /// </remarks>
    internal Dictionary<string, float[]> ForgetFeatureTargets(UnlearningProblem problem)
    {
        var retained = problem.Retain.ToDictionary(r => r.File, r => r.Activation, StringComparer.Ordinal);
        var byLabel = new Dictionary<int, HashSet<string>>();
        foreach (var policy in c.Policies)
        {
            foreach (var clause in policy.Retain)
            {
                if (ConceptBinding.Bind(policy, policy.GetConcept(clause.Concept), c.Manifest, string.Empty, new DiagnosticBag()) is { FineLabel: >= 0 } bound)
                {
                    var files = byLabel.TryGetValue(bound.FineLabel, out var set) ? set : byLabel[bound.FineLabel] = new HashSet<string>(StringComparer.Ordinal);
                    files.UnionWith(bound.Concept.Files.Where(retained.ContainsKey));
                }
            }
        }

        var means = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var targets = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var (file, _) in problem.Forget)
        {
            var allowed = problem.Targets[file].Allowed.Where(byLabel.ContainsKey).Order().ToList();
            var key = string.Join(",", allowed);
            if (!means.TryGetValue(key, out var mean))
            {
                var features = allowed.SelectMany(l => byLabel[l]).Distinct(StringComparer.Ordinal).Select(f => retained[f]).ToList();
                mean = features.Count == 0 ? [] : new float[features[0].Length];
                foreach (var f in features)
                {
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(f, 1f / features.Count, mean, mean);
                }

                means[key] = mean;
            }

            if (mean.Length > 0)
            {
                targets[file] = mean;
            }
        }

        return targets;
    }

    /// <summary>The same input, each exemplar decoded once per run.</summary>
    private TrainingInput Decoded(TrainingInput input)
        => input with { Read = file => _decoded.TryGetValue(file, out var known) ? known : _decoded[file] = input.Read(file) };

    /// <summary>Each policy's forget clauses: the policy, the concept and its exemplar files.</summary>
    internal List<(string Policy, string Concept, IReadOnlyList<string> Files)> ForgetClauses()
        => [.. c.Policies.SelectMany(p => p.Forget.Select(f => (p.Id, f.Concept, (IReadOnlyList<string>)p.GetConcept(f.Concept).Files)))];

    /// <summary>The kept edit's recovery profile: each forget clause's linear probe at every depth it trained and at the edit site's input, before and after; null where the kind feeds no single input tensor.</summary>
    internal List<RecoveryDepth>? Profile(IReadOnlyList<InitializerOverride> weights)
    {
        if (c.Options.Kind!.TrainingInput(c.Manifest) is not { } fed)
        {
            return null;
        }

        var input = Decoded(fed);
        var sets = ProbeSets(c.Policies, c.Manifest);
        var depths = Depths(c.Plan.Model, [.. weights.Select(w => w.Name)], c.Site);
        var files = sets.SelectMany(s => s.Own.Concat(s.Negatives)).Distinct(StringComparer.Ordinal).ToList();
        Dictionary<(ProbeSet Set, string Depth), LinearProbeReport> before, after;
        try
        {
            before = ProbesAt(sets, Features(c.Plan.Model, null, input, depths, files, staging));
            after = ProbesAt(sets, Features(c.Plan.Model, weights, input, depths, files, staging));
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            // A model that runs only one exemplar at a time, say: the profile is a record for the auditor, not a threshold, and is left out.
            return null;
        }

        return [.. from set in sets
                   from depth in depths
                   select new RecoveryDepth(set.Policy.Id, set.Clause.Concept, depth, depth == c.Site.Input, set.Against, before[(set, depth)].Accuracy, after[(set, depth)].Accuracy)];
    }
}
