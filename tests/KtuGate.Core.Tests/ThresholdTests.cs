using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Policies;
using KtuGate.Reporting;
using KtuGate.Verdicts;

namespace KtuGate.Core.Tests;

/// <summary>Thresholds compared at exactly their value, and values printed next to a threshold they miss.</summary>
public sealed class ThresholdTests
{
    private static readonly SourceLocation s_at = new("policy.ktu.json", 9, 5);

    private static Policy WithMetrics(MetricThresholds metrics)
        => new("policy.ktu.json", "p", null, null, [], [], [], RemedyOptions.None) { Metrics = metrics };

    [Fact]
    public void A_drop_of_exactly_maxDrop_holds_and_one_count_more_fails()
    {
        // 891/900 - 882/900 is 0.010000000000000009 in doubles: exactly the allowed 0.01 in exact arithmetic.
        var clause = new RetainClause("sandal", KnowledgeLevel.Fine, null, 0.01, s_at);

        var at = ClauseJudge.Retain("p", clause, new Proportion(882, 900), new Proportion(891, 900));
        var beyond = ClauseJudge.Retain("p", clause, new Proportion(881, 900), new Proportion(891, 900));

        Assert.Equal(ClauseStatus.Pass, at.Status);
        Assert.Empty(at.Diagnostics);
        Assert.Equal(ClauseStatus.Fail, beyond.Status);
        Assert.Equal("KTU3003", Assert.Single(beyond.Diagnostics).Code);
    }

    [Fact]
    public void A_general_drop_of_exactly_maxGeneralDrop_holds_and_one_count_more_fails()
    {
        var policy = WithMetrics(new MetricThresholds(null, null, null, null, 0.01, s_at));
        static PaperMetrics General(int after) => new(null, null, null, null, new Proportion(after, 900), new PaperMetrics(null, null, null, null, new Proportion(891, 900), null));

        var (atReport, atDiagnostics) = MetricsJudge.Judge(policy, General(882), ".");
        var (beyondReport, beyondDiagnostics) = MetricsJudge.Judge(policy, General(881), ".");

        Assert.Empty(atDiagnostics);
        Assert.Equal("pass", atReport.Status);
        var missed = Assert.Single(beyondDiagnostics);
        Assert.Equal("KTU3005", missed.Code);
        Assert.Equal("Policy 'p': general accuracy drop is 0.011, above the allowed 0.01", missed.Message);
        Assert.Equal("fail", beyondReport.Status);
    }

    [Fact]
    public void A_quality_just_below_its_floor_is_printed_with_the_digits_that_show_it()
    {
        // Quality (1 - 0.01004) / 1 = 0.98996: three decimals would print it as the floor itself.
        var policy = WithMetrics(new MetricThresholds(0.99, null, null, null, null, s_at));
        var metrics = new PaperMetrics(new Proportion(1004, 100000), null, null, null, null,
            new PaperMetrics(new Proportion(100000, 100000), null, null, null, null, null));

        var (report, diagnostics) = MetricsJudge.Judge(policy, metrics, ".");

        Assert.Equal("Policy 'p': quality is 0.98996, below the required 0.99", Assert.Single(diagnostics).Message);
        Assert.Equal(0.98996, report.Quality);
    }

    [Theory]
    [InlineData(0.98996, 0.99, "0.98996")]
    [InlineData(0.0111111, 0.01, "0.011")]
    [InlineData(0.0100001, 0.01, "0.0100001")]
    [InlineData(0.0499999, 0.05, "0.0499999")]
    [InlineData(0.010000000000000009, 0.01, "0.010")]
    [InlineData(0.98996, null, "0.990")]
    public void A_value_is_printed_on_the_side_of_its_threshold_it_lies(double value, double? threshold, string expected)
        => Assert.Equal(expected, Thresholds.Value(value, threshold));

    [Fact]
    public void A_retain_rate_just_below_its_floor_is_not_printed_as_the_floor_in_the_renderings()
    {
        var clause = new ClauseReport("p", "retain", "sandal", "fine", false, new RateInfo(0.8999, 8999, 10000, 0.894, 0.9057), null, null, 0.9, null,
            new ReportLocation("policy.ktu.json", 9, 5), ["KTU3002"]) { Status = "fail" };

        Assert.Equal("0.8999 (95% CI 0.894-0.906, n=10000)", ReportText.Measured(clause));
    }

    [Fact]
    public void A_retention_floor_missed_by_a_hair_says_so_in_its_message()
    {
        var clause = new RetainClause("sandal", KnowledgeLevel.Fine, 0.9, null, s_at);

        var verdict = ClauseJudge.Retain("p", clause, new Proportion(8999, 10000), null);

        Assert.Equal(
            "'sandal' is no longer known well enough: fine accuracy 0.8999 (95% CI 0.894-0.906, n=10000) < required 0.9",
            Assert.Single(verdict.Diagnostics).Message);
    }
}
