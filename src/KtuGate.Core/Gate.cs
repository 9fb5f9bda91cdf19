using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Unlearning;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Verdicts;

namespace KtuGate;

/// <summary>A model artifact for the gate to check.</summary>
/// <param name="Artifact">The ONNX file.</param>
/// <param name="Manifest">Its manifest; null means the <c>.ktu.json</c> file beside it.</param>
/// <param name="Baseline">An earlier artifact to compare retention against, if any.</param>
public sealed record GateModelInput(string Artifact, string? Manifest = null, string? Baseline = null);

/// <summary>What the gate is asked to do.</summary>
/// <param name="Models">The artifacts to check.</param>
/// <param name="Policies">The policy files that apply to every artifact.</param>
/// <param name="ReportDirectory">Where <c>ktu-report.json</c> goes, or null to write no report.</param>
public sealed record GateRequest(IReadOnlyList<GateModelInput> Models, IReadOnlyList<string> Policies, string? ReportDirectory)
{
    /// <summary>Verify (probe and judge) or Remediate (also unlearn violated concepts where the policy allows, and probe the edited artifact).</summary>
    public GateMode Mode { get; init; } = GateMode.Verify;

    /// <summary>The remediation methods to try, in order, instead of those the policies list (for comparing methods); null for the policies'.</summary>
    public IReadOnlyList<string>? RemedyMethods { get; init; }

    /// <summary>Where Remediate writes the remediated artifact (same file name as the input); the report folder when null.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Which execution provider to ask ONNX Runtime for.</summary>
    public ExecutionProviderPreference ExecutionProvider { get; init; } = ExecutionProviderPreference.Auto;

    /// <summary>Exemplars per inference call.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>The folder report paths are relative to; the current folder when null.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>An ECDSA P-256 private key in PEM form to sign the report's statement with, or null to leave it unsigned.</summary>
    public string? SigningKeyPem { get; init; }

    /// <summary>Where the signing key came from, for messages (a file name or an environment variable's name).</summary>
    public string? SigningKeySource { get; init; }

    /// <summary>Told what is being probed and how far it has got, for progress displays.</summary>
    public IProgress<ProbeProgress>? Progress { get; init; }

    /// <summary>The report's timestamp; when null, <c>SOURCE_DATE_EPOCH</c> if set, else now.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The most memory, in bytes, a model may declare (one tensor, or its initializers together); null for the machine's memory.</summary>
    /// <remarks>A model beyond it is refused (KTU2028) before ONNX Runtime or an edit reads it.</remarks>
    public long? MaxMemoryBytes { get; init; }

    /// <summary>The limits models are checked against before they run.</summary>
    internal ModelLimits Limits => new(MaxMemoryBytes ?? ModelLimits.DefaultMaxMemoryBytes, BatchSize);
}

/// <summary>What the gate does.</summary>
public enum GateMode
{
    /// <summary>Probe every artifact and judge every clause.</summary>
    Verify,

    /// <summary>Verify; where a forget clause fails and its policy allows, edit the artifact to unlearn it, write the edited copy and judge that.</summary>
    Remediate,
}

/// <summary>How far probing has got.</summary>
/// <param name="Model">The artifact's file name.</param>
/// <param name="Concept">The concept being probed.</param>
/// <param name="Done">Exemplars classified so far for this concept.</param>
/// <param name="Total">Exemplar files the concept has.</param>
public sealed record ProbeProgress(string Model, string Concept, int Done, int Total);

/// <summary>How a gate run ended; the values are the <c>ktu</c> exit codes.</summary>
public enum GateOutcome
{
    /// <summary>Every clause holds.</summary>
    Pass = 0,

    /// <summary>At least one clause is violated.</summary>
    Violated = 1,

    /// <summary>A policy, manifest, model or exemplar could not be used.</summary>
    InvalidInput = 2,

    /// <summary>KtuGate failed.</summary>
    InternalError = 3,

    /// <summary>No clause is violated, but a threshold could not be shown (too few exemplars) or checked (no baseline); never a pass.</summary>
    InsufficientEvidence = 4,
}

/// <summary>The result of a gate run.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Report">The full report.</param>
/// <param name="Diagnostics">Every diagnostic, in order.</param>
/// <param name="ReportPath">Where the report was written, or null.</param>
/// <param name="Written">Every report file written, with its SHA-256.</param>
public sealed record GateResult(GateOutcome Outcome, GateReport Report, IReadOnlyList<Diagnostic> Diagnostics, string? ReportPath, IReadOnlyList<FileDigest> Written)
{
    /// <summary>Every file the run read whose bytes can change its verdict, by full path, with its SHA-256 (empty when the inputs could not be read).</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();
}

/// <summary>The one entry point both front ends use: read policies and manifests, probe every artifact, judge every clause, write the report.</summary>
public static class Gate
{
    /// <summary>The version of KtuGate, as reports record it.</summary>
    public static string ToolVersion { get; } =
        typeof(Gate).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Checks policies and manifests without running any model.</summary>
    /// <remarks>It expands every exemplar glob, so it also reports upper-bound thresholds that the policy's exemplars could never show (KTU3007).</remarks>
    public static IReadOnlyList<Diagnostic> Validate(IEnumerable<string> policies, IEnumerable<string> manifests)
    {
        var diagnostics = new DiagnosticBag();
        foreach (var policy in policies)
        {
            if (PolicyParser.Load(policy, diagnostics) is { } loaded)
            {
                diagnostics.AddRange(ClauseJudge.Unreachable(loaded));
            }
        }

        foreach (var manifest in manifests)
        {
            ManifestParser.Load(manifest, diagnostics);
        }

        return diagnostics.Items;
    }

    /// <summary>How a run with these diagnostics ends, from what its errors are about (each code's <see cref="DiagnosticDescriptor.Category"/>).</summary>
    /// <remarks>
    /// The worst error decides: internal, then invalid input (policy, model, unlearning set-up, environment), then a violation (verdict),
    /// then insufficient evidence (a threshold not shown or not checked). Only a run without errors passes.
    /// </remarks>
    public static GateOutcome OutcomeOf(IEnumerable<Diagnostic> diagnostics)
    {
        var categories = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => DiagnosticCodes.All.TryGetValue(d.Code, out var descriptor) ? descriptor.Category : DiagnosticCategory.Internal)
            .ToHashSet();
        return categories.Count == 0 ? GateOutcome.Pass
            : categories.Contains(DiagnosticCategory.Internal) ? GateOutcome.InternalError
            : categories.Any(c => c is not (DiagnosticCategory.Verdict or DiagnosticCategory.Evidence)) ? GateOutcome.InvalidInput
            : categories.Contains(DiagnosticCategory.Verdict) ? GateOutcome.Violated
            : GateOutcome.InsufficientEvidence;
    }

    /// <summary>The report's verdict for an outcome: "pass", "fail", "insufficient-evidence" or "error".</summary>
    public static string VerdictOf(GateOutcome outcome) => outcome switch
    {
        GateOutcome.Pass => "pass",
        GateOutcome.Violated => "fail",
        GateOutcome.InsufficientEvidence => "insufficient-evidence",
        _ => "error",
    };

    /// <summary>Runs the gate.</summary>
    public static GateResult Run(GateRequest request, CancellationToken cancellationToken = default)
    {
        var baseDirectory = request.BaseDirectory ?? Directory.GetCurrentDirectory();
        var diagnostics = new DiagnosticBag();
        if (request.Mode == GateMode.Remediate)
        {
            RemoveLeftovers(request.OutputDirectory ?? request.ReportDirectory);
        }

        using var signingKey = ReadSigningKey(request, diagnostics);
        var policies = request.Policies.Select(p => PolicyParser.Load(p, diagnostics)).ToList();
        var inputs = request.Models.Select(m => (Input: m, ManifestPath: m.Manifest ?? ManifestParser.DefaultPathFor(m.Artifact))).ToList();
        var manifests = inputs.Select(m => ManifestParser.Load(m.ManifestPath, diagnostics)).ToList();

        string? provider = null;
        var digests = new DigestCache();
        var modelReports = new List<ModelReport>();
        var verdicts = new List<ClauseVerdict>();
        if (!diagnostics.HasErrors)
        {
            for (var i = 0; i < inputs.Count; i++)
            {
                var local = new DiagnosticBag();
                var manifest = manifests[i]!;
                using var kind = ModelKinds.Of(manifest).Open(manifest, request.ExecutionProvider, request.Limits, local);
                var options = new CheckOptions { Kind = kind, Digests = digests };

                // Remediate records the edit site's inputs while it verifies, so that remediation needs no second pass over the exemplars;
                // so does a policy that bounds what a linear probe can read from them.
                var siteProblems = new DiagnosticBag();
                var probeBound = policies!.Any(p => p!.Metrics?.MaxLinearProbeAccuracy is not null);
                var plan = request.Mode == GateMode.Remediate || probeBound ? PlanSite(inputs[i].Input, manifest, siteProblems, request.Limits) : null;
                var checkedModel = CheckModel(inputs[i].Input, manifest, policies!, request, baseDirectory, local, cancellationToken,
                    plan is null ? options : options with { ModelBytes = plan.Instrumented, Record = plan.Activations });
                var linearProbes = plan is null || checkedModel.Report is null ? null : LinearProbes(policies!, manifest, plan);
                var probeMisses = linearProbes is null ? [] : LinearProbeMisses(policies!, linearProbes, plan!.Edits.Lowest);
                if (probeBound && plan is null && checkedModel.Report is not null)
                {
                    // Why the bound could not be judged; reported here once (remediation is then told of no problems of its own).
                    local.AddRange(siteProblems.Items);
                    siteProblems = new DiagnosticBag();
                }

                if (request.Mode == GateMode.Remediate && checkedModel.Report is not null && checkedModel.Verdicts.Any(v => v.Kind == "forget" && !v.Passed))
                {
                    if (probeMisses.Count > 0)
                    {
                        // An edit of the site cannot change what is read below it: no candidate could meet the bound.
                        foreach (var (policy, clause, probe, max) in probeMisses)
                        {
                            local.Add(DiagnosticCodes.LinearProbeBeyondEdit, clause.Location, policy.Id, clause.Concept, plan!.Edits.Lowest.Node,
                                Fixed(probe.Accuracy.Rate), Fixed(probe.Accuracy.CiHigh), max.ToString(CultureInfo.InvariantCulture));
                        }
                    }
                    else
                    {
                        checkedModel = Remediate(inputs[i].Input, manifest, policies!, checkedModel, plan, siteProblems, request, baseDirectory, local, options, cancellationToken);
                    }
                }

                if (linearProbes is not null && checkedModel.Report is { } judgedReport)
                {
                    checkedModel = checkedModel with
                    {
                        Report = judgedReport with
                        {
                            Clauses = judgedReport.Clauses.Select(c => c.Kind == "forget" && linearProbes.TryGetValue((c.Policy, c.Concept), out var probe) ? c with { LinearProbe = probe } : c).ToList(),
                        },
                        Judgements = [.. checkedModel.Judgements, .. ProbeMissDiagnostics(probeMisses, plan!.Edits.Lowest)],
                    };
                }

                diagnostics.AddRange(local.Items);
                provider ??= checkedModel.Provider;
                if (checkedModel.Report is not null)
                {
                    modelReports.Add(checkedModel.Report with { Manifest = FileDigests.Of(baseDirectory, inputs[i].ManifestPath, digests) });
                    verdicts.AddRange(checkedModel.Verdicts);
                    diagnostics.AddRange(checkedModel.Judgements);
                }
            }
        }

        foreach (var verdict in verdicts)
        {
            diagnostics.AddRange(verdict.Diagnostics);
        }

        var read = diagnostics.HasErrors && modelReports.Count == 0 ? new Dictionary<string, string>() : InputsRead(request, policies, inputs, manifests, digests);

        var outcome = OutcomeOf(diagnostics.Items);

        GateReport ReportOf(GateOutcome outcome) => new(
            GateReport.CurrentSchemaVersion,
            new ToolInfo("KtuGate", ToolVersion),
            Timestamp(request.Timestamp),
            VerdictOf(outcome),
            request.Mode == GateMode.Remediate ? "remediate" : "verify",
            new EnvironmentInfo(SessionFactory.OnnxRuntimeVersion, provider, RuntimeInformation.FrameworkDescription,
                $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}".Trim()),
            new OptionsInfo(request.ExecutionProvider.ToString().ToLowerInvariant(), request.BatchSize, null),
            policies.Where(p => p is not null).Select(p => PolicyInfoOf(p!, baseDirectory)).ToList(),
            modelReports,
            new SummaryInfo(verdicts.Count, verdicts.Count(v => v.Passed), verdicts.Count(v => !v.Passed),
                diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Error),
                diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Warning)),
            diagnostics.Items.Select(d => ToReport(d, baseDirectory)).ToList());

        var report = ReportOf(outcome);
        string? reportPath = null;
        IReadOnlyList<FileDigest> written = [];
        if (request.ReportDirectory is not null)
        {
            try
            {
                written = ReportWriter.WriteAll(report, request.ReportDirectory, baseDirectory, signingKey);
                reportPath = Path.Combine(request.ReportDirectory, ReportJson.FileName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A run whose report is missing proves nothing: it fails with its own code, not with the verdict it could not record.
                diagnostics.Add(DiagnosticCodes.ReportWriteFailed, null, Path.GetFullPath(request.ReportDirectory), e.Message);
                outcome = GateOutcome.InternalError;
                report = ReportOf(outcome);
            }
        }

        return new GateResult(outcome, report, diagnostics.Items, reportPath, written) { Inputs = read };
    }

    /// <summary>
    /// Every file whose bytes can change the verdict: what the run digested, and, so that none is missed where a stage does not digest
    /// what it reads, every policy, artifact, manifest, baseline, exemplar, general probe file, text tower file and external-data file.
    /// </summary>
    private static Dictionary<string, string> InputsRead(
        GateRequest request, IReadOnlyList<Policy?> policies, IReadOnlyList<(GateModelInput Input, string ManifestPath)> inputs,
        IReadOnlyList<ModelManifest?> manifests, DigestCache digests)
    {
        var files = new List<string>(request.Policies);
        foreach (var policy in policies.OfType<Policy>())
        {
            files.AddRange(policy.Concepts.SelectMany(c => c.Files));
            files.AddRange(policy.GeneralFiles);
        }

        foreach (var (input, manifestPath) in inputs)
        {
            files.Add(manifestPath);
            foreach (var artifact in new[] { input.Artifact, input.Baseline }.OfType<string>())
            {
                files.Add(artifact);
                var folder = Path.GetDirectoryName(Path.GetFullPath(artifact))!;
                if (File.Exists(artifact) && OnnxGraph.Load(artifact, new DiagnosticBag()) is { } model)
                {
                    files.AddRange(OnnxGraph.ExternalFiles(model).Select(f => Path.Combine(folder, f)));
                }
            }
        }

        files.AddRange(manifests.OfType<ModelManifest>().SelectMany(m => ModelKinds.Of(m).InputFiles(m)));

        foreach (var file in files.Where(File.Exists))
        {
            digests.OfFile(file);
        }

        return new Dictionary<string, string>(digests.Known, StringComparer.Ordinal);
    }

    private static System.Security.Cryptography.ECDsa? ReadSigningKey(GateRequest request, DiagnosticBag diagnostics)
    {
        if (request.SigningKeyPem is null)
        {
            return null;
        }

        var key = Provenance.ReadSigningKey(request.SigningKeyPem, out var problem);
        if (key is null)
        {
            diagnostics.Add(DiagnosticCodes.SigningKeyInvalid, null, request.SigningKeySource ?? "(given)", problem);
        }

        return key;
    }

    /// <summary>Probes and judges one artifact; ONNX Runtime failing while it runs the model (e.g. a shape computed at run time that no memory holds) is a coded error (KTU5021), not a crash.</summary>
    private static Checked CheckModel(
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

    private static Checked ProbeAndJudge(
        GateModelInput input, ModelManifest manifest, IReadOnlyList<Policy> policies, GateRequest request,
        string baseDirectory, DiagnosticBag diagnostics, CancellationToken cancellationToken, CheckOptions options)
    {
        var modelName = Path.GetFileName(input.Artifact);
        var edit = options.Edit;
        using var model = edit is null ? LoadedModel.Open(input.Artifact, options.ModelBytes, manifest, request.ExecutionProvider, diagnostics, request.Limits, options.Overrides ?? []) : null;
        if (model is null && edit is null)
        {
            return new Checked(null, [], null, new Dictionary<string, ProbeTally>());
        }

        var kind = options.Kind!;
        if (model is not null)
        {
            kind.CheckModel(model, diagnostics);
        }

        using var baseline = input.Baseline is null || options.BaselineTallies is not null ? null : OpenBaseline(input.Baseline, manifest, request, diagnostics);
        var bindings = new List<(Policy Policy, ConceptBinding Binding)>();
        foreach (var policy in policies)
        {
            var needed = policy.Forget.Select(c => (c.Concept, c.Level, c.Location))
                .Concat(policy.Retain.Select(c => (c.Concept, c.Level, c.Location)));
            foreach (var group in needed.GroupBy(n => n.Concept))
            {
                var binding = ConceptBinding.Bind(policy, policy.GetConcept(group.Key), manifest, modelName, diagnostics);
                if (binding is null)
                {
                    continue;
                }

                foreach (var use in group.DistinctBy(u => u.Level))
                {
                    CheckLevel(binding, use.Level, use.Location, manifest, modelName, diagnostics);
                }

                bindings.Add((policy, binding));
            }
        }

        var general = policies.ToDictionary(p => p, p => GeneralSet(p, manifest, diagnostics));
        if (diagnostics.HasErrors || !kind.CanProbe)
        {
            return new Checked(null, [], model?.ExecutionProvider, new Dictionary<string, ProbeTally>());
        }

        // The model's probes (as it is, mirrored, noisy): ONNX Runtime's, or an edit judged from the site's recorded inputs.
        var siteProbe = edit is null ? null : kind.SiteProbe(edit.Activations, edit.Weight, edit.Bias);
        IConceptProbe MakeProbe(LoadedModel onnx, Perturbation perturbation, SiteActivations? record) => kind.Probe(onnx, request.BatchSize, perturbation, record);
        IConceptProbe Probe(Perturbation perturbation) => edit is null
            ? MakeProbe(model!, perturbation, options.Record)
            : siteProbe!.With(perturbation);
        var probe = Probe(Perturbation.None);
        IConceptProbe? baselineProbe = baseline is null ? null : MakeProbe(baseline, Perturbation.None, null);
        var tallies = new Dictionary<string, ProbeTally>();
        var baselineTallies = options.BaselineTallies is { } known ? new Dictionary<string, ProbeTally>(known) : [];

        // Each distinct (exemplars, label, wordings) is probed once per run, however many policies name it.
        (ProbeTally Model, ProbeTally? Baseline) Tally(IReadOnlyList<string> files, int label, IReadOnlyList<string> wordings, string concept)
        {
            var key = $"{label}\n{string.Join('\n', wordings)}\n{string.Join('\n', files)}";
            var progress = request.Progress is null ? null : new Progress(request.Progress, modelName, concept, files.Count);
            if (!tallies.TryGetValue(key, out var tally))
            {
                progress?.Report(0);
                tally = tallies[key] = probe.Probe(files, label, wordings, diagnostics, progress, cancellationToken);
            }

            ProbeTally? baselineTally = null;
            if (input.Baseline is not null && !baselineTallies.TryGetValue(key, out baselineTally))
            {
                // Known baseline results cover every exemplar set a run probes (the same policies and manifest give the same sets).
                baselineTally = (baselineProbe ?? throw new InvalidOperationException("The baseline's results for an exemplar set are missing.")).Probe(files, label, wordings, new DiagnosticBag(), null, cancellationToken);
                baselineTallies[key] = baselineTally;
            }

            return (tally, baselineTally);
        }

        var measurements = new Dictionary<(Policy, string), (ConceptMeasurement Model, ConceptMeasurement? Baseline)>();
        var conceptTallies = new Dictionary<(Policy, string), ProbeTally>();
        var conceptReports = new List<ConceptReport>();
        foreach (var (policy, binding) in bindings)
        {
            var files = binding.Concept.Files;
            var wordings = kind.Wordings(policy, binding.Concept, binding.FineLabel);
            var (tally, baselineTally) = Tally(files, binding.FineLabel, wordings, binding.Concept.Name);
            var measured = Measure(binding, manifest, tally);
            var baselineMeasured = baselineTally is null ? null : Measure(binding, manifest, baselineTally);
            measurements[(policy, binding.Concept.Name)] = (measured, baselineMeasured);
            conceptTallies[(policy, binding.Concept.Name)] = tally;
            conceptReports.Add(new ConceptReport(
                policy.Id, binding.Concept.Name, measured.FineLabel, measured.CoarseGroup,
                new ExemplarSet(files.Count, Digests.OfFileSet(baseDirectory, files, options.Digests)),
                Rate(measured.Fine), Rate(measured.Coarse),
                measured.Predicted.Where(p => p.Value > 0).ToDictionary(p => p.Key, p => p.Value),
                baselineMeasured is null ? null : new BaselineRates(Rate(baselineMeasured.Fine), Rate(baselineMeasured.Coarse)),
                binding.FineLabel < 0 ? [] : tally.Samples[binding.FineLabel].Select(f => Digests.Relative(baseDirectory, f)).ToList())
            {
                Wordings = tally.Wordings.Select(w => new WordingReport(w.Wording, Rate(new Proportion(w.Recalled, tally.N))!)).ToList(),
            });
        }

        var verdicts = new List<ClauseVerdict>();
        var metrics = new List<PolicyMetricsReport>();
        var perturbedProbes = new[] { Perturbation.Flip, Perturbation.Noise }.ToDictionary(p => p, Probe);
        var perturbed = new Dictionary<ClauseVerdict, IReadOnlyList<PerturbedRate>>();

        // Thresholds missed beyond the clauses (metrics, robustness): they belong to this model's judgement, which a remediation replaces.
        var judgements = new DiagnosticBag();
        foreach (var policy in policies)
        {
            foreach (var clause in policy.Forget)
            {
                var (m, b) = measurements[(policy, clause.Concept)];
                var verdict = ClauseJudge.Forget(policy.Id, clause, m.At(clause.Level)!, b?.At(clause.Level));
                verdicts.Add(verdict);

                // Robustness: does the concept come back on mirrored or noisy exemplars?
                var binding = bindings.First(x => x.Policy == policy && x.Binding.Concept.Name == clause.Concept).Binding;
                var rates = new List<PerturbedRate>();
                foreach (var (perturbation, perturbedProbe) in perturbedProbes)
                {
                    var tally = perturbedProbe.Probe(binding.Concept.Files, binding.FineLabel, [], new DiagnosticBag(), null, cancellationToken);
                    var rate = Measure(binding, manifest, tally).At(clause.Level)!;
                    var name = perturbation == Perturbation.Flip ? "flip" : "noise";
                    rates.Add(new PerturbedRate(name, Rate(rate)!));
                    if (policy.Metrics?.MaxPerturbedAccuracy is { } max && rate.High > max)
                    {
                        // Within the bound but too few exemplars to show it: insufficient evidence, not a miss.
                        judgements.Add(rate.Rate <= max
                            ? ClauseJudge.Undecided(clause.Location, clause.Concept, $"{(name == "flip" ? "mirrored" : "noisy")} {ClauseJudge.LevelName(clause.Level)}", rate, max)
                            : DiagnosticCodes.MetricMissed.Create(clause.Location, policy.Id,
                                $"'{clause.Concept}' {ClauseJudge.LevelName(clause.Level)} accuracy on {(name == "flip" ? "mirrored" : "noisy")} exemplars (upper bound)",
                                rate.High.ToString("0.000", CultureInfo.InvariantCulture), "above the allowed", max.ToString(CultureInfo.InvariantCulture)));
                    }
                }

                perturbed[verdict] = rates;

                // Knowledge, not a label: no wording of the concept may still recall it (dual encoders; judged on the upper bound).
                if (policy.Metrics?.MaxWordingRecall is { } maxRecall && clause.Level == KnowledgeLevel.Fine)
                {
                    var conceptTally = conceptTallies[(policy, clause.Concept)];
                    foreach (var wording in conceptTally.Wordings)
                    {
                        var recall = new Proportion(wording.Recalled, conceptTally.N);
                        if (recall.High > maxRecall)
                        {
                            judgements.Add(recall.Rate <= maxRecall
                                ? ClauseJudge.Undecided(clause.Location, clause.Concept, $"wording \"{wording.Wording}\" recall", recall, maxRecall)
                                : DiagnosticCodes.MetricMissed.Create(clause.Location, policy.Id,
                                    $"'{clause.Concept}' recall by the wording \"{wording.Wording}\" (upper bound)",
                                    recall.High.ToString("0.000", CultureInfo.InvariantCulture), "above the allowed", maxRecall.ToString(CultureInfo.InvariantCulture)));
                        }
                    }
                }
            }

            foreach (var clause in policy.Retain)
            {
                var (m, b) = measurements[(policy, clause.Concept)];
                verdicts.Add(ClauseJudge.Retain(policy.Id, clause, m.At(clause.Level)!, b?.At(clause.Level)));
            }

            // The general probe set: each label's exemplars probed as that label, pooled.
            Proportion? generalRate = null, generalBaseline = null;
            if (general[policy].Count > 0)
            {
                var parts = general[policy].Select(g => Tally(g.Files, g.Label, [], "general: " + manifest.Labels[g.Label])
                    is var (t, bt) ? (Model: new Proportion(t.PredictedCounts[g.Label], t.N), Baseline: bt is null ? null : new Proportion(bt.PredictedCounts[g.Label], bt.N)) : default).ToList();
                generalRate = PaperMetrics.Pool(parts.Select(p => p.Model));
                generalBaseline = input.Baseline is null ? null : PaperMetrics.Pool(parts.Select(p => p.Baseline!));
            }

            var paper = PaperMetrics.Compute(policy, measurements.Where(m => m.Key.Item1 == policy).ToDictionary(m => m.Key.Item2, m => m.Value), generalRate, generalBaseline);
            var (metricsReport, metricDiagnostics) = MetricsJudge.Judge(policy, paper, baseDirectory);
            metrics.Add(metricsReport);
            judgements.AddRange(metricDiagnostics);
        }

        var report = new ModelReport(
            FileDigests.Of(baseDirectory, input.Artifact, options.Digests)!, null,
            input.Baseline is null ? null : FileDigests.Of(baseDirectory, input.Baseline, options.Digests),
            conceptReports,
            verdicts.Select(v => ToReport(v, baseDirectory) with { Perturbed = perturbed.GetValueOrDefault(v) ?? [] }).ToList())
        {
            Metrics = metrics,
        };

        // What the kind read besides the artifact (a text tower) is recorded before the artifact's own external data, as it was read.
        report = kind.Describe(report, baseDirectory, options.Digests, diagnostics) with
        {
            ExternalData = model is null ? null : FileDigests.External(baseDirectory, input.Artifact, model.ExternalFiles, options.Digests, diagnostics),
        };
        return new Checked(report, verdicts, model?.ExecutionProvider, tallies) { Judgements = judgements.Items };
    }

    /// <summary>
    /// Unlearns the concepts of failing forget clauses by editing the artifact's last linear layer, method by method and setting by setting
    /// from the least intrusive, until the edited artifact meets every threshold (judged against the original as baseline). Each candidate
    /// is judged first from the edit site's inputs recorded while the original was verified (exact where that reproduces the original's
    /// probe results); only one that passes there is written and probed with ONNX Runtime, and only a probed pass is kept.
    /// </summary>
    private static Checked Remediate(
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

        var (model, edits, weight, bias, folder, activations, _) = plan;
        var site = edits.Sites[0];
        // Class directions in the site's output space, as the kind reads its scores.
        var space = options.Kind!.Space();

        var forgetFiles = new Dictionary<string, ForgetTarget>(StringComparer.Ordinal);
        foreach (var verdict in targets)
        {
            var policy = policies.First(p => p.Id == verdict.Policy);
            var binding = ConceptBinding.Bind(policy, policy.GetConcept(verdict.Concept), manifest, Path.GetFileName(input.Artifact), new DiagnosticBag())!;
            var coarse = verdict.Level == KnowledgeLevel.Coarse;
            var coarseSpace = coarse && space.CoarseHasOwnDirections;
            var classes = coarseSpace ? manifest.Coarse.Count : manifest.Labels.Count;
            var forbidden = coarse
                ? (coarseSpace ? [binding.CoarseGroup] : Enumerable.Range(0, classes).Where(l => manifest.CoarseOfLabel[l] == binding.CoarseGroup).ToHashSet())
                : new HashSet<int> { binding.FineLabel };
            var siblings = coarse ? [] : Enumerable.Range(0, classes).Where(l => l != binding.FineLabel && binding.CoarseGroup >= 0 && manifest.CoarseOfLabel[l] == binding.CoarseGroup).ToList();
            var others = siblings.Count > 0 ? siblings : Enumerable.Range(0, classes).Where(c => !forbidden.Contains(c)).ToList();
            foreach (var file in binding.Concept.Files)
            {
                forgetFiles[file] = new ForgetTarget(space.Directions(coarseSpace), forbidden, others, coarseSpace);
            }
        }

        var retainFiles = policies.SelectMany(p => p.Retain.SelectMany(r => p.GetConcept(r.Concept).Files).Concat(p.GeneralFiles))
            .Where(f => !forgetFiles.ContainsKey(f)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var forgetActivations = Recorded(activations, forgetFiles.Keys.Order(StringComparer.Ordinal));
        var retainActivations = Recorded(activations, retainFiles);
        var edit = new ClosedFormEdit(weight, bias, retainActivations.Select(r => r.Activation).ToList(), forgetActivations.Select(f => f.Activation).ToList());
        var forgetOutputs = forgetActivations.Select(f => edit.Output(f.Activation)).ToList();
        var typicalScale = forgetOutputs.Count == 0 ? 1.0 : forgetOutputs.Average(Norm);

        var outputDirectory = request.OutputDirectory ?? request.ReportDirectory ?? folder;
        var outputPath = Path.Combine(outputDirectory, Path.GetFileName(input.Artifact));
        if (string.Equals(Path.GetFullPath(outputPath), Path.GetFullPath(input.Artifact), StringComparison.Ordinal))
        {
            diagnostics.Add(DiagnosticCodes.OutputIsInput, new SourceLocation(input.Artifact), input.Artifact);
            return verified;
        }

        // Candidates and the external-data files they refer to live in a staging folder of this run's own inside the output folder
        // (so that publishing is a rename); it is removed on every way out: success, failure, an exception or cancellation.
        var staging = Path.Combine(outputDirectory, $"{StagingPrefix}{Environment.ProcessId}.{Guid.NewGuid():N}");
        var candidatePath = Path.Combine(staging, Path.GetFileName(input.Artifact));
        var externals = OnnxGraph.ExternalFiles(model);
        try
        {
            try
            {
                Directory.CreateDirectory(staging);
                foreach (var external in externals)
                {
                    // Tensors kept in external files stay there: the edited copy refers to the same files, copied (under the reader's rules) beside it.
                    ExternalData.CopyFile(input.Artifact, external, Path.Combine(staging, external));
                }
            }
            catch (ExternalDataException e)
            {
                diagnostics.Add(e.Diagnostic);
                return verified;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(DiagnosticCodes.RemediationWriteFailed, new SourceLocation(input.Artifact), outputPath, e.Message);
                return verified;
            }

            // Every trial is judged against the original: its probe results from the verify pass are the baseline, and each prompt is embedded once.
            var shared = options with { BaselineTallies = verified.Tallies };
            var untimed = request with { Progress = null };
            var onOriginal = new GateModelInput(input.Artifact, input.Manifest, input.Artifact);
            Checked InMemory(double[,] w, double[] b, DiagnosticBag bag)
                => CheckModel(onOriginal, manifest, policies, untimed, baseDirectory, bag, cancellationToken, shared with { Edit = new SiteEdit(w, b, activations) });

            // Judging from the site's inputs is exact when the probes read the site's output up to a positive scale; it must reproduce the original's
            // results. Where it does not, candidates are probed with ONNX Runtime, their initializers overridden in the session (no model written).
            var judgedInMemory = plan.Edits.Sites.Count == 1 && SameTallies(InMemory(weight, bias, new DiagnosticBag()).Tallies, verified.Tallies);
            ICandidateJudge judge = judgedInMemory
                ? new SiteJudge(InMemory)
                : new OnnxRuntimeJudge((overrides, bag) => CheckModel(onOriginal, manifest, policies, untimed, baseDirectory, bag, cancellationToken, shared with { Overrides = overrides }));

            var tried = new List<RemediationAttemptInfo>();
            Checked? chosen = null;
            byte[]? chosenBytes = null;
            string? chosenMethod = null;
            try
            {
                var problem = new UnlearningProblem(edit, weight, bias, forgetActivations, retainActivations, forgetOutputs, forgetFiles, space, manifest, space.ClosedFormMargin(typicalScale));
                foreach (var (method, solve) in MethodsFor(request, allowed, plan.Edits).SelectMany(m => m.Candidates(problem)))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var (newWeight, newBias, settingsText) = solve(judgedInMemory ? (w, b) => judge.Judge(Candidate(site, w, b)).Missed.Count == 0 : null);
                    if (judge.Judge(Candidate(site, newWeight, newBias)) is { Missed.Count: > 0 } rejected)
                    {
                        tried.Add(new RemediationAttemptInfo(method, settingsText, false, rejected.Missed.Count, LowestQualityUtility(rejected.Result), rejected.Missed) { Probed = judge.Probes });
                        continue;
                    }

                    // Only a candidate the judge passed is written, and what is written is probed again: only a probed pass ships.

                    var bytes = OnnxGraph.WithSite(model, site, newWeight, newBias);
                    File.WriteAllBytes(candidatePath, bytes);
                    var trial = new DiagnosticBag();
                    var judged = CheckModel(new GateModelInput(candidatePath, input.Manifest, input.Artifact), manifest, policies, untimed, baseDirectory, trial, cancellationToken, shared);
                    var missed = Missed(trial, judged);
                    tried.Add(new RemediationAttemptInfo(method, settingsText, missed.Count == 0, missed.Count, LowestQualityUtility(judged), missed) { Probed = true });
                    if (missed.Count == 0)
                    {
                        chosen = judged;
                        chosenBytes = bytes;
                        chosenMethod = method;
                        diagnostics.AddRange(trial.Items);
                        break;
                    }
                }
            }
            finally
            {
                File.Delete(candidatePath);
            }

            var siteInfo = new EditSiteInfo(site.Node, site.Input, site.Weight, site.Bias, site.Inputs, site.Outputs);
            var original = FileDigests.Of(baseDirectory, input.Artifact, options.Digests)!;
            if (chosen is not { Report: not null } result || chosenBytes is null)
            {
                var triedMethods = string.Join(", ", tried.Select(t => t.Method).Distinct());
                diagnostics.Add(DiagnosticCodes.RemediationFailed, new SourceLocation(input.Artifact), Path.GetFileName(input.Artifact),
                    $"{tried.Count} settings of {(triedMethods.Length == 0 ? "no method" : triedMethods)}", tried.Count == 0 ? 0 : tried.Min(t => t.Violations));
                return verified with
                {
                    Report = verified.Report! with
                    {
                        Remediation = new RemediationReport(triedMethods, siteInfo, original, null, forgetActivations.Count, retainActivations.Count, tried)
                        {
                            JudgedInMemory = judgedInMemory,
                        },
                    },
                };
            }

            if (Publish(staging, externals, outputPath, chosenBytes) is { } publishProblem)
            {
                diagnostics.Add(DiagnosticCodes.RemediationWriteFailed, new SourceLocation(input.Artifact), outputPath, publishProblem);
                return verified;
            }

            var written = FileDigests.Of(baseDirectory, outputPath)!;
            var report = result.Report with
            {
                Artifact = written,
                ExternalData = FileDigests.External(baseDirectory, outputPath, externals, options.Digests, diagnostics),
                Remediation = new RemediationReport(chosenMethod!, siteInfo, original, written, forgetActivations.Count, retainActivations.Count, tried)
                {
                    JudgedInMemory = judgedInMemory,
                    OriginalExternalData = FileDigests.External(baseDirectory, input.Artifact, externals, options.Digests, diagnostics),
                },
            };
            return result with { Report = report };
        }
        finally
        {
            // Candidates were read to judge them, but they are not inputs of the run.
            options.Digests?.ForgetUnder(staging);
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

    /// <summary>The prefix of remediation's staging folders in the output folder, followed by the process id and a unique suffix.</summary>
    private const string StagingPrefix = ".ktu-candidate.";

    /// <summary>What a remediation run may leave in its output folder if its process is killed: its staging folder, an older version's candidate, an atomic write's temporary file.</summary>
    private static readonly System.Text.RegularExpressions.Regex s_leftover = new(
        @"^\.(?:ktu-candidate\.(?<pid>\d+)\.[0-9a-f]{32}|.+\.(?<pid>\d+)\.candidate\.onnx|.+\.(?<pid>\d+)\.[0-9a-f]{32}\.tmp)$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Moves the chosen artifact's external-data files from the staging folder into the output folder, each renamed whole, then writes
    /// the artifact atomically, last, so that no artifact appears without its data. On failure, files this run put there are removed.
    /// </summary>
    /// <returns>Null when written, or why it could not be.</returns>
    private static string? Publish(string staging, IReadOnlyList<string> externals, string outputPath, byte[] bytes)
    {
        var outputDirectory = Path.GetDirectoryName(outputPath)!;
        var added = new List<string>();
        try
        {
            foreach (var external in externals)
            {
                var target = Path.Combine(outputDirectory, external);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var existed = File.Exists(target);
                File.Move(Path.Combine(staging, external), target, overwrite: true);
                if (!existed)
                {
                    added.Add(target);
                }
            }

            AtomicFile.Write(outputPath, bytes);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var file in added)
            {
                File.Delete(file);
            }

            return e.Message;
        }
    }

    /// <summary>Removes what remediation runs of processes that no longer exist left in <paramref name="outputDirectory"/> (a run killed mid-way).</summary>
    private static void RemoveLeftovers(string? outputDirectory)
    {
        if (outputDirectory is null || !Directory.Exists(outputDirectory))
        {
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(outputDirectory, ".*"))
        {
            var match = s_leftover.Match(Path.GetFileName(entry));
            if (!match.Success || !int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            try
            {
                // A link is removed itself, never what it points to.
                if (new FileInfo(entry).LinkTarget is null && Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another run may be removing it too; what is left is found again next time.
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    private static List<string> Missed(DiagnosticBag trial, Checked judged)
        => trial.Items.Concat(judged.Judgements).Concat(judged.Verdicts.SelectMany(v => v.Diagnostics))
            .Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => $"{d.Code} {d.Message}").ToList();

    private static double? LowestQualityUtility(Checked judged)
        => judged.Report?.Metrics.Select(m => m.QualityUtility).Where(q => q is not null).DefaultIfEmpty(null).Min();

    /// <summary>Whether two runs' probe results agree on every exemplar set: predictions, coarse predictions and wordings.</summary>
    private static bool SameTallies(IReadOnlyDictionary<string, ProbeTally> a, IReadOnlyDictionary<string, ProbeTally> b)
        => a.Count == b.Count && a.All(x => b.TryGetValue(x.Key, out var y)
            && x.Value.N == y.N
            && x.Value.PredictedCounts.SequenceEqual(y.PredictedCounts)
            && (x.Value.CoarsePredictedCounts ?? []).SequenceEqual(y.CoarsePredictedCounts ?? [])
            && x.Value.Wordings.Select(w => w.Recalled).SequenceEqual(y.Wordings.Select(w => w.Recalled)));

    /// <summary>The methods to try, in order: the request's, or those the policies list (the registry's default where they list none); each that supports the plan.</summary>
    /// <exception cref="ArgumentException">The request names a method the registry does not have (the command line and policies accept only the registry's names).</exception>
    private static IEnumerable<UnlearningMethod> MethodsFor(GateRequest request, IReadOnlyList<Policy> allowed, EditPlan plan)
        => (request.RemedyMethods ?? allowed.SelectMany(p => p.Remedy.Methods.Count == 0 ? [UnlearningMethods.Default.Name] : p.Remedy.Methods).Distinct().ToList())
            .Select(name => UnlearningMethods.Find(name) ?? throw new ArgumentException($"'{name}' is not an unlearning method; one of {string.Join(", ", UnlearningMethods.Names)}.", nameof(request)))
            .Where(m => m.Supports(plan));

    /// <summary>A candidate edit of one site.</summary>
    private static CandidateEdit Candidate(EditSite site, double[,] weight, double[] bias) => new([new SiteWeights(site, weight, bias)]);

    /// <summary>Judges candidate edits against every threshold: what they would still miss.</summary>
    private interface ICandidateJudge
    {
        /// <summary>Whether the judge runs the model with ONNX Runtime (as reports record in <c>tried[].probed</c>).</summary>
        bool Probes { get; }

        /// <summary>The gate's result for the edited model, and every threshold it misses.</summary>
        (Checked Result, List<string> Missed) Judge(CandidateEdit candidate);
    }

    /// <summary>Judges a single-site edit from the site's inputs recorded while the original was verified (exact for an edit of the layer the probes read).</summary>
    /// <remarks>The last candidate's result is kept: a gradient method's accepted checkpoint is judged again as its candidate, at no cost.</remarks>
    private sealed class SiteJudge(Func<double[,], double[], DiagnosticBag, Checked> inMemory) : ICandidateJudge
    {
        private (double[,] Weight, Checked Result, List<string> Missed)? _last;

        public bool Probes => false;

        public (Checked Result, List<string> Missed) Judge(CandidateEdit candidate)
        {
            var (_, weight, bias) = candidate.Sites.Single();
            if (_last is not { } last || !ReferenceEquals(last.Weight, weight))
            {
                var bag = new DiagnosticBag();
                var result = inMemory(weight, bias, bag);
                _last = last = (weight, result, Missed(bag, result));
            }

            return (last.Result, last.Missed);
        }
    }

    /// <summary>Judges an edit by probing the original artifact with ONNX Runtime, the edited initializers given to the session in place of the model's.</summary>
    private sealed class OnnxRuntimeJudge(Func<IReadOnlyList<InitializerOverride>, DiagnosticBag, Checked> probe) : ICandidateJudge
    {
        public bool Probes => true;

        public (Checked Result, List<string> Missed) Judge(CandidateEdit candidate)
        {
            var bag = new DiagnosticBag();
            var result = probe(candidate.Overrides(), bag);
            return (result, Missed(bag, result));
        }
    }

    /// <summary>What <see cref="CheckModel"/> probed and judged.</summary>
    /// <param name="Report">The model's report, or null where it could not be probed.</param>
    /// <param name="Verdicts">Every clause's verdict.</param>
    /// <param name="Provider">The execution provider that ran it (null when nothing ran).</param>
    /// <param name="Tallies">The model's probe results per exemplar set (the baseline of a remediation's trials).</param>
    private sealed record Checked(ModelReport? Report, IReadOnlyList<ClauseVerdict> Verdicts, string? Provider, IReadOnlyDictionary<string, ProbeTally> Tallies)
    {
        /// <summary>Thresholds missed beyond the clauses: metrics, perturbed exemplars, wordings (KTU3005).</summary>
        public IReadOnlyList<Diagnostic> Judgements { get; init; } = [];
    }

    /// <summary>A new weight for the edit site, judged from the site's recorded inputs instead of by running the model.</summary>
    /// <param name="Weight">The site's new weight, [out, in].</param>
    /// <param name="Bias">The site's new bias.</param>
    /// <param name="Activations">The site's inputs, recorded while the original was verified.</param>
    private sealed record SiteEdit(double[,] Weight, double[] Bias, SiteActivations Activations);

    /// <summary>How <see cref="CheckModel"/> runs beyond the request.</summary>
    private sealed record CheckOptions
    {
        /// <summary>The model's kind, open for the whole run (a dual encoder's text tower: every prompt is embedded once).</summary>
        public KindSession? Kind { get; init; }

        /// <summary>The baseline's probe results, known already (a remediation's trials: the original's); the baseline is then not run.</summary>
        public IReadOnlyDictionary<string, ProbeTally>? BaselineTallies { get; init; }

        /// <summary>The model to run instead of the artifact's bytes (the artifact with the edit site's input as an extra output).</summary>
        public byte[]? ModelBytes { get; init; }

        /// <summary>Initializers to run the artifact with in place of its own (a candidate edit judged by ONNX Runtime).</summary>
        public IReadOnlyList<InitializerOverride>? Overrides { get; init; }

        /// <summary>Where to record the edit site's inputs while probing.</summary>
        public SiteActivations? Record { get; init; }

        /// <summary>An edit to judge without running the model.</summary>
        public SiteEdit? Edit { get; init; }

        /// <summary>File digests known already in this run.</summary>
        public DigestCache? Digests { get; init; }
    }

    /// <summary>The edit site of an artifact that may be remediated, found before it is verified so that the verify pass records the site's inputs.</summary>
    /// <remarks>The inputs recorded are those of the plan's lowest site: what the linear probe reads and what an edit of the plan cannot change.</remarks>
    private sealed record SitePlan(global::Onnx.ModelProto Model, EditPlan Edits, double[,] Weight, double[] Bias, string Folder, SiteActivations Activations, byte[] Instrumented);

    /// <summary>Reads the artifact's graph and finds its edit site; problems go to <paramref name="problems"/>, to be reported only if remediation is needed.</summary>
    private static SitePlan? PlanSite(GateModelInput input, ModelManifest manifest, DiagnosticBag problems, ModelLimits limits)
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
    private static Dictionary<(string Policy, string Concept), LinearProbeReport> LinearProbes(IReadOnlyList<Policy> policies, ModelManifest manifest, SitePlan plan)
    {
        var result = new Dictionary<(string, string), LinearProbeReport>();
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
                var score = LinearProbe.Score(
                    Recorded(plan.Activations, binding.Concept.Files).Select(a => a.Activation).ToList(),
                    Recorded(plan.Activations, negatives.Select(x => x.File)).Select(a => a.Activation).ToList());
                result[(policy.Id, clause.Concept)] = new LinearProbeReport(plan.Edits.Lowest.Input, siblings.Count > 0 ? "siblings" : "others", Rate(score)!);
            }
        }

        return result;
    }

    /// <summary>Forget clauses whose linear probe reads the concept out above the policy's bound (judged on the upper bound).</summary>
    private static List<(Policy Policy, ForgetClause Clause, LinearProbeReport Probe, double Max)> LinearProbeMisses(
        IReadOnlyList<Policy> policies, Dictionary<(string Policy, string Concept), LinearProbeReport> probes, EditSite site)
        => [.. from policy in policies
               where policy.Metrics?.MaxLinearProbeAccuracy is not null
               from clause in policy.Forget
               where probes.TryGetValue((policy.Id, clause.Concept), out var probe) && probe.Accuracy.CiHigh > policy.Metrics!.MaxLinearProbeAccuracy
               select (policy, clause, probes[(policy.Id, clause.Concept)], policy.Metrics!.MaxLinearProbeAccuracy!.Value)];

    private static IReadOnlyList<Diagnostic> ProbeMissDiagnostics(List<(Policy Policy, ForgetClause Clause, LinearProbeReport Probe, double Max)> misses, EditSite site)
    {
        var bag = new DiagnosticBag();
        foreach (var (policy, clause, probe, max) in misses)
        {
            bag.Add(DiagnosticCodes.MetricMissed, clause.Location, policy.Id,
                $"'{clause.Concept}' linear-probe accuracy against its {probe.Against} below the edit site '{site.Node}' (upper bound)",
                Fixed(probe.Accuracy.CiHigh), "above the allowed", max.ToString(CultureInfo.InvariantCulture));
        }

        return bag.Items;
    }

    private static string Fixed(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static List<(string File, float[] Activation)> Recorded(SiteActivations activations, IEnumerable<string> files)
        => files.Select(f => (File: f, Activation: activations.Get(Perturbation.None, f))).Where(x => x.Activation is not null).Select(x => (x.File, x.Activation!)).ToList();

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));

    /// <summary>A policy's general probe files grouped by the label their folder names (KTU2018 for a folder that names none), without the labels the policy forgets: general accuracy measures unrelated knowledge.</summary>
    private static IReadOnlyList<(int Label, IReadOnlyList<string> Files)> GeneralSet(Policy policy, ModelManifest manifest, DiagnosticBag diagnostics)
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
            var label = ConceptBinding.FindLabel(manifest, folder.Key);
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

    private static LoadedModel? OpenBaseline(string path, ModelManifest manifest, GateRequest request, DiagnosticBag diagnostics)
    {
        var local = new DiagnosticBag();
        var baseline = LoadedModel.Open(path, manifest, request.ExecutionProvider, local, request.Limits);
        foreach (var d in local.Items.Where(d => d.Severity == DiagnosticSeverity.Error))
        {
            diagnostics.Add(DiagnosticCodes.BaselineInvalid, new SourceLocation(path), path, d.Message);
        }

        return baseline;
    }

    private static void CheckLevel(ConceptBinding binding, KnowledgeLevel level, SourceLocation location, ModelManifest manifest, string modelName, DiagnosticBag diagnostics)
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

    private static ConceptMeasurement Measure(ConceptBinding binding, ModelManifest manifest, ProbeTally tally)
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

    internal static RateInfo? Rate(Proportion? p)
        => p is null ? null : new RateInfo(Round(p.Rate), p.Successes, p.N, Round(p.Low), Round(p.High));

    private static double Round(double value) => Math.Round(value, 6, MidpointRounding.ToEven);

    private static ClauseReport ToReport(ClauseVerdict v, string baseDirectory) => new(
        v.Policy, v.Kind, v.Concept, ClauseJudge.LevelName(v.Level), v.Passed, Rate(v.Measured)!, Rate(v.Baseline),
        v.MaxAccuracy, v.MinAccuracy, v.MaxDrop,
        new ReportLocation(Digests.Relative(baseDirectory, v.Location.File), v.Location.Line, v.Location.Column),
        v.Diagnostics.Select(d => d.Code).ToList())
    {
        Status = ClauseStatuses.Name(v.Status),
    };

    private static ReportDiagnostic ToReport(Diagnostic d, string baseDirectory) => new(
        d.Code, d.Severity.ToString().ToLowerInvariant(), d.Message,
        d.Location is null ? null : Digests.Relative(baseDirectory, d.Location.File), d.Location?.Line ?? 0, d.Location?.Column ?? 0);

    private static PolicyInfo PolicyInfoOf(Policy p, string baseDirectory)
        => new(p.Id, p.Title, p.Request?.RequestedBy, p.Request?.Reason, p.Request?.Reference, FileDigests.Of(baseDirectory, p.Path)!, p.Remedy.Allowed);

    private static string Timestamp(DateTimeOffset? requested)
    {
        var time = requested
            ?? (long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
                ? DateTimeOffset.FromUnixTimeSeconds(epoch)
                : DateTimeOffset.UtcNow);
        return time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
    }

    /// <summary>Turns a probe's exemplar count into <see cref="ProbeProgress"/> reports, synchronously.</summary>
    private sealed class Progress(IProgress<ProbeProgress> target, string model, string concept, int total) : IProgress<int>
    {
        public void Report(int value) => target.Report(new ProbeProgress(model, concept, value, total));
    }
}
