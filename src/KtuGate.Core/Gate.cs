using System.Reflection;
using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Verdicts;
using static KtuGate.ReportAssembly;
using static KtuGate.ModelCheck;
using static KtuGate.Remediation;
using static KtuGate.RemediationOutput;
using static KtuGate.LinearProbing;

namespace KtuGate;

/// <summary>The one entry point both front ends use: read policies and manifests, probe every artifact, judge every clause, write the report.</summary>
public static class Gate
{
    /// <summary>The version of KtuGate, as reports record it.</summary>
    public static string ToolVersion { get; } =
        typeof(Gate).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Checks policies and manifests without running any model.</summary>
    /// <remarks>
    /// It expands every exemplar glob, so it also reports upper-bound thresholds that the policy's exemplars could never show (KTU3007).
    /// A file is one exemplar, unless a manifest given is of a kind whose files hold records (facts, questions): then it counts the probes
    /// the kind runs on them, the fewest any such manifest gives.
    /// </remarks>
    public static IReadOnlyList<Diagnostic> Validate(IEnumerable<string> policies, IEnumerable<string> manifests)
    {
        var diagnostics = new DiagnosticBag();
        var loaded = policies.Select(p => PolicyParser.Load(p, diagnostics)).OfType<Policy>().ToList();
        var parsed = manifests.Select(m => ManifestParser.Load(m, diagnostics)).OfType<ModelManifest>().ToList();
        var counters = parsed.Select(m => ModelKinds.Of(m).ProbeCounter(m)).OfType<Func<string, int>>().ToList();
        Func<string, int>? probes = counters.Count == 0 ? null : file => counters.Min(count => count(file));
        var unrecorded = parsed.Select(m => ModelKinds.Of(m)).Where(k => !k.RecordsSiteFeatures).Select(k => k.Name).Distinct().ToList();
        foreach (var policy in loaded)
        {
            diagnostics.AddRange(ClauseJudge.Unreachable(policy, probes));

            // A linear-probe bound on a model whose probes record no features for it can never be judged: said before any model runs.
            diagnostics.AddRange(unrecorded.SelectMany(kind => ProbeBoundsNotJudged([policy], kind)));
        }

        return diagnostics.Items;
    }

    /// <summary>KTU3008 for each of <paramref name="policies"/> that bounds the linear probe, on a model of <paramref name="kind"/> whose probes record no features for it.</summary>
    private static IEnumerable<Diagnostic> ProbeBoundsNotJudged(IEnumerable<Policy> policies, string kind)
        => policies.Where(p => p.Metrics?.MaxLinearProbeAccuracy is not null)
            .Select(p => DiagnosticCodes.ProbeBoundNotJudged.Create(p.Metrics!.Location, p.Id, Thresholds.Text(p.Metrics.MaxLinearProbeAccuracy!.Value), kind));

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

    /// <summary>Runs the gate: read the policies and manifests, check every model (plan, probe, judge, remediate where asked), report.</summary>
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
        // Models are checked only when every policy and manifest could be read; each model's own problems do not stop the next.
        var readable = !diagnostics.HasErrors;
        for (var i = 0; readable && i < inputs.Count; i++)
        {
            var local = new DiagnosticBag();
            Checked checkedModel;
            try
            {
                checkedModel = CheckOne(inputs[i].Input, manifests[i]!, policies!, request, baseDirectory, digests, local, cancellationToken);
            }
            catch (UnreadableFileException e)
            {
                // Probing refuses such a file (KTU2008) and goes on; the report cannot record its digest, so the model is not judged.
                local.Add(DiagnosticCodes.InputUnreadable, new SourceLocation(e.FilePath), e.FilePath, e.Problem);
                checkedModel = new Checked(null, [], null, new Dictionary<string, KtuGate.Probing.ProbeTally>());
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

        foreach (var verdict in verdicts)
        {
            diagnostics.AddRange(verdict.Diagnostics);
        }

        var read = diagnostics.HasErrors && modelReports.Count == 0 ? new Dictionary<string, string>() : InputsRead(request, policies, inputs, manifests, digests, diagnostics);
        var parts = new ReportParts(request, baseDirectory, provider, policies, modelReports, verdicts, diagnostics);
        return Report(parts, signingKey, read);
    }

    /// <summary>
    /// One model: plan the edit site (where Remediate or a linear-probe bound needs its inputs recorded), probe and judge, remediate
    /// where a forget clause fails and the policy allows, and add the linear probes' readings to the clauses.
    /// </summary>
    private static Checked CheckOne(
        GateModelInput input, ModelManifest manifest, IReadOnlyList<Policy> policies, GateRequest request, string baseDirectory, DigestCache digests,
        DiagnosticBag local, CancellationToken cancellationToken)
    {
        using var kind = ModelKinds.Of(manifest).Open(manifest, input.Artifact, request.ExecutionProvider, request.Limits, local);

        // Concepts are bound to, and measured with, the labels the kind gives (a text encoder's fact subjects).
        manifest = kind.Labelled(manifest);
        var options = new CheckOptions { Kind = kind, Digests = digests };

        // Remediate records the edit site's inputs while it verifies, so that remediation needs no second pass over the exemplars;
        // so does a policy that bounds what a linear probe can read from them.
        var siteProblems = new DiagnosticBag();
        var probeBound = policies.Any(p => p.Metrics?.MaxLinearProbeAccuracy is not null);
        var plan = request.Mode == GateMode.Remediate || probeBound ? PlanSite(input, manifest, siteProblems, request.Limits) : null;
        // In Remediate the artifact measured here, unedited, is the original that a 'maxDrop' compares with (candidates are judged against it).
        var verifyOptions = options with { IsOriginal = request.Mode == GateMode.Remediate };
        var checkedModel = CheckModel(input, manifest, policies, request, baseDirectory, local, cancellationToken,
            plan is null ? verifyOptions : verifyOptions with { ModelBytes = plan.Instrumented, Record = plan.Activations });
        // A kind whose probes record nothing at the site (a decoder's answers are generated, not read from one batch of inputs) has no
        // linear-probe reading: none is reported, and a bound on it cannot be judged (KTU4003, never a pass on nothing).
        var recorded = plan is not null && plan.Activations.Count > 0;
        var linearProbes = !recorded || checkedModel.Report is null ? null : LinearProbes(policies, manifest, plan!);
        var probeMisses = linearProbes is null ? [] : LinearProbeMisses(policies, linearProbes, plan!.Edits.Lowest);
        if (probeBound && plan is not null && !recorded && checkedModel.Report is not null)
        {
            siteProblems.AddRange(ProbeBoundsNotJudged(policies, ManifestKinds.NameOf(manifest.Kind)));
        }

        if (probeBound && !recorded && checkedModel.Report is not null)
        {
            // Why the bound could not be judged; reported here once (remediation is then told of no problems of its own).
            local.AddRange(siteProblems.Items);
            siteProblems = new DiagnosticBag();
        }

        if (request.Mode == GateMode.Remediate && checkedModel.Report is not null && checkedModel.Verdicts.Any(v => v.Kind == "forget" && !v.Passed))
        {
            // Training below the edit site can change what the probe reads there; an edit of the last layer alone cannot.
            var (scope, _) = RemediationRun.ScopeOf(request, [.. policies.Where(p => p.Remedy.Allowed)]);
            if (probeMisses.Count > 0 && scope.All(e => e == RemedyOptions.LastScope))
            {
                BeyondEdit(probeMisses, plan!.Edits.Lowest, "an edit of that layer does not change its inputs and the remedy's scope trains nothing below it", local);
            }
            else
            {
                request.Progress?.Report(new ProbeProgress(Path.GetFileName(input.Artifact), string.Empty, 0, 0) { Phase = ProgressText.SearchingSettings });
                checkedModel = Remediate(input, manifest, policies, checkedModel, plan, siteProblems, request, baseDirectory, local, options, cancellationToken);
                if (checkedModel.Report?.Remediation is { Output: not null, RecoveryProfile: { } profile } && linearProbes is not null)
                {
                    // What the probes read now is the edited artifact's: the recovery profile's reading at the edit site's input, after the edit.
                    linearProbes = profile.Where(d => d.SiteInput).ToDictionary(d => (d.Policy, d.Concept), d => new LinearProbeReport(d.Features, d.Against, d.After));
                    probeMisses = LinearProbeMisses(policies, linearProbes, plan!.Edits.Lowest);
                }
                else if (probeMisses.Count > 0)
                {
                    BeyondEdit(probeMisses, plan!.Edits.Lowest, $"no setting trained through the network over the scope '{string.Join(", ", scope)}' (with the feature-level term too) brought it within the bound", local);
                }
            }
        }

        return linearProbes is null ? checkedModel : WithLinearProbes(checkedModel, linearProbes, ProbeMissDiagnostics(probeMisses, plan!.Edits.Lowest));
    }

    /// <summary>KTU4006 for each forget clause whose linear-probe bound below <paramref name="site"/> remediation cannot (or could not) meet.</summary>
    private static void BeyondEdit(List<(Policy Policy, ForgetClause Clause, LinearProbeReport Probe, double Max)> misses, EditSite site, string why, DiagnosticBag local)
    {
        foreach (var (policy, clause, probe, max) in misses)
        {
            local.Add(DiagnosticCodes.LinearProbeBeyondEdit, clause.Location, policy.Id, clause.Concept, site.Node,
                Thresholds.Value(probe.Accuracy.Rate, max), Thresholds.Value(probe.Accuracy.CiHigh, max), Thresholds.Text(max), why);
        }
    }

    /// <summary>Writes the report (a failed write makes the run an internal error, with its own code) and returns the run's result.</summary>
    private static GateResult Report(ReportParts parts, System.Security.Cryptography.ECDsa? signingKey, Dictionary<string, string> read)
    {
        var (request, baseDirectory, _, _, _, _, diagnostics) = parts;
        var outcome = OutcomeOf(diagnostics.Items);
        var report = Assemble(parts, outcome);
        string? reportPath = null;
        IReadOnlyList<FileDigest> written = [];
        if (request.ReportDirectory is not null)
        {
            try
            {
                request.Progress?.Report(new ProbeProgress(request.ReportDirectory, string.Empty, 0, 0) { Phase = ProgressText.Writing });
                written = ReportWriter.WriteAll(report, request.ReportDirectory, baseDirectory, signingKey);
                reportPath = Path.Combine(request.ReportDirectory, ReportJson.FileName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A run whose report is missing proves nothing: it fails with its own code, not with the verdict it could not record.
                diagnostics.Add(DiagnosticCodes.ReportWriteFailed, null, Path.GetFullPath(request.ReportDirectory), e.Message);
                outcome = GateOutcome.InternalError;
                report = Assemble(parts, outcome);
            }
        }

        return new GateResult(outcome, report, diagnostics.Items, reportPath, written) { Inputs = read };
    }
}
