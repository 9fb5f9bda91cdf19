using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Verdicts;

namespace KtuGate.Core.Tests;

/// <summary>How clauses are judged when the evidence cannot decide, and how diagnostics decide a run's outcome.</summary>
public sealed class VerdictTests
{
    private static readonly SourceLocation s_at = new("policy.ktu.json", 6, 5);

    [Theory]
    [InlineData(0.05, 73)]
    [InlineData(0.10, 35)]
    [InlineData(0.5, 4)]
    [InlineData(1.0, 1)]
    public void Exemplars_needed_for_none_recognised_is_the_first_n_whose_upper_bound_fits(double max, int expected)
    {
        Assert.Equal(expected, Proportion.ExemplarsNeeded(max));
        Assert.True(new Proportion(0, expected).High <= max);
        if (expected > 1)
        {
            Assert.True(new Proportion(0, expected - 1).High > max);
        }
    }

    [Fact]
    public void No_number_of_exemplars_shows_an_accuracy_of_zero_or_a_rate_at_the_bound()
    {
        Assert.Null(Proportion.ExemplarsNeeded(0));
        Assert.Null(Proportion.ExemplarsNeeded(0.05, 0.05));
        // At a rate of 0.04 the interval must narrow to 0.01 above it: far more exemplars than with none recognised.
        var n = Proportion.ExemplarsNeeded(0.05, 0.04)!.Value;
        Assert.InRange(n, 1000, 2000);
        Assert.True(new Proportion(n / 25, n / 25 * 25).High <= 0.0501);
    }

    [Fact]
    public void Zero_of_twenty_is_insufficient_evidence_not_still_known()
    {
        var clause = new ForgetClause("sneaker", KnowledgeLevel.Fine, 0.05, s_at);

        var verdict = ClauseJudge.Forget("p", clause, new Proportion(0, 20), null);

        Assert.False(verdict.Passed);
        Assert.Equal(ClauseStatus.InsufficientEvidence, verdict.Status);
        var d = Assert.Single(verdict.Diagnostics);
        Assert.Equal("KTU3006", d.Code);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(s_at, d.Location);
        Assert.Equal("'sneaker' is not shown forgotten: fine accuracy 0.000 (95% CI 0.000-0.161, n=20) is within the allowed 0.05, but its upper bound is not: insufficient evidence, add exemplars (need at least 73)", d.Message);
    }

    [Fact]
    public void A_rate_above_the_threshold_is_still_known_and_enough_exemplars_pass()
    {
        var clause = new ForgetClause("sneaker", KnowledgeLevel.Fine, 0.05, s_at);

        var known = ClauseJudge.Forget("p", clause, new Proportion(2, 20), null);
        Assert.Equal(ClauseStatus.Fail, known.Status);
        Assert.Equal("KTU3001", Assert.Single(known.Diagnostics).Code);

        var shown = ClauseJudge.Forget("p", clause, new Proportion(0, 73), null);
        Assert.True(shown.Passed);
        Assert.Equal(ClauseStatus.Pass, shown.Status);
        Assert.Empty(shown.Diagnostics);

        var someRecognised = ClauseJudge.Forget("p", clause, new Proportion(1, 40), null);
        Assert.Equal(ClauseStatus.InsufficientEvidence, someRecognised.Status);
        Assert.Contains("need at least", Assert.Single(someRecognised.Diagnostics).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_max_drop_without_a_baseline_is_not_checked_and_not_passed()
    {
        var clause = new RetainClause("sandal", KnowledgeLevel.Fine, 0.5, 0.02, s_at);

        var verdict = ClauseJudge.Retain("p", clause, new Proportion(60, 60), null);

        Assert.False(verdict.Passed);
        Assert.Equal(ClauseStatus.NotChecked, verdict.Status);
        var d = Assert.Single(verdict.Diagnostics);
        Assert.Equal("KTU3004", d.Code);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void Outcome_follows_the_descriptor_category_and_is_unchanged_for_the_existing_codes()
    {
        // The rule the outcome had before categories: any error outside KTU3xxx, KTU4001 and KTU4006 is invalid input; other errors violate.
        static GateOutcome Old(string code) => !code.StartsWith("KTU3", StringComparison.Ordinal) && code is not ("KTU4001" or "KTU4006")
            ? GateOutcome.InvalidInput : GateOutcome.Violated;
        var changed = new[] { "KTU3004", "KTU3006", "KTU3007", "KTU4020", "KTU9001" };
        foreach (var descriptor in DiagnosticCodes.All.Values.Where(d => d.Severity == DiagnosticSeverity.Error && !changed.Contains(d.Code)))
        {
            Assert.True(Old(descriptor.Code) == Gate.OutcomeOf([descriptor.Create(null, new object?[9])]), descriptor.Code);
        }

        Assert.Equal(GateOutcome.InsufficientEvidence, Gate.OutcomeOf([DiagnosticCodes.InsufficientEvidence.Create(s_at, new object?[9])]));
        Assert.Equal(GateOutcome.InsufficientEvidence, Gate.OutcomeOf([DiagnosticCodes.BaselineMissing.Create(s_at, "p", "maxDrop")]));
        Assert.Equal(GateOutcome.InvalidInput, Gate.OutcomeOf([DiagnosticCodes.ThresholdUnreachable.Create(s_at, new object?[9])]));
        Assert.Equal(GateOutcome.InsufficientEvidence, Gate.OutcomeOf([DiagnosticCodes.HeldOutTooFew.Create(s_at, new object?[9])]));
        Assert.Equal(GateOutcome.InternalError, Gate.OutcomeOf([DiagnosticCodes.InternalError.Create(null, "x")]));
        Assert.Equal(GateOutcome.Pass, Gate.OutcomeOf([DiagnosticCodes.ReportUnsigned.Create(null, "x")]));

        // A violation outranks too little evidence; invalid input outranks both.
        var insufficient = DiagnosticCodes.InsufficientEvidence.Create(s_at, new object?[9]);
        var violated = DiagnosticCodes.ConceptStillKnown.Create(s_at, new object?[9]);
        Assert.Equal(GateOutcome.Violated, Gate.OutcomeOf([insufficient, violated]));
        Assert.Equal(GateOutcome.InvalidInput, Gate.OutcomeOf([insufficient, violated, DiagnosticCodes.ModelNotFound.Create(null, "m")]));
        Assert.Equal("insufficient-evidence", Gate.VerdictOf(GateOutcome.InsufficientEvidence));
    }

    [Fact]
    public void JUnit_counts_a_failed_remediation_below_the_edit_site_as_a_verdict_not_an_input_error()
    {
        var report = ReportJson.Deserialize(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Data", "reports", "fixed-report.json")));
        var withProbeMiss = report with
        {
            Diagnostics = [.. report.Diagnostics, new ReportDiagnostic("KTU4006", "error", "below the edit site", "policies/p.ktu.json", 3, 3)],
        };

        var xml = System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(JUnitRenderer.Render(withProbeMiss)));

        Assert.Equal("0", xml.Root!.Attribute("errors")!.Value);
    }
}
