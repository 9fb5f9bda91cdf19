using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using KtuGate.Verdicts;
using static KtuGate.LinearProbing;
using static KtuGate.Remediation;
using static KtuGate.RemediationOutput;


namespace KtuGate;

/// <summary>
/// One remediation of one artifact: the problem (targets and recorded site inputs), a staging folder, each method's candidates judged
/// (in memory where exact, else by ONNX Runtime with initializer overrides), the first pass written, probed again and published.
/// </summary>
internal sealed class RemediationRun(RemediationRun.Context c)
{
    /// <summary>Whether candidates are judged on every exemplar (KTU4021): none is then held out from the edit.</summary>
    private bool _judgedOnAll;

    /// <summary>What a remediation is asked to do.</summary>
    internal sealed record Context(
        GateModelInput Input, ModelManifest Manifest, IReadOnlyList<Policy> Policies, IReadOnlyList<Policy> Allowed, Checked Verified, SitePlan Plan,
        GateRequest Request, string BaseDirectory, DiagnosticBag Diagnostics, CheckOptions Options, CancellationToken CancellationToken)
    {
        /// <summary>The site the methods edit (every method today supports single-site plans).</summary>
        public EditSite Site => Plan.Edits.Sites[0];
    }

    /// <summary>Remediates for the failing forget clauses <paramref name="targets"/>.</summary>
    public Checked Run(IReadOnlyList<ClauseVerdict> targets)
    {
        // Every threshold is judged on the held-out part: where it is too small to show one, no edit could pass, and none is tried. A kind
        // that unlearns with its own losses (a decoder's answers, a few records per subject) is judged on every exemplar instead, and says so.
        var own = c.Options.Kind!.Unlearning;
        if (HeldOutTooFew() is { Count: > 0 } tooFew)
        {
            if (own is null)
            {
                c.Diagnostics.AddRange(tooFew);
                return c.Verified;
            }

            _judgedOnAll = true;
            c.Diagnostics.Add(DiagnosticCodes.JudgedOnFitted, tooFew[0].Location, tooFew.Count,
                string.Join(", ", c.Allowed.Select(p => Thresholds.Text(p.Remedy.HoldOut)).Distinct()), ManifestKinds.NameOf(c.Manifest.Kind));
        }

        var problem = own is null ? Problem(targets) : null;
        var outputDirectory = c.Request.OutputDirectory ?? c.Request.ReportDirectory ?? c.Plan.Folder;
        var outputPath = Path.Combine(outputDirectory, Path.GetFileName(c.Input.Artifact));
        if (string.Equals(Path.GetFullPath(outputPath), Path.GetFullPath(c.Input.Artifact), StringComparison.Ordinal))
        {
            c.Diagnostics.Add(DiagnosticCodes.OutputIsInput, new SourceLocation(c.Input.Artifact), c.Input.Artifact);
            return c.Verified;
        }

        var folders = new RemediationStaging(c);
        var manifest = folders.ManifestCopy(outputPath);
        if (manifest is { Conflict: true })
        {
            return c.Verified;
        }

        // Candidates and the external-data files they refer to live in a staging folder of this run's own inside the output folder
        // (so that publishing is a rename); it is removed on every way out: success, failure, an exception or cancellation. Folders
        // this run created for it go too unless something was published there: a failed run leaves no empty output folder behind.
        var created = RemediationStaging.Missing(outputDirectory);
        var staging = Path.Combine(outputDirectory, $"{StagingPrefix}{Environment.ProcessId}.{Guid.NewGuid():N}");
        var externals = OnnxGraph.ExternalFiles(c.Plan.Model);
        try
        {
            if (!folders.Stage(staging, externals, outputPath))
            {
                return c.Verified;
            }

            var candidatePath = Path.Combine(staging, Path.GetFileName(c.Input.Artifact));
            var searching = new CandidateSearch(c, _judgedOnAll, staging);
            var (search, forgetCount, retainCount) = problem is not null ? (searching.Search(problem, candidatePath), problem.Forget.Count, problem.Retain.Count)
                : searching.SearchOwn(own!, targets, candidatePath);
            var published = manifest is { Bytes: { } bytes } ? RemediationStaging.StageManifest(staging, externals, outputPath, bytes) : externals;
            return Finish(search, forgetCount, retainCount, staging, externals, published, outputPath);
        }
        finally
        {
            folders.RemoveStaging(staging);
            RemediationStaging.RemoveEmpty(created);
        }
    }

    /// <summary>KTU4020 for each clause whose held-out exemplars could not show its threshold: an upper bound with none recognised, a floor with none at all.</summary>
    private List<Diagnostic> HeldOutTooFew()
    {
        var problems = new List<Diagnostic>();
        foreach (var policy in c.Policies)
        {
            var clauses = policy.Forget.Select(f => (f.Concept, f.Location, Max: (double?)f.MaxAccuracy))
                .Concat(policy.Retain.Select(r => (r.Concept, r.Location, Max: (double?)null)));
            foreach (var (concept, location, max) in clauses)
            {
                var files = policy.GetConcept(concept).Files;
                var held = ExemplarSplit.Judged.Of(policy, files).Count;
                var needed = max is { } m ? Proportion.ExemplarsNeeded(m) : 1;
                if (needed is null || held < needed)
                {
                    problems.Add(DiagnosticCodes.HeldOutTooFew.Create(location, concept, held, files.Count, Thresholds.Text(policy.Remedy.HoldOut),
                        max is { } bound
                            ? $"an upper bound of {Thresholds.Text(bound)} needs at least {needed?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "more"} with none recognised"
                            : "a retained concept needs at least one"));
                }
            }
        }

        return problems;
    }

    /// <summary>What each forget exemplar must become, and the site inputs recorded for the forget and retain exemplars.</summary>
    /// <remarks>Only exemplars that no policy holds out are fitted on: every threshold is judged on the others.</remarks>
    private UnlearningProblem Problem(IReadOnlyList<ClauseVerdict> targets)
    {
        var manifest = c.Manifest;

        // Class directions in the site's output space, as the kind reads its scores.
        var space = c.Options.Kind!.Space();
        var forgetFiles = new Dictionary<string, ForgetTarget>(StringComparer.Ordinal);
        foreach (var verdict in targets)
        {
            var policy = c.Policies.First(p => p.Id == verdict.Policy);
            var binding = ConceptBinding.Bind(policy, policy.GetConcept(verdict.Concept), manifest, Path.GetFileName(c.Input.Artifact), new DiagnosticBag())!;
            var coarse = verdict.Level == KnowledgeLevel.Coarse;
            var coarseSpace = coarse && space.CoarseHasOwnDirections;
            var classes = coarseSpace ? manifest.Coarse.Count : manifest.Labels.Count;
            var forbidden = coarse
                ? (coarseSpace ? [binding.CoarseGroup] : Enumerable.Range(0, classes).Where(l => manifest.CoarseOfLabel[l] == binding.CoarseGroup).ToHashSet())
                : new HashSet<int> { binding.FineLabel };
            var siblings = coarse ? [] : Enumerable.Range(0, classes).Where(l => l != binding.FineLabel && binding.CoarseGroup >= 0 && manifest.CoarseOfLabel[l] == binding.CoarseGroup).ToList();
            var others = siblings.Count > 0 ? siblings : Enumerable.Range(0, classes).Where(k => !forbidden.Contains(k)).ToList();
            foreach (var file in binding.Concept.Files.Where(f => !HoldOut.HeldOutByAny(c.Policies, f)))
            {
                forgetFiles[file] = new ForgetTarget(space.Directions(coarseSpace), forbidden, others, coarseSpace);
            }
        }

        var retainFiles = c.Policies.SelectMany(p => p.Retain.SelectMany(r => p.GetConcept(r.Concept).Files).Concat(p.GeneralFiles))
            .Where(f => !forgetFiles.ContainsKey(f) && !HoldOut.HeldOutByAny(c.Policies, f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var forget = Recorded(c.Plan.Activations, forgetFiles.Keys.Order(StringComparer.Ordinal));
        var retain = Recorded(c.Plan.Activations, retainFiles);
        var edit = new ClosedFormEdit(c.Plan.Weight, c.Plan.Bias, retain.Select(r => r.Activation).ToList(), forget.Select(f => f.Activation).ToList());
        var forgetOutputs = forget.Select(f => edit.Output(f.Activation)).ToList();
        var typicalScale = forgetOutputs.Count == 0 ? 1.0 : forgetOutputs.Average(Norm);
        return new UnlearningProblem(edit, c.Plan.Weight, c.Plan.Bias, forget, retain, forgetOutputs, forgetFiles, space, manifest, space.ClosedFormMargin(typicalScale));
    }

    /// <summary>The scope a remediation for <paramref name="allowed"/> (the policies that allow it) tries, and where it was written.</summary>
    internal static (IReadOnlyList<string> Scope, SourceLocation? Location) ScopeOf(GateRequest request, IReadOnlyList<Policy> allowed)
        => request.RemedyScope is { Count: > 0 } requested
            ? (requested, null)
            : ([.. allowed.SelectMany(p => p.Remedy.Scope).Distinct(StringComparer.Ordinal)], allowed.Select(p => p.Remedy.ScopeLocation).FirstOrDefault(l => l is not null));

    /// <summary>Reports a search that found nothing (KTU4001), or publishes the chosen artifact (<paramref name="published"/>: its external data and manifest copy, moved in first) and reports it with the search.</summary>
    private Checked Finish(SearchResult search, int forgetCount, int retainCount, string staging, IReadOnlyList<string> externals, IReadOnlyList<string> published, string outputPath)
    {
        var (site, input, digests) = (c.Site, c.Input, c.Options.Digests);
        var siteInfo = new EditSiteInfo(site.Node, site.Input, site.Weight, site.Bias, site.Inputs, site.Outputs);
        var original = FileDigests.Of(c.BaseDirectory, input.Artifact, digests)!;
        var tried = search.Tried;
        if (search.Chosen is not { Report: not null } result || search.Bytes is null)
        {
            var triedMethods = string.Join(", ", tried.Select(t => t.Method).Distinct());
            c.Diagnostics.Add(DiagnosticCodes.RemediationFailed, new SourceLocation(input.Artifact), Path.GetFileName(input.Artifact),
                $"{tried.Count} settings of {(triedMethods.Length == 0 ? "no method" : triedMethods)}", tried.Count == 0 ? 0 : tried.Min(t => t.Violations));
            var none = new RemediationReport(triedMethods, siteInfo, original, null, forgetCount, retainCount, tried) { JudgedInMemory = search.JudgedInMemory, HeldOutExemplars = _judgedOnAll ? 0 : HeldOutCount() };

            // Every setting was judged against the original as baseline: the verify pass's "no baseline" (KTU3004) on the metrics says
            // nothing about them (KTU4001 and each setting's Q-U say what they missed); one the settings missed too is kept.
            var missedToo = tried.SelectMany(t => t.Missed).ToHashSet(StringComparer.Ordinal);
            var judgements = tried.Count == 0 ? c.Verified.Judgements
                : [.. c.Verified.Judgements.Where(d => d.Code != DiagnosticCodes.BaselineMissing.Code || missedToo.Contains($"{d.Code} {d.Message}"))];
            return c.Verified with { Report = c.Verified.Report! with { Remediation = none }, Judgements = judgements };
        }

        if (Publish(staging, published, outputPath, search.Bytes) is { } publishProblem)
        {
            c.Diagnostics.Add(DiagnosticCodes.RemediationWriteFailed, new SourceLocation(input.Artifact), outputPath, publishProblem);
            return c.Verified;
        }

        var written = FileDigests.Of(c.BaseDirectory, outputPath)!;
        var report = result.Report with
        {
            Clauses = result.Report.Clauses.Select(clause => clause with { Fit = FitRate(search.Fitted, clause) }).ToList(),
            Artifact = written,
            ExternalData = FileDigests.External(c.BaseDirectory, outputPath, externals, digests, c.Diagnostics),
            Remediation = new RemediationReport(search.Method!, siteInfo, original, written, forgetCount, retainCount, tried)
            {
                JudgedInMemory = search.JudgedInMemory,
                HeldOutExemplars = _judgedOnAll ? 0 : HeldOutCount(),
                OriginalExternalData = FileDigests.External(c.BaseDirectory, input.Artifact, externals, digests, c.Diagnostics),
                Scope = search.Trained?.Scope,
                TrainedInitializers = search.Trained?.Initializers,
                ChangedParameters = search.Trained?.Changed,
                RecoveryProfile = search.Profile,
            },
        };
        return result with { Report = report };
    }

    /// <summary>How many distinct exemplars some policy holds out from the edit (concepts' and general).</summary>
    private int HeldOutCount()
        => c.Policies.SelectMany(p => p.Forget.Select(f => f.Concept).Concat(p.Retain.Select(r => r.Concept)).SelectMany(k => p.GetConcept(k).Files).Concat(p.GeneralFiles)
            .Where(f => HoldOut.IsHeldOut(p, f))).Distinct(StringComparer.Ordinal).Count();

    /// <summary>A clause's rate on the exemplars the edit was fitted on.</summary>
    private static RateInfo? FitRate(IReadOnlyList<ClauseVerdict> fitted, ClauseReport clause)
        => ReportAssembly.Rate(fitted.FirstOrDefault(v => v.Policy == clause.Policy && v.Kind == clause.Kind && v.Concept == clause.Concept
            && ClauseJudge.LevelName(v.Level) == clause.Level)?.Measured);
}
