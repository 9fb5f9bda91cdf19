using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Verdicts;

namespace KtuGate;

/// <summary>Probes one artifact and judges every clause, metric, perturbed exemplar and wording of every policy against it.</summary>
internal static class ModelCheck
{
    /// <summary>Probes and judges one artifact; ONNX Runtime failing while it runs the model (e.g. a shape computed at run time that no memory holds) is a coded error (KTU5021), not a crash.</summary>
    internal static Checked CheckModel(
        GateModelInput input, ModelManifest manifest, IReadOnlyList<Policy> policies, GateRequest request,
        string baseDirectory, DiagnosticBag diagnostics, CancellationToken cancellationToken, CheckOptions options)
    {
        try
        {
            return ProbeAndJudge(input, manifest, policies, request, baseDirectory, diagnostics, cancellationToken, options);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            var message = e.Message.ReplaceLineEndings(" ").Trim();
            diagnostics.Add(DiagnosticCodes.ModelRunFailed, new SourceLocation(input.Artifact), Path.GetFileName(input.Artifact), message.Length > 400 ? message[..400] + "..." : message);
            return new Checked(null, [], null, new Dictionary<string, ProbeTally>());
        }
    }

    /// <summary>Probes and judges one artifact (or an edit of it judged from its site's recorded inputs).</summary>
    internal static Checked ProbeAndJudge(
        GateModelInput input, ModelManifest manifest, IReadOnlyList<Policy> policies, GateRequest request,
        string baseDirectory, DiagnosticBag diagnostics, CancellationToken cancellationToken, CheckOptions options)
        => ModelProbe.Run(new ModelProbe.Context(input, manifest, policies, request, baseDirectory, diagnostics, options, cancellationToken));

    /// <summary>
    /// The label a general-set folder stands for: the model's label of that name, else the label that the policy's concepts of that key
    /// (or alias) bind to at fine level, so that folders may be named as the policy names its concepts (a name a parent and its child
    /// share counts where they bind to one label); -1 for neither, or for concepts bound to different labels.
    /// </summary>
    private static int FolderLabel(Policy policy, ModelManifest manifest, string folder)
    {
        var label = ConceptBinding.FindLabel(manifest, folder);
        if (label >= 0)
        {
            return label;
        }

        var bound = policy.Concepts.Where(c => c.Names.Any(n => ConceptBinding.Normalize(n) == ConceptBinding.Normalize(folder)))
            .Select(c => ConceptBinding.Bind(policy, c, manifest, string.Empty, new DiagnosticBag()) is { FineLabel: >= 0 } b ? b.FineLabel : -1)
            .Where(l => l >= 0).Distinct().ToList();
        return bound.Count == 1 ? bound[0] : -1;
    }

    /// <summary>A policy's general probe files grouped by the label their folder names (KTU2018 for a folder that names none), without the labels the policy forgets: general accuracy measures unrelated knowledge.</summary>
    internal static IReadOnlyList<(int Label, IReadOnlyList<string> Files)> GeneralSet(Policy policy, ModelManifest manifest, DiagnosticBag diagnostics)
    {
        var forgotten = new HashSet<int>();
        foreach (var clause in policy.Forget)
        {
            if (ConceptBinding.Bind(policy, policy.GetConcept(clause.Concept), manifest, string.Empty, new DiagnosticBag()) is not { } binding)
            {
                continue;
            }

            forgotten.UnionWith(clause.Level == KnowledgeLevel.Fine || binding.CoarseGroup < 0
                ? [binding.FineLabel]
                : Enumerable.Range(0, manifest.Labels.Count).Where(l => manifest.CoarseOfLabel[l] == binding.CoarseGroup));
        }

        var groups = new List<(int, IReadOnlyList<string>)>();
        foreach (var folder in policy.GeneralFiles.GroupBy(f => Path.GetFileName(Path.GetDirectoryName(f))!))
        {
            var label = FolderLabel(policy, manifest, folder.Key);
            if (label < 0)
            {
                diagnostics.Add(DiagnosticCodes.GeneralLabelUnknown, new SourceLocation(policy.Path), folder.Key, string.Join(", ", manifest.Labels));
                continue;
            }

            if (!forgotten.Contains(label))
            {
                groups.Add((label, folder.ToList()));
            }
        }

        return groups;
    }

    internal static LoadedModel? OpenBaseline(string path, ModelManifest manifest, GateRequest request, DiagnosticBag diagnostics)
    {
        var local = new DiagnosticBag();
        var baseline = LoadedModel.Open(path, manifest, request.ExecutionProvider, local, request.Limits);
        foreach (var d in local.Items.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            diagnostics.Add(DiagnosticCodes.BaselineInvalid, new SourceLocation(path), path, d.Message);
        }

        return baseline;
    }

    internal static void CheckLevel(ConceptBinding binding, KnowledgeLevel level, SourceLocation location, ModelManifest manifest, string modelName, DiagnosticBag diagnostics)
    {
        string? problem = null;
        if (level == KnowledgeLevel.Fine && binding.FineLabel < 0)
        {
            problem = $"it names the coarse group '{manifest.Coarse[binding.CoarseGroup].Name}', not a label";
        }
        else if (level == KnowledgeLevel.Coarse && binding.CoarseGroup < 0)
        {
            problem = $"label '{manifest.Labels[binding.FineLabel]}' is in no coarse group of the manifest";
        }

        if (problem is not null)
        {
            diagnostics.Add(DiagnosticCodes.LevelNotInModel, location, binding.Concept.Name, ClauseJudge.LevelName(level), modelName, problem);
        }
    }

    internal static ConceptMeasurement Measure(ConceptBinding binding, ModelManifest manifest, ProbeTally tally)
    {
        Proportion? fine = binding.FineLabel >= 0 ? new Proportion(tally.PredictedCounts[binding.FineLabel], tally.N) : null;
        Proportion? coarse = null;
        if (binding.CoarseGroup >= 0 && tally.CoarsePredictedCounts is { } coarseCounts)
        {
            // A dual encoder predicts the coarse group among the groups' own prompts.
            coarse = new Proportion(coarseCounts[binding.CoarseGroup], tally.N);
        }
        else if (binding.CoarseGroup >= 0)
        {
            var inGroup = 0;
            for (var label = 0; label < manifest.Labels.Count; label++)
            {
                if (manifest.CoarseOfLabel[label] == binding.CoarseGroup)
                {
                    inGroup += tally.PredictedCounts[label];
                }
            }

            coarse = new Proportion(inGroup, tally.N);
        }

        return new ConceptMeasurement(
            binding.Concept.Name,
            binding.FineLabel >= 0 ? manifest.Labels[binding.FineLabel] : null,
            binding.CoarseGroup >= 0 ? manifest.Coarse[binding.CoarseGroup].Name : null,
            fine,
            coarse,
            manifest.Labels.Select((l, i) => KeyValuePair.Create(l, tally.PredictedCounts[i])).ToList());
    }

    /// <summary>Turns a probe's exemplar count into <see cref="ProbeProgress"/> reports, synchronously, counted into its pass too.</summary>
    internal sealed class Progress(IProgress<ProbeProgress> target, string model, string concept, int total, string phase, int passDone, int passTotal) : IProgress<int>
    {
        public void Report(int value) => target.Report(new ProbeProgress(model, concept, value, total) { Phase = phase, PassDone = passDone + value, PassTotal = passTotal });
    }
}
