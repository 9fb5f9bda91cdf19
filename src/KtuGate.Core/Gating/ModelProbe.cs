using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Verdicts;
using static KtuGate.ReportAssembly;
using static KtuGate.ModelCheck;


namespace KtuGate;

/// <summary>
/// One probe-and-judge pass over a model: bind each policy's concepts to the manifest, probe every exemplar set once (and the baseline's),
/// measure, judge every clause, metric, perturbed exemplar and wording, and assemble the model's report.
/// </summary>
internal sealed class ModelProbe : IDisposable
{
    private readonly Context _c;
    private readonly LoadedModel? _model;
    private LoadedModel? _baseline;
    private readonly Dictionary<string, ProbeTally> _tallies = [];

    /// <summary>Each exemplar set's exemplars as last loaded in this pass (a text kind's records), keyed by its files.</summary>
    private readonly Dictionary<string, IReadOnlyList<Exemplar>> _exemplars = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProbeTally> _baselineTallies;
    private SiteProbe? _siteProbe;
    private IConceptProbe? _probe;
    private IConceptProbe? _baselineProbe;
    private int _passDone;
    private int _passTotal;

    private ModelProbe(Context context, LoadedModel? model)
    {
        _c = context;
        _model = model;
        _baselineTallies = context.Options.BaselineTallies is { } known ? new Dictionary<string, ProbeTally>(known) : [];
    }

    /// <summary>What a pass is asked to probe and judge.</summary>
    internal sealed record Context(
        GateModelInput Input, ModelManifest Manifest, IReadOnlyList<Policy> Policies, GateRequest Request, string BaseDirectory,
        DiagnosticBag Diagnostics, CheckOptions Options, CancellationToken CancellationToken)
    {
        /// <summary>The artifact's file name, as messages and progress name it.</summary>
        public string ModelName => Path.GetFileName(Input.Artifact);

        /// <summary>The model's kind, open for the run.</summary>
        public KindSession Kind => Options.Kind!;
    }

    /// <summary>Runs the pass: open the model (unless an edit is judged from recorded inputs), bind, probe, judge, report.</summary>
    public static Checked Run(Context c)
    {
        var edit = c.Options.Edit;
        var model = edit is null ? LoadedModel.Open(c.Input.Artifact, c.Options.ModelBytes, c.Manifest, c.Request.ExecutionProvider, c.Diagnostics, c.Request.Limits, c.Options.Overrides ?? []) : null;
        if (model is null && edit is null)
        {
            return new Checked(null, [], null, new Dictionary<string, ProbeTally>());
        }

        // The pass owns the models it opened from here on, whichever way it ends.
        using var pass = new ModelProbe(c, model);
        if (model is not null)
        {
            c.Kind.CheckModel(model, c.Diagnostics);
        }

        pass._baseline = c.Input.Baseline is null || c.Options.BaselineTallies is not null ? null : OpenBaseline(c.Input.Baseline, c.Manifest, c.Request, c.Diagnostics);
        var bindings = pass.Bind();
        var general = c.Policies.ToDictionary(p => p, p => GeneralSet(p, c.Manifest, c.Diagnostics));
        if (c.Diagnostics.HasErrors || !c.Kind.CanProbe)
        {
            return new Checked(null, [], model?.ExecutionProvider, new Dictionary<string, ProbeTally>());
        }

        // Each distinct exemplar set is probed once (see Tally): their sizes make the overall progress bar's end.
        pass._passTotal = bindings.Select(b => (Label: b.Binding.FineLabel, Files: pass.OnSplit(b.Policy, b.Binding.Concept.Files)))
            .Concat(general.SelectMany(g => g.Value.Select(set => (set.Label, Files: pass.OnSplit(g.Key, set.Files)))))
            .DistinctBy(set => $"{set.Label}\n{string.Join('\n', set.Files)}").Sum(set => set.Files.Count);
        pass.OpenProbes();
        var (measurements, conceptTallies, conceptReports) = pass.MeasureConcepts(bindings);
        var judged = pass.Judge(bindings, general, measurements, conceptTallies);
        return pass.Report(conceptReports, judged);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _model?.Dispose();
        _baseline?.Dispose();
    }

    /// <summary>Each policy's concepts bound to the manifest's labels and groups, each level it is judged at checked (KTU2004, KTU2017).</summary>
    private List<(Policy Policy, ConceptBinding Binding)> Bind()
    {
        var bindings = new List<(Policy Policy, ConceptBinding Binding)>();
        foreach (var policy in _c.Policies)
        {
            var needed = policy.Forget.Select(c => (c.Concept, c.Level, c.Location))
                .Concat(policy.Retain.Select(c => (c.Concept, c.Level, c.Location)));
            foreach (var group in needed.GroupBy(n => n.Concept))
            {
                var binding = ConceptBinding.Bind(policy, policy.GetConcept(group.Key), _c.Manifest, _c.ModelName, _c.Diagnostics);
                if (binding is null)
                {
                    continue;
                }

                foreach (var use in group.DistinctBy(u => u.Level))
                {
                    CheckLevel(binding, use.Level, use.Location, _c.Manifest, _c.ModelName, _c.Diagnostics);
                }

                bindings.Add((policy, binding));
            }
        }

        return bindings;
    }

    /// <summary>The model's probe (ONNX Runtime's, or an edit judged from the site's recorded inputs) and the baseline's.</summary>
    private void OpenProbes()
    {
        var edit = _c.Options.Edit;
        _siteProbe = edit is null ? null : _c.Kind.SiteProbe(edit.Activations, edit.Weight, edit.Bias);
        _probe = Probe(Perturbation.None);
        _baselineProbe = _baseline is null ? null : _c.Kind.Probe(_baseline, _c.Request.BatchSize, Perturbation.None, null);
    }

    /// <summary>The model's probe of exemplars as they are, mirrored or noisy.</summary>
    private IConceptProbe Probe(Perturbation perturbation) => _c.Options.Edit is null
        ? _c.Kind.Probe(_model!, _c.Request.BatchSize, perturbation, _c.Options.Record)
        : _siteProbe!.With(perturbation);

    /// <summary>The model's and the baseline's results on an exemplar set; each distinct (exemplars, label, wordings) is probed once per run, however many policies name it.</summary>
    private (ProbeTally Model, ProbeTally? Baseline) Tally(IReadOnlyList<string> files, int label, IReadOnlyList<string> wordings, string concept)
    {
        var key = $"{label}\n{string.Join('\n', wordings)}\n{string.Join('\n', files)}";
        var phase = _c.Options.Phase ?? (_c.Options.Record is null ? ProgressText.Probing : ProgressText.Recording);
        var progress = _c.Request.Progress is null ? null : new Progress(_c.Request.Progress, _c.ModelName, concept, files.Count, phase, _passDone, Math.Max(_passTotal, _passDone + files.Count));
        if (!_tallies.TryGetValue(key, out var tally))
        {
            progress?.Report(0);
            tally = _tallies[key] = _probe!.Probe(Exemplars(files, _c.Diagnostics), label, wordings, _c.Diagnostics, progress, _c.CancellationToken);
            _passDone += files.Count;
        }

        ProbeTally? baselineTally = null;
        if (_c.Input.Baseline is not null && !_baselineTallies.TryGetValue(key, out baselineTally))
        {
            // Known baseline results cover every exemplar set a run probes (the same policies and manifest give the same sets).
            baselineTally = (_baselineProbe ?? throw new InvalidOperationException("The baseline's results for an exemplar set are missing.")).Probe(Exemplars(files, null), label, wordings, new DiagnosticBag(), null, _c.CancellationToken);
            _baselineTallies[key] = baselineTally;
        }

        return (tally, baselineTally);
    }

    /// <summary>
    /// The exemplars of a concept's <paramref name="files"/>: loaded again where their problems are to be reported (each model probe reports
    /// its own, as it always has), else, for the baseline's and the perturbed probes, as last loaded in this pass.
    /// </summary>
    private IReadOnlyList<Exemplar> Exemplars(IReadOnlyList<string> files, DiagnosticBag? report)
    {
        var key = string.Join('\n', files);
        return report is null && _exemplars.TryGetValue(key, out var known) ? known : _exemplars[key] = _c.Kind.Exemplars(files, report ?? new DiagnosticBag());
    }

    /// <summary>Every bound concept probed and measured at both levels, on the model and the baseline, with its report.</summary>
    private (Dictionary<(Policy, string), (ConceptMeasurement Model, ConceptMeasurement? Baseline)> Measurements, Dictionary<(Policy, string), ProbeTally> Tallies, List<ConceptReport> Reports)
        MeasureConcepts(List<(Policy Policy, ConceptBinding Binding)> bindings)
    {
        var (manifest, baseDirectory) = (_c.Manifest, _c.BaseDirectory);
        var measurements = new Dictionary<(Policy, string), (ConceptMeasurement Model, ConceptMeasurement? Baseline)>();
        var conceptTallies = new Dictionary<(Policy, string), ProbeTally>();
        var conceptReports = new List<ConceptReport>();
        foreach (var (policy, binding) in bindings)
        {
            // A remediation's candidates are judged on the held-out part only; the exemplar set's digest still covers every file.
            var files = OnSplit(policy, binding.Concept.Files);
            var wordings = _c.Kind.Wordings(policy, binding.Concept, binding.FineLabel);
            var (tally, baselineTally) = Tally(files, binding.FineLabel, wordings, binding.Concept.Name);
            var measured = Measure(binding, manifest, tally);
            var baselineMeasured = baselineTally is null ? null : Measure(binding, manifest, baselineTally);
            measurements[(policy, binding.Concept.Name)] = (measured, baselineMeasured);
            conceptTallies[(policy, binding.Concept.Name)] = tally;
            conceptReports.Add(new ConceptReport(
                policy.Id, binding.Concept.Name, measured.FineLabel, measured.CoarseGroup,
                new ExemplarSet(binding.Concept.Files.Count, Digests.OfFileSet(baseDirectory, binding.Concept.Files, _c.Options.Digests)),
                Rate(measured.Fine), Rate(measured.Coarse),
                measured.Predicted.Where(p => p.Value > 0).ToDictionary(p => p.Key, p => p.Value),
                baselineMeasured is null ? null : new BaselineRates(Rate(baselineMeasured.Fine), Rate(baselineMeasured.Coarse)),
                binding.FineLabel < 0 ? [] : tally.Samples[binding.FineLabel].Select(f => Digests.Relative(baseDirectory, f)).ToList())
            {
                Wordings = tally.Wordings.Select(w => new WordingReport(w.Wording, Rate(new Proportion(w.Recalled, tally.N))!)).ToList(),
            });
        }

        return (measurements, conceptTallies, conceptReports);
    }

    /// <summary>What judging a model gave: every clause's verdict (with its perturbed rates), each policy's metrics, and the thresholds missed beyond the clauses.</summary>
    private sealed record Judged(List<ClauseVerdict> Verdicts, Dictionary<ClauseVerdict, IReadOnlyList<PerturbedRate>> Perturbed, List<PolicyMetricsReport> Metrics, DiagnosticBag Judgements);

    /// <summary>Judges every policy's clauses, robustness, wordings and metrics.</summary>
    private Judged Judge(
        List<(Policy Policy, ConceptBinding Binding)> bindings, Dictionary<Policy, IReadOnlyList<(int Label, IReadOnlyList<string> Files)>> general,
        Dictionary<(Policy, string), (ConceptMeasurement Model, ConceptMeasurement? Baseline)> measurements, Dictionary<(Policy, string), ProbeTally> conceptTallies)
    {
        var perturbedProbes = new[] { Perturbation.Flip, Perturbation.Noise }.ToDictionary(p => p, Probe);

        // Thresholds missed beyond the clauses (metrics, robustness): they belong to this model's judgement, which a remediation replaces.
        var judged = new Judged([], [], [], new DiagnosticBag());
        foreach (var policy in _c.Policies)
        {
            foreach (var clause in policy.Forget)
            {
                var (m, b) = measurements[(policy, clause.Concept)];
                var verdict = ClauseJudge.Forget(policy.Id, clause, m.At(clause.Level)!, b?.At(clause.Level));
                judged.Verdicts.Add(verdict);
                var binding = bindings.First(x => x.Policy == policy && x.Binding.Concept.Name == clause.Concept).Binding;
                judged.Perturbed[verdict] = JudgeRobustness(policy, clause, binding, perturbedProbes, judged.Judgements);
                JudgeWordings(policy, clause, conceptTallies[(policy, clause.Concept)], judged.Judgements);
            }

            foreach (var clause in policy.Retain)
            {
                var (m, b) = measurements[(policy, clause.Concept)];
                judged.Verdicts.Add(ClauseJudge.Retain(policy.Id, clause, m.At(clause.Level)!, b?.At(clause.Level), DropFrom(m.At(clause.Level)!, b?.At(clause.Level))));
            }

            var (generalRate, generalBaseline) = General([.. general[policy].Select(g => (g.Label, Files: OnSplit(policy, g.Files))).Where(g => g.Files.Count > 0)]);
            var paper = PaperMetrics.Compute(policy, measurements.Where(m => m.Key.Item1 == policy).ToDictionary(m => m.Key.Item2, m => m.Value), generalRate, generalBaseline);
            var (metricsReport, metricDiagnostics) = MetricsJudge.Judge(policy, paper, _c.BaseDirectory);
            judged.Metrics.Add(metricsReport);
            judged.Judgements.AddRange(metricDiagnostics);
        }

        return judged;
    }

    /// <summary>
    /// What a 'maxDrop' is measured from. In Remediate it is the original, the unedited artifact measured in the same run: the verify pass
    /// measures that artifact itself (drop 0), and every candidate is judged with it as baseline. In Verify it is the KtuModel's Baseline,
    /// and without one the drop is not checked (KTU3004).
    /// </summary>
    private DropReference? DropFrom(Proportion measured, Proportion? baseline)
        => _c.Request.Mode != GateMode.Remediate ? null
            : _c.Options.IsOriginal ? new DropReference(measured, DropReference.Original)
            : baseline is null ? null : new DropReference(baseline, DropReference.Original);

    /// <summary>The files of an exemplar set this pass judges: all, or one side of a remediation's hold-out split.</summary>
    private IReadOnlyList<string> OnSplit(Policy policy, IReadOnlyList<string> files) => _c.Options.Split?.Of(policy, files) ?? files;

    /// <summary>Robustness: does the concept come back on mirrored or noisy exemplars?</summary>
    private List<PerturbedRate> JudgeRobustness(Policy policy, ForgetClause clause, ConceptBinding binding, Dictionary<Perturbation, IConceptProbe> probes, DiagnosticBag judgements)
    {
        var rates = new List<PerturbedRate>();
        foreach (var (perturbation, perturbedProbe) in probes)
        {
            var tally = perturbedProbe.Probe(Exemplars(OnSplit(policy, binding.Concept.Files), null), binding.FineLabel, [], new DiagnosticBag(), null, _c.CancellationToken);
            var rate = Measure(binding, _c.Manifest, tally).At(clause.Level)!;
            var name = perturbation == Perturbation.Flip ? "flip" : "noise";
            rates.Add(new PerturbedRate(name, Rate(rate)!));
            if (policy.Metrics?.MaxPerturbedAccuracy is { } max && Thresholds.Above(rate.High, max))
            {
                // Within the bound but too few exemplars to show it: insufficient evidence, not a miss.
                judgements.Add(!Thresholds.Above(rate.Rate, max)
                    ? ClauseJudge.Undecided(clause.Location, clause.Concept, $"{(name == "flip" ? "mirrored" : "noisy")} {ClauseJudge.LevelName(clause.Level)}", rate, max)
                    : DiagnosticCodes.MetricMissed.Create(clause.Location, policy.Id,
                        $"'{clause.Concept}' {ClauseJudge.LevelName(clause.Level)} accuracy on {(name == "flip" ? "mirrored" : "noisy")} exemplars (upper bound)",
                        Thresholds.Value(rate.High, max), "above the allowed", Thresholds.Text(max)));
            }
        }

        return rates;
    }

    /// <summary>Knowledge, not a label: no wording of the concept may still recall it (kinds that take prompts; judged on the upper bound).</summary>
    private static void JudgeWordings(Policy policy, ForgetClause clause, ProbeTally conceptTally, DiagnosticBag judgements)
    {
        if (policy.Metrics?.MaxWordingRecall is not { } maxRecall || clause.Level != KnowledgeLevel.Fine)
        {
            return;
        }

        foreach (var wording in conceptTally.Wordings)
        {
            var recall = new Proportion(wording.Recalled, conceptTally.N);
            if (Thresholds.Above(recall.High, maxRecall))
            {
                judgements.Add(!Thresholds.Above(recall.Rate, maxRecall)
                    ? ClauseJudge.Undecided(clause.Location, clause.Concept, $"wording \"{wording.Wording}\" recall", recall, maxRecall)
                    : DiagnosticCodes.MetricMissed.Create(clause.Location, policy.Id,
                        $"'{clause.Concept}' recall by the wording \"{wording.Wording}\" (upper bound)",
                        Thresholds.Value(recall.High, maxRecall), "above the allowed", Thresholds.Text(maxRecall)));
            }
        }
    }

    /// <summary>The general probe set: each label's exemplars probed as that label, pooled (and the baseline's).</summary>
    private (Proportion? Model, Proportion? Baseline) General(IReadOnlyList<(int Label, IReadOnlyList<string> Files)> general)
    {
        if (general.Count == 0)
        {
            return (null, null);
        }

        var parts = general.Select(g => Tally(g.Files, g.Label, [], "general: " + _c.Manifest.Labels[g.Label])
            is var (t, bt) ? (Model: new Proportion(t.PredictedCounts[g.Label], t.N), Baseline: bt is null ? null : new Proportion(bt.PredictedCounts[g.Label], bt.N)) : default).ToList();
        return (PaperMetrics.Pool(parts.Select(p => p.Model)), _c.Input.Baseline is null ? null : PaperMetrics.Pool(parts.Select(p => p.Baseline!)));
    }

    /// <summary>The model's report: artifact and baseline digests, concepts, clauses, metrics, and what the kind read besides the artifact.</summary>
    private Checked Report(List<ConceptReport> conceptReports, Judged judged)
    {
        var (input, baseDirectory, digests) = (_c.Input, _c.BaseDirectory, _c.Options.Digests);
        var report = new ModelReport(
            FileDigests.Of(baseDirectory, input.Artifact, digests)!, null,
            input.Baseline is null ? null : FileDigests.Of(baseDirectory, input.Baseline, digests),
            conceptReports,
            judged.Verdicts.Select(v => ToReport(v, baseDirectory) with { Perturbed = judged.Perturbed.GetValueOrDefault(v) ?? [] }).ToList())
        {
            Metrics = judged.Metrics,
        };

        // What the kind read besides the artifact (a text tower, a decoder's forget quality) is recorded before the artifact's own external
        // data, as it was read. A candidate judged with overrides is judged by its verdicts and metrics alone, and its report is not kept:
        // the kind's extra reading (truth ratios, digests) is left to the artifact that is written and probed again.
        report = (_c.Options.Overrides is null ? _c.Kind.Describe(report, _model, _c.Policies, baseDirectory, digests, _c.Diagnostics) : report) with
        {
            ExternalData = _model is null ? null : FileDigests.External(baseDirectory, input.Artifact, _model.ExternalFiles, digests, _c.Diagnostics),
        };
        return new Checked(report, judged.Verdicts, _model?.ExecutionProvider, _tallies) { Judgements = judged.Judgements.Items };
    }
}
