using KtuGate.Measurements;

namespace KtuGate.Core.Tests;

public sealed class ProportionTests
{
    // Reference values from the closed form of the Wilson score interval, z = 1.959964 (e.g. Newcombe 1998, Table I).
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    [InlineData(29, 29, 0.8830, 1.0)]
    public void Wilson_interval_matches_published_values(int successes, int n, double low, double high)
    {
        var p = new Proportion(successes, n);
        Assert.Equal(low, p.Low, 4);
        Assert.Equal(high, p.High, 4);
        Assert.InRange(p.Rate, p.Low, p.High);
    }

    [Fact]
    public void Nothing_measured_means_nothing_known()
    {
        var p = new Proportion(0, 0);
        Assert.Equal(0, p.Low);
        Assert.Equal(1, p.High);
    }

    [Fact]
    public void Few_exemplars_give_a_wide_interval()
    {
        // Five lucky exemplars with no hit must not prove a concept forgotten to 5%.
        Assert.True(new Proportion(0, 5).High > 0.05);
        Assert.True(new Proportion(0, 100).High < 0.05);
    }
}
