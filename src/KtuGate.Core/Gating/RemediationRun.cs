using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using KtuGate.Verdicts;
using static KtuGate.LinearProbing;
using static KtuGate.ModelCheck;
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

    /// <summary>Exemplars decoded as the model's input, each once: a linear-probe bound reads the same ones at every checkpoint.</summary>
    private readonly Dictionary<string, (float[]? Values, string? Problem)> _decoded = new(StringComparer.Ordinal);

    /// <summary>The run's staging folder (with the artifact's external data copied), where models the linear probes run are written.</summary>
    private string _staging = string.Empty;

    /// <summary>What a remediation is asked to do.</summary>
    internal sealed record Context(
        GateModelInput Input, ModelManifest Manifest, IReadOnlyList<Policy> Policies, IReadOnlyList<Policy> Allowed, Checked Verified, SitePlan Plan,
        GateRequest Request, string BaseDirectory, DiagnosticBag Diagnostics, CheckOptions Options, CancellationToken CancellationToken)
    {
        /// <summary>The site the methods edit (every method today supports single-site plans).</summary>
        public EditSite Site => Plan.Edits.Sites[0];
    }

    /// <summary>How a search over the candidates ended: every attempt, and the chosen one if any passed (with its verdicts on the exemplars it was fitted on).</summary>
    private sealed record SearchResult(List<RemediationAttemptInfo> Tried, Checked? Chosen, byte[]? Bytes, string? Method, bool JudgedInMemory)
    {
        public IReadOnlyList<ClauseVerdict> Fitted { get; init; } = [];

        /// <summary>What the kept edit trained, how many initializers and how many parameters it changed.</summary>
        public (IReadOnlyList<string> Scope, int Initializers, long Changed)? Trained { get; init; }

        /// <summary>The kept edit's recovery profile: each forget clause's linear probe at every depth it trained, before and after.</summary>
        public IReadOnlyList<RecoveryDepth>? Profile { get; init; }
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

        var manifest = ManifestCopy(outputPath);
        if (manifest is { Conflict: true })
        {
            return c.Verified;
        }

        // Candidates and the external-data files they refer to live in a staging folder of this run's own inside the output folder
        // (so that publishing is a rename); it is removed on every way out: success, failure, an exception or cancellation. Folders
        // this run created for it go too unless something was published there: a failed run leaves no empty output folder behind.
        var created = Missing(outputDirectory);
        var staging = Path.Combine(outputDirectory, $"{StagingPrefix}{Environment.ProcessId}.{Guid.NewGuid():N}");
        var externals = OnnxGraph.ExternalFiles(c.Plan.Model);
        try
        {
            if (!Stage(staging, externals, outputPath))
            {
                return c.Verified;
            }

            var candidatePath = Path.Combine(staging, Path.GetFileName(c.Input.Artifact));
            var (search, forgetCount, retainCount) = problem is not null ? (Search(problem, candidatePath), problem.Forget.Count, problem.Retain.Count)
                : SearchOwn(own!, targets, candidatePath);
            var published = manifest is { Bytes: { } bytes } ? StageManifest(staging, externals, outputPath, bytes) : externals;
            return Finish(search, forgetCount, retainCount, staging, externals, published, outputPath);
        }
        finally
        {
            RemoveStaging(staging);
            RemoveEmpty(created);
        }
    }

    /// <summary>
    /// Where the request asks for it (<c>ktu unlearn</c>), the model's manifest for a copy beside the edited artifact, so that the
    /// output can be checked on its own; null bytes where the manifest already lies there. A conflict (KTU5050) where that path is
    /// another input of the run, which is never overwritten.
    /// </summary>
    private (byte[]? Bytes, bool Conflict)? ManifestCopy(string outputPath)
    {
        if (!c.Request.ManifestBesideOutput)
        {
            return null;
        }

        var target = Path.GetFullPath(ManifestParser.DefaultPathFor(outputPath));
        var source = Path.GetFullPath(c.Input.Manifest ?? ManifestParser.DefaultPathFor(c.Input.Artifact));
        if (string.Equals(target, source, StringComparison.Ordinal))
        {
            return (null, false);
        }

        var inputs = c.Request.Models.SelectMany(m => new[] { m.Artifact, m.Manifest ?? ManifestParser.DefaultPathFor(m.Artifact), m.Baseline })
            .Concat(c.Request.Policies).OfType<string>().Select(Path.GetFullPath);
        if (inputs.Contains(target, StringComparer.Ordinal))
        {
            c.Diagnostics.Add(DiagnosticCodes.ManifestCopyOverwritesInput, new SourceLocation(target), target, c.Input.Artifact);
            return (null, true);
        }

        return (ManifestParser.Relocated(File.ReadAllBytes(source), Path.GetDirectoryName(source)!, Path.GetDirectoryName(target)!), false);
    }

    /// <summary>Writes the manifest copy into the staging folder, to be published with the external data, before the artifact; returns the files to publish.</summary>
    private static List<string> StageManifest(string staging, IReadOnlyList<string> externals, string outputPath, byte[] manifest)
    {
        var name = Path.GetFileName(ManifestParser.DefaultPathFor(outputPath));
        File.WriteAllBytes(Path.Combine(staging, name), manifest);
        return [.. externals, name];
    }

    /// <summary>The folders from <paramref name="folder"/> up that do not exist yet, deepest first.</summary>
    private static List<string> Missing(string folder)
    {
        var missing = new List<string>();
        for (var dir = Path.GetFullPath(folder); !string.IsNullOrEmpty(dir) && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            missing.Add(dir);
        }

        return missing;
    }

    /// <summary>Removes the folders this run created where they are still empty (nothing was published into them), deepest first.</summary>
    private static void RemoveEmpty(List<string> created)
    {
        foreach (var dir in created)
        {
            try
            {
                if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process put something there meanwhile; what it put there is not this run's to remove.
            }
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

    /// <summary>Creates the staging folder and copies the artifact's external-data files into it; false, with a coded error, when it cannot.</summary>
    private bool Stage(string staging, IReadOnlyList<string> externals, string outputPath)
    {
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var external in externals)
            {
                // Tensors kept in external files stay there: the edited copy refers to the same files, copied (under the reader's rules) beside it.
                ExternalData.CopyFile(c.Input.Artifact, external, Path.Combine(staging, external));
            }

            return true;
        }
        catch (ExternalDataException e)
        {
            c.Diagnostics.Add(e.Diagnostic);
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            c.Diagnostics.Add(DiagnosticCodes.RemediationWriteFailed, new SourceLocation(c.Input.Artifact), outputPath, e.Message);
            return false;
        }
    }

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
    private SearchResult Search(UnlearningProblem problem, string candidatePath)
    {
        _staging = Path.GetDirectoryName(candidatePath)!;
        var (judge, judgedInMemory, shared, probing) = MakeJudge();
        var (scope, location) = Scope();
        var tried = new List<RemediationAttemptInfo>();
        var bounded = BoundedProbes();

        // An edit of the last layer leaves its inputs as they are: where the original misses a linear-probe bound there, none could pass.
        var belowMissed = bounded.Count > 0 && ProbeMisses(null, bounded).Count > 0;
        try
        {
            var methods = !belowMissed && (scope.Contains(RemedyOptions.LastScope) || scope.Contains(RemedyOptions.AllScope)) ? MethodsFor(c.Request, c.Allowed, c.Plan.Edits).ToList() : [];
            foreach (var candidates in methods.Select(m => m.Candidates(problem).ToList()))
            {
                foreach (var (index, (method, solve)) in candidates.Index())
                {
                    c.CancellationToken.ThrowIfCancellationRequested();
                    Searching(method, index, candidates.Count);
                    var (newWeight, newBias, settingsText) = solve(judgedInMemory ? (w, b) => judge.Judge(Candidate(c.Site, w, b)).Missed.Count == 0 : null);
                    var candidate = Candidate(c.Site, newWeight, newBias);
                    if (judge.Judge(candidate) is { Missed.Count: > 0 } rejected)
                    {
                        tried.Add(Attempt(method, settingsText, rejected.Missed, rejected.Result, judge.Probes));
                        continue;
                    }

                    if (Keep(method, settingsText, OnnxGraph.WithSite(c.Plan.Model, c.Site, newWeight, newBias), candidatePath, shared, tried, judgedInMemory) is { } kept)
                    {
                        var overrides = candidate.Overrides();
                        return kept with
                        {
                            Trained = ([RemedyOptions.LastScope], overrides.Count, Changed(overrides, Candidate(c.Site, c.Plan.Weight, c.Plan.Bias).Overrides())),
                            Profile = Profile(overrides),
                        };
                    }
                }
            }

            if (scope.Any(e => e != RemedyOptions.LastScope) && Deep(scope, location) is { } plain)
            {
                var deep = bounded.Count > 0 ? plain with { Feature = new FeatureTerm(c.Site.Input, ForgetFeatureTargets(problem)) } : plain;
                foreach (var method in DeepMethods(location))
                {
                    var candidates = DeepEdit.Candidates(method, problem, deep, c.Diagnostics, location) ?? [];
                    foreach (var (index, candidate) in candidates.Index())
                    {
                        Searching(candidate.Method, index, candidates.Count);
                        if (TryDeep(candidate, deep.Scope, probing, candidatePath, shared, tried, judgedInMemory, location, bounded) is { } ended)
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

    /// <summary>Tells the progress display which of a method's settings the search tries: <paramref name="judged"/> of <paramref name="settings"/> judged so far.</summary>
    private void Searching(string method, int judged, int settings)
        => c.Request.Progress?.Report(new ProbeProgress(Path.GetFileName(c.Input.Artifact), method, judged, settings)
        {
            Phase = ProgressText.SearchingSettings,
            PassDone = judged,
            PassTotal = settings,
        });

    /// <summary>
    /// Trains one deep candidate, judging its checkpoints by ONNX Runtime, and keeps it where it passes: the search's end (a kept edit, or
    /// nothing where the model cannot be trained), or null to go on with the next.
    /// </summary>
    private SearchResult? TryDeep(
        DeepCandidate candidate, IReadOnlyList<string> scope, ICandidateJudge probing, string candidatePath, CheckOptions shared, List<RemediationAttemptInfo> tried,
        bool judgedInMemory, SourceLocation? location, List<(ProbeSet Set, double Max)>? bounded = null)
    {
        c.CancellationToken.ThrowIfCancellationRequested();
        bounded ??= [];

        // A linear-probe bound runs the model on every exemplar it reads: once per weights, whether asked at a checkpoint or at the end.
        (IReadOnlyList<InitializerOverride> Weights, List<string> Missed)? probed = null;
        List<string> ProbeMissesOf(IReadOnlyList<InitializerOverride> w)
        {
            if (probed is not { } p || !ReferenceEquals(p.Weights, w))
            {
                probed = p = (w, ProbeMisses(w, bounded));
            }

            return p.Missed;
        }

        (IReadOnlyList<InitializerOverride> Weights, (Checked Result, List<string> Missed) Verdict)? last = null;
        if (TrySolve(candidate, w =>
        {
            // A linear-probe bound is judged first: it is cheaper than probing every exemplar set.
            if (ProbeMissesOf(w).Count > 0)
            {
                return false;
            }

            last = (w, probing.Judge(new CandidateEdit([], w)));
            return last.Value.Verdict.Missed.Count == 0;
        }, scope, location) is not { } solved)
        {
            // The model cannot be trained (said with KTU4013): no other method or setting would fare better.
            return new SearchResult(tried, null, null, null, judgedInMemory);
        }

        var (weights, settingsText, changed) = solved;
        var (result, missed) = last is { } l && ReferenceEquals(l.Weights, weights) ? l.Verdict : probing.Judge(new CandidateEdit([], weights));
        missed = [.. missed, .. ProbeMissesOf(weights)];
        if (missed.Count > 0)
        {
            tried.Add(Attempt(candidate.Method, settingsText, missed, result, probed: true));
            return null;
        }

        // A kind that unlearns with its own losses reads its own recovery profile (it has no image exemplars).
        return Keep(candidate.Method, settingsText, OnnxGraph.WithInitializers(c.Plan.Model, weights), candidatePath, shared, tried, judgedInMemory) is { } kept
            ? kept with { Trained = (scope, weights.Count, changed), Profile = c.Options.Kind!.Unlearning is { } own ? own.Recovery(c.Plan.Model, weights, ForgetClauses(), _staging) : Profile(weights) }
            : null;
    }

    /// <summary>
    /// The search of a kind that unlearns with its own losses (<see cref="KindSession.Unlearning"/>): each method the kind can run (one it
    /// cannot is skipped with KTU4022), its candidates over the scope (the kind's default where neither the request nor a policy names one)
    /// judged by ONNX Runtime with the trained initializers overridden, on the held-out part, or on every exemplar where it is too small.
    /// </summary>
    private (SearchResult Search, int Forget, int Retain) SearchOwn(KindUnlearning own, IReadOnlyList<ClauseVerdict> targets, string candidatePath)
    {
        var untimed = c.Request with { Progress = null };
        var onOriginal = new GateModelInput(c.Input.Artifact, c.Input.Manifest, c.Input.Artifact);
        var baseline = c.Verified.Tallies;
        if (!_judgedOnAll)
        {
            // The original on the held-out part, measured the way candidates are, is their baseline there.
            var original = CheckModel(new GateModelInput(c.Input.Artifact, c.Input.Manifest), c.Manifest, c.Policies, untimed, c.BaseDirectory, new DiagnosticBag(),
                c.CancellationToken, c.Options with { Split = ExemplarSplit.Judged });
            baseline = baseline.Concat(original.Tallies).DistinctBy(t => t.Key).ToDictionary();
        }

        var judging = c.Options with { Split = _judgedOnAll ? null : ExemplarSplit.Judged, BaselineTallies = baseline };
        var probing = new OnnxRuntimeJudge((overrides, bag) => CheckModel(onOriginal, c.Manifest, c.Policies, untimed, c.BaseDirectory, bag, c.CancellationToken, judging with { Overrides = overrides }));
        bool Fitted(string file) => _judgedOnAll || !HoldOut.HeldOutByAny(c.Policies, file);
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
            if (own.CannotRun(method) is { } why || method is not GradientMethod gradient)
            {
                c.Diagnostics.Add(DiagnosticCodes.MethodSkipped, location, method.Name, ManifestKinds.NameOf(c.Manifest.Kind), own.CannotRun(method) ?? "it is not a gradient method");
                continue;
            }

            methods.Add(gradient);
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
                        Searching(candidate.Method, index, candidates.Count);
                        if (TryDeep(candidate, scope, probing, candidatePath, judging, tried, judgedInMemory: false, location) is { } ended)
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

    /// <summary>
    /// Writes a candidate the judge passed and probes what was written (only a probed pass ships); the kept result, with its verdicts on the
    /// exemplars it was fitted on, or null (the attempt recorded) where the probe found a miss.
    /// </summary>
    private SearchResult? Keep(string method, string settingsText, byte[] bytes, string candidatePath, CheckOptions shared, List<RemediationAttemptInfo> tried, bool judgedInMemory)
    {
        var untimed = c.Request with { Progress = null };
        File.WriteAllBytes(candidatePath, bytes);
        var trial = new DiagnosticBag();
        var judged = CheckModel(new GateModelInput(candidatePath, c.Input.Manifest, c.Input.Artifact), c.Manifest, c.Policies, c.Request, c.BaseDirectory, trial, c.CancellationToken,
            shared with { Phase = ProgressText.Verifying });
        var missed = Missed(trial, judged);
        tried.Add(Attempt(method, settingsText, missed, judged, probed: true));
        if (missed.Count > 0)
        {
            return null;
        }

        c.Diagnostics.AddRange(trial.Items);

        // The same artifact on the exemplars it was fitted on, for the report beside the held-out rates it was judged on (the same
        // verdicts where it was judged on every exemplar).
        var fitted = _judgedOnAll ? judged : CheckModel(new GateModelInput(candidatePath, c.Input.Manifest), c.Manifest, c.Policies, untimed, c.BaseDirectory, new DiagnosticBag(),
            c.CancellationToken, c.Options with { Split = ExemplarSplit.Fitted });
        return new SearchResult(tried, judged, bytes, method, judgedInMemory) { Fitted = fitted.Verdicts };
    }

    /// <summary>The scope to try: the request's (<c>ktu unlearn --scope</c>), else every entry of the remediating policies' <c>remedy.scope</c>; and where it was written.</summary>
    private (IReadOnlyList<string> Scope, SourceLocation? Location) Scope() => ScopeOf(c.Request, c.Allowed);

    /// <summary>The scope a remediation for <paramref name="allowed"/> (the policies that allow it) tries, and where it was written.</summary>
    internal static (IReadOnlyList<string> Scope, SourceLocation? Location) ScopeOf(GateRequest request, IReadOnlyList<Policy> allowed)
        => request.RemedyScope is { Count: > 0 } requested
            ? (requested, null)
            : ([.. allowed.SelectMany(p => p.Remedy.Scope).Distinct(StringComparer.Ordinal)], allowed.Select(p => p.Remedy.ScopeLocation).FirstOrDefault(l => l is not null));

    /// <summary>The forget clauses whose policy bounds the linear probe (<c>metrics.maxLinearProbeAccuracy</c>), with the bound.</summary>
    private List<(ProbeSet Set, double Max)> BoundedProbes()
        => [.. ProbeSets(c.Policies, c.Manifest).Where(s => s.Policy.Metrics?.MaxLinearProbeAccuracy is not null).Select(s => (s, s.Policy.Metrics!.MaxLinearProbeAccuracy!.Value))];

    /// <summary>
    /// The linear-probe bounds an edit misses at the edit site's input (the original where <paramref name="weights"/> is null, its features as
    /// recorded by the verify pass; an edit's read by running the model with its weights), as judgements are listed among a setting's misses.
    /// </summary>
    private List<string> ProbeMisses(IReadOnlyList<InitializerOverride>? weights, List<(ProbeSet Set, double Max)> bounded)
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
            probes = ProbesAt(sets, Features(c.Plan.Model, weights, input, [c.Site.Input], sets.SelectMany(s => s.Own.Concat(s.Negatives)), _staging));
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
    private Dictionary<string, float[]> ForgetFeatureTargets(UnlearningProblem problem)
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
    private List<(string Policy, string Concept, IReadOnlyList<string> Files)> ForgetClauses()
        => [.. c.Policies.SelectMany(p => p.Forget.Select(f => (p.Id, f.Concept, (IReadOnlyList<string>)p.GetConcept(f.Concept).Files)))];

    /// <summary>The kept edit's recovery profile: each forget clause's linear probe at every depth it trained and at the edit site's input, before and after; null where the kind feeds no single input tensor.</summary>
    private List<RecoveryDepth>? Profile(IReadOnlyList<InitializerOverride> weights)
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
            before = ProbesAt(sets, Features(c.Plan.Model, null, input, depths, files, _staging));
            after = ProbesAt(sets, Features(c.Plan.Model, weights, input, depths, files, _staging));
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

    /// <summary>Trains one deep candidate; null, with KTU4013, where ONNX Runtime cannot run the gradient model (a model that takes no batch, say).</summary>
    private (IReadOnlyList<InitializerOverride> Weights, string Settings, long Changed)? TrySolve(
        DeepCandidate candidate, Func<IReadOnlyList<InitializerOverride>, bool> accept, IReadOnlyList<string> scope, SourceLocation? location)
    {
        try
        {
            return candidate.Solve(accept);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            c.Diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, string.Join(", ", scope), $"ONNX Runtime could not train it ({e.Message})");
            return null;
        }
    }

    /// <summary>How many values differ between an edit's initializers and the original's.</summary>
    private static long Changed(IReadOnlyList<InitializerOverride> edited, IReadOnlyList<InitializerOverride> original)
        => edited.Zip(original, (e, o) => (long)e.Values.Zip(o.Values).Count(p => p.First != p.Second)).Sum();

    /// <summary>One setting's outcome, with Q, U and Q-U of the policy it did worst on (judged against the original).</summary>
    private static RemediationAttemptInfo Attempt(string method, string settings, IReadOnlyList<string> missed, Checked judged, bool probed)
    {
        var weakest = judged.Report?.Metrics.Where(m => m.QualityUtility is not null).MinBy(m => m.QualityUtility);
        return new RemediationAttemptInfo(method, settings, missed.Count == 0, missed.Count, LowestQualityUtility(judged), missed)
        {
            Probed = probed,
            Quality = weakest?.Quality,
            Utility = weakest?.Utility,
        };
    }

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

    /// <summary>Removes the staging folder; candidates were read to judge them, but they are not inputs of the run.</summary>
    private void RemoveStaging(string staging)
    {
        c.Options.Digests?.ForgetUnder(staging);
        try
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Never hide why the run ended; a later remediation removes the folder once this process is gone.
        }
    }
}
