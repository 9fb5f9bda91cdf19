using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using static KtuGate.ModelCheck;
using static KtuGate.ReportAssembly;

namespace KtuGate;

/// <summary>Plans the edit site before the verify pass (which records the lowest site's inputs) and asks what a linear probe can still read there.</summary>
internal static class LinearProbing
{
    /// <summary>Reads the artifact's graph and finds its edit site; problems go to <paramref name="problems"/>, to be reported only if remediation is needed.</summary>
    internal static SitePlan? PlanSite(GateModelInput input, ModelManifest manifest, DiagnosticBag problems, ModelLimits limits)
    {
        var model = OnnxGraph.Load(input.Artifact, problems, limits);
        if (model is null)
        {
            return null;
        }

        var site = OnnxGraph.FindSite(model, manifest.Output.Name, manifest.EditSite);
        var node = site is null ? null : model.Graph.Node.First(n => (n.Name.Length > 0 ? n.Name : n.Output[0]) == site.Node);
        var misfit = site is null ? null : ModelKinds.Of(manifest).SiteProblem(manifest, site, node!.Output[0]);
        if (site is null || misfit is not null)
        {
            problems.Add(DiagnosticCodes.NoEditSite, new SourceLocation(input.Artifact), manifest.Output.Name,
                misfit ?? (manifest.EditSite is null ? string.Empty : $" named '{manifest.EditSite}' (the manifest's editSite)"));
            return null;
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(input.Artifact))!;
        try
        {
            // The site's weights are read under the same rules as every external-data reference (checked again as the file is opened).
            var (weight, bias) = OnnxGraph.ReadSite(model, site, input.Artifact);
            var edits = new EditPlan([site]);
            return new SitePlan(model, edits, weight, bias, folder, new SiteActivations(edits.Lowest.Input, edits.Lowest.Inputs), OnnxGraph.WithOutput(model, edits.Lowest.Input));
        }
        catch (ExternalDataException e)
        {
            problems.Add(e.Diagnostic);
            return null;
        }
    }

    /// <summary>
    /// For every forget clause: can a linear probe on the edit site's recorded inputs still tell the concept's exemplars from its
    /// siblings' (the other labels of its coarse group, for a fine concept), or from every other exemplar the policy names?
    /// </summary>
    internal static Dictionary<(string Policy, string Concept), LinearProbeReport> LinearProbes(IReadOnlyList<Policy> policies, ModelManifest manifest, SitePlan plan)
    {
        var result = new Dictionary<(string, string), LinearProbeReport>();
        foreach (var set in ProbeSets(policies, manifest))
        {
            var score = LinearProbe.Score(
                Recorded(plan.Activations, set.Own).Select(a => a.Activation).ToList(),
                Recorded(plan.Activations, set.Negatives).Select(a => a.Activation).ToList());
            result[(set.Policy.Id, set.Clause.Concept)] = new LinearProbeReport(plan.Edits.Lowest.Input, set.Against, Rate(score)!);
        }

        return result;
    }

    /// <summary>Per forget clause, the exemplars a linear probe tells apart: the concept's own, and its siblings' (or every other exemplar's where it has none).</summary>
    internal static List<ProbeSet> ProbeSets(IReadOnlyList<Policy> policies, ModelManifest manifest)
    {
        var sets = new List<ProbeSet>();
        foreach (var policy in policies)
        {
            // Every exemplar the policy names, with its label: its concepts' and the general set's.
            var labelled = new List<(string File, int Label)>();
            foreach (var name in policy.Forget.Select(c => c.Concept).Concat(policy.Retain.Select(c => c.Concept)).Distinct(StringComparer.Ordinal))
            {
                if (ConceptBinding.Bind(policy, policy.GetConcept(name), manifest, string.Empty, new DiagnosticBag()) is { FineLabel: >= 0 } bound)
                {
                    labelled.AddRange(bound.Concept.Files.Select(f => (f, bound.FineLabel)));
                }
            }

            labelled.AddRange(GeneralSet(policy, manifest, new DiagnosticBag()).SelectMany(g => g.Files.Select(f => (f, g.Label))));
            foreach (var clause in policy.Forget)
            {
                if (ConceptBinding.Bind(policy, policy.GetConcept(clause.Concept), manifest, string.Empty, new DiagnosticBag()) is not { } binding)
                {
                    continue;
                }

                var fine = clause.Level == KnowledgeLevel.Fine && binding.FineLabel >= 0;
                var own = binding.Concept.Files.ToHashSet(StringComparer.Ordinal);
                var others = labelled.Where(x => !own.Contains(x.File) && (fine ? x.Label != binding.FineLabel : manifest.CoarseOfLabel[x.Label] != binding.CoarseGroup))
                    .DistinctBy(x => x.File).ToList();
                var siblings = fine && binding.CoarseGroup >= 0 ? others.Where(x => manifest.CoarseOfLabel[x.Label] == binding.CoarseGroup).ToList() : [];
                var negatives = siblings.Count > 0 ? siblings : others;
                sets.Add(new ProbeSet(policy, clause, binding.Concept.Files, [.. negatives.Select(x => x.File)], siblings.Count > 0 ? "siblings" : "others"));
            }
        }

        return sets;
    }

    /// <summary>
    /// The depths a recovery profile probes: the output of every node that reads a trained initializer, and the edit site's input (the
    /// penultimate features), in the model's order.
    /// </summary>
    internal static IReadOnlyList<string> Depths(global::Onnx.ModelProto model, IReadOnlyList<string> trained, EditSite site)
    {
        var weights = trained.ToHashSet(StringComparer.Ordinal);
        var nodes = model.Graph.Node.ToList();
        return [.. nodes.Where(n => n.Input.Any(weights.Contains) || n.Output.Contains(site.Input)).Select(n => n.Output.Contains(site.Input) ? site.Input : n.Output[0]).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Each file's features at each of <paramref name="tensors"/>, as the model with <paramref name="weights"/> (where given) gives them, run on the CPU; files it cannot read are left out.</summary>
    /// <param name="model">The model.</param>
    /// <param name="weights">Initializers to replace, or null for the model as it is.</param>
    /// <param name="input">How an exemplar file becomes the model's input.</param>
    /// <param name="tensors">The tensors to read.</param>
    /// <param name="files">The exemplar files.</param>
    /// <param name="folder">
    /// A folder holding the model's external-data files (a remediation's staging folder, where they are copied): the model is written there
    /// for ONNX Runtime to open, so that its external data resolve as they do beside the artifact.
    /// </param>
    internal static Dictionary<string, Dictionary<string, float[]>> Features(global::Onnx.ModelProto model, IReadOnlyList<InitializerOverride>? weights, TrainingInput input,
        IReadOnlyList<string> tensors, IEnumerable<string> files, string folder)
    {
        var edited = weights is null ? model : global::Onnx.ModelProto.Parser.ParseFrom(OnnxGraph.WithInitializers(model, weights));
        _ = SessionFactory.OnnxRuntimeVersion;
        var path = Path.Combine(folder, $"ktu-features.{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, OnnxGraph.WithOutputs(edited, tensors));
        try
        {
            return Run(path, input, tensors, files);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Dictionary<string, Dictionary<string, float[]>> Run(string path, TrainingInput input, IReadOnlyList<string> tensors, IEnumerable<string> files)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        var result = tensors.ToDictionary(t => t, _ => new Dictionary<string, float[]>(StringComparer.Ordinal), StringComparer.Ordinal);
        var readable = files.Distinct(StringComparer.Ordinal).Select(f => (File: f, input.Read(f).Values)).Where(x => x.Values is not null).ToList();
        const int block = 64;
        for (var start = 0; start < readable.Count; start += block)
        {
            var count = Math.Min(block, readable.Count - start);
            var size = readable[start].Values!.Length;
            var values = new float[count * size];
            for (var k = 0; k < count; k++)
            {
                readable[start + k].Values!.CopyTo(values, k * size);
            }

            using var fed = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(values, [count, .. input.Shape]);
            using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
            using var outputs = session.Run(runOptions, [input.Name], [fed], tensors);
            for (var t = 0; t < tensors.Count; t++)
            {
                var y = outputs[t].GetTensorDataAsSpan<float>();
                var width = y.Length / count;
                for (var k = 0; k < count; k++)
                {
                    result[tensors[t]][readable[start + k].File] = y.Slice(k * width, width).ToArray();
                }
            }
        }

        return result;
    }

    /// <summary>Each probe set's linear probe at each depth, on features read by <see cref="Features"/>.</summary>
    internal static Dictionary<(ProbeSet Set, string Depth), LinearProbeReport> ProbesAt(IReadOnlyList<ProbeSet> sets, Dictionary<string, Dictionary<string, float[]>> features)
    {
        var result = new Dictionary<(ProbeSet, string), LinearProbeReport>();
        foreach (var set in sets)
        {
            foreach (var (depth, byFile) in features)
            {
                List<float[]> Of(IEnumerable<string> files) => [.. files.Select(f => byFile.GetValueOrDefault(f)).OfType<float[]>()];
                result[(set, depth)] = new LinearProbeReport(depth, set.Against, Rate(LinearProbe.Score(Of(set.Own), Of(set.Negatives)))!);
            }
        }

        return result;
    }

    /// <summary>Forget clauses whose linear probe reads the concept out above the policy's bound (judged on the upper bound).</summary>
    internal static List<(Policy Policy, ForgetClause Clause, LinearProbeReport Probe, double Max)> LinearProbeMisses(
        IReadOnlyList<Policy> policies, Dictionary<(string Policy, string Concept), LinearProbeReport> probes, EditSite site)
        => [.. from policy in policies
               where policy.Metrics?.MaxLinearProbeAccuracy is not null
               from clause in policy.Forget
               where probes.TryGetValue((policy.Id, clause.Concept), out var probe) && Thresholds.Above(probe.Accuracy.CiHigh, policy.Metrics!.MaxLinearProbeAccuracy!.Value)
               select (policy, clause, probes[(policy.Id, clause.Concept)], policy.Metrics!.MaxLinearProbeAccuracy!.Value)];

    internal static IReadOnlyList<Diagnostic> ProbeMissDiagnostics(List<(Policy Policy, ForgetClause Clause, LinearProbeReport Probe, double Max)> misses, EditSite site)
    {
        var bag = new DiagnosticBag();
        foreach (var (policy, clause, probe, max) in misses)
        {
            bag.Add(DiagnosticCodes.MetricMissed, clause.Location, policy.Id,
                $"'{clause.Concept}' linear-probe accuracy against its {probe.Against} below the edit site '{site.Node}' (upper bound)",
                Thresholds.Value(probe.Accuracy.CiHigh, max), "above the allowed", Thresholds.Text(max));
        }

        return bag.Items;
    }

    internal static List<(string File, float[] Activation)> Recorded(SiteActivations activations, IEnumerable<string> files)
        => files.Select(f => (File: f, Activation: activations.Get(Perturbation.None, f))).Where(x => x.Activation is not null).Select(x => (x.File, x.Activation!)).ToList();

    /// <summary>The model's result with each forget clause's linear-probe reading, and the bounds the probes missed among its judgements.</summary>
    internal static Checked WithLinearProbes(Checked checkedModel, Dictionary<(string Policy, string Concept), LinearProbeReport> probes, IReadOnlyList<Diagnostic> misses)
        => checkedModel.Report is not { } report ? checkedModel : checkedModel with
        {
            Report = report with
            {
                Clauses = report.Clauses.Select(c => c.Kind == "forget" && probes.TryGetValue((c.Policy, c.Concept), out var probe) ? c with { LinearProbe = probe } : c).ToList(),
            },
            Judgements = [.. checkedModel.Judgements, .. misses],
        };
}

/// <summary>A forget clause's linear-probe exemplars: the concept's own files and those it is told apart from.</summary>
/// <param name="Policy">The policy.</param>
/// <param name="Clause">The forget clause.</param>
/// <param name="Own">The concept's exemplar files.</param>
/// <param name="Negatives">Its siblings' files, or every other exemplar's where it has none.</param>
/// <param name="Against">"siblings" or "others".</param>
internal sealed record ProbeSet(Policy Policy, ForgetClause Clause, IReadOnlyList<string> Own, IReadOnlyList<string> Negatives, string Against);

/// <summary>The edit site of an artifact that may be remediated, found before it is verified so that the verify pass records the site's inputs.</summary>
/// <remarks>The inputs recorded are those of the plan's lowest site: what the linear probe reads and what an edit of the plan cannot change.</remarks>
internal sealed record SitePlan(global::Onnx.ModelProto Model, EditPlan Edits, double[,] Weight, double[] Bias, string Folder, SiteActivations Activations, byte[] Instrumented);
