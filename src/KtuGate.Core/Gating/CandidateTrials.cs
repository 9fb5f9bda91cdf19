using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Reporting;
using KtuGate.Unlearning;
using static KtuGate.ModelCheck;
using static KtuGate.Remediation;

namespace KtuGate;

/// <summary>
/// How one candidate of a remediation's search is tried: a deep candidate trained and judged checkpoint by checkpoint, a passing one written
/// and probed again (only a probed pass is kept), each setting's outcome recorded for the report, and the progress display told which
/// setting runs.
/// </summary>
internal sealed class CandidateTrials(RemediationRun.Context c, EditReadings readings, bool judgedOnAll, string staging)
{
    /// <summary>What the trials read inside the network.</summary>
    internal EditReadings Readings => readings;

    private (string Method, int Judged, int Settings) _searching;

    /// <summary>Tells the progress display which of a method's settings the search tries: <paramref name="judged"/> of <paramref name="settings"/> judged so far.</summary>
    internal void Searching(string method, int judged, int settings)
    {
        _searching = (method, judged, settings);
        Report(string.Empty);
    }

    /// <summary>Tells the progress display how the deep setting being trained fared at its <paramref name="checkpoint"/>th checkpoint.</summary>
    private void Checkpoint(int checkpoint, string outcome)
        => Report(string.Create(CultureInfo.InvariantCulture, $"step {checkpoint * DeepEdit.CheckpointInterval} judged: {outcome}"));

    /// <summary>E.g. "2 clauses missed: KTU3001, KTU3004": how many, and their codes (each miss reads "CODE message").</summary>
    private static string MissedCount(List<string> missed, string what)
        => string.Create(CultureInfo.InvariantCulture, $"{missed.Count} {what}{(missed.Count == 1 ? string.Empty : "s")} missed: {string.Join(", ", missed.Select(m => m.Split(' ')[0]).Distinct())}");

    private void Report(string detail)
        => c.Request.Progress?.Report(new ProbeProgress(Path.GetFileName(c.Input.Artifact), _searching.Method, _searching.Judged, _searching.Settings)
        {
            Phase = ProgressText.SearchingSettings,
            PassDone = _searching.Judged,
            PassTotal = _searching.Settings,
            Detail = detail,
        });

    /// <summary>
    /// Trains one deep candidate, judging its checkpoints by ONNX Runtime, and keeps it where it passes: the search's end (a kept edit, or
    /// nothing where the model cannot be trained), or null to go on with the next.
    /// </summary>
    internal SearchResult? TryDeep(
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
                probed = p = (w, readings.ProbeMisses(w, bounded));
            }

            return p.Missed;
        }

        (IReadOnlyList<InitializerOverride> Weights, (Checked Result, List<string> Missed) Verdict)? last = null;
        var checkpoints = 0;
        if (TrySolve(candidate, w =>
        {
            // A linear-probe bound is judged first: it is cheaper than probing every exemplar set.
            checkpoints++;
            if (ProbeMissesOf(w) is { Count: > 0 } over)
            {
                Checkpoint(checkpoints, MissedCount(over, "linear-probe bound"));
                return false;
            }

            last = (w, probing.Judge(new CandidateEdit([], w)));
            Checkpoint(checkpoints, last.Value.Verdict.Missed.Count == 0 ? "passed" : MissedCount(last.Value.Verdict.Missed, "clause"));
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
            ? kept with { Trained = (scope, weights.Count, changed), Profile = c.Options.Kind!.Unlearning is { } own ? own.Recovery(c.Plan.Model, weights, readings.ForgetClauses(), staging) : readings.Profile(weights) }
            : null;
    }

    /// <summary>
    /// Writes a candidate the judge passed and probes what was written (only a probed pass ships); the kept result, with its verdicts on the
    /// exemplars it was fitted on, or null (the attempt recorded) where the probe found a miss.
    /// </summary>
    internal SearchResult? Keep(string method, string settingsText, byte[] bytes, string candidatePath, CheckOptions shared, List<RemediationAttemptInfo> tried, bool judgedInMemory)
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
        var fitted = judgedOnAll ? judged : CheckModel(new GateModelInput(candidatePath, c.Input.Manifest), c.Manifest, c.Policies, untimed, c.BaseDirectory, new DiagnosticBag(),
            c.CancellationToken, c.Options with { Split = ExemplarSplit.Fitted });
        return new SearchResult(tried, judged, bytes, method, judgedInMemory) { Fitted = fitted.Verdicts };
    }

    /// <summary>Trains one deep candidate; null, with KTU4013, where ONNX Runtime cannot run the gradient model (a model that takes no batch, say).</summary>
    private (IReadOnlyList<InitializerOverride> Weights, string Settings, long Changed)? TrySolve(
        DeepCandidate candidate, Func<IReadOnlyList<InitializerOverride>, bool> accept, IReadOnlyList<string> scope, SourceLocation? location)
    {
        try
        {
            return candidate.Solve(accept, c.CancellationToken);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            c.Diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, string.Join(", ", scope), $"ONNX Runtime could not train it ({e.Message})");
            return null;
        }
    }

    /// <summary>How many values differ between an edit's initializers and the original's.</summary>
    internal static long Changed(IReadOnlyList<InitializerOverride> edited, IReadOnlyList<InitializerOverride> original)
        => edited.Zip(original, (e, o) => (long)e.Values.Zip(o.Values).Count(p => p.First != p.Second)).Sum();

    /// <summary>One setting's outcome, with Q, U and Q-U of the policy it did worst on (judged against the original).</summary>
    internal static RemediationAttemptInfo Attempt(string method, string settings, IReadOnlyList<string> missed, Checked judged, bool probed)
    {
        var weakest = judged.Report?.Metrics.Where(m => m.QualityUtility is not null).MinBy(m => m.QualityUtility);
        return new RemediationAttemptInfo(method, settings, missed.Count == 0, missed.Count, LowestQualityUtility(judged), missed)
        {
            Probed = probed,
            Quality = weakest?.Quality,
            Utility = weakest?.Utility,
        };
    }
}
