namespace KtuGate.Measurements;

/// <summary>A measured rate: successes out of n, with its 95% Wilson score interval.</summary>
/// <param name="Successes">How many exemplars counted as recognised.</param>
/// <param name="N">How many exemplars were measured.</param>
public sealed record Proportion(int Successes, int N)
{
    /// <summary>The two-sided 95% normal quantile.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>The measured rate, or 0 when n is 0.</summary>
    public double Rate => N == 0 ? 0 : (double)Successes / N;

    /// <summary>The 95% Wilson interval's lower bound.</summary>
    public double Low => Wilson(Successes, N, Z95).Low;

    /// <summary>The 95% Wilson interval's upper bound; forgetting thresholds are judged on it.</summary>
    public double High => Wilson(Successes, N, Z95).High;

    /// <summary>The fewest exemplars at which a measured <paramref name="rate"/> has a 95% upper bound of at most <paramref name="maxAccuracy"/>, or null when no number is enough.</summary>
    /// <remarks>
    /// For a rate of 0 this is exact: the upper bound of 0 of n is z²/(n + z²), so n ≥ z²(1 − m)/m (73 for m = 0.05). For a rate above 0 it
    /// assumes the same rate on more exemplars. A rate at or above the bound, or a bound of 0, is never shown below it.
    /// </remarks>
    public static int? ExemplarsNeeded(double maxAccuracy, double rate = 0)
    {
        if (maxAccuracy >= 1)
        {
            return 1;
        }

        if (maxAccuracy <= 0 || rate >= maxAccuracy)
        {
            return null;
        }

        // The upper bound falls as n grows at a fixed rate; search for the first n under the bound.
        long low = 1, high = 1;
        while (KtuGate.Policies.Thresholds.Above(UpperAt(rate, high), maxAccuracy))
        {
            if (high > int.MaxValue)
            {
                return null;
            }

            low = high + 1;
            high *= 2;
        }

        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            if (KtuGate.Policies.Thresholds.Above(UpperAt(rate, mid), maxAccuracy))
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low > int.MaxValue ? null : (int)low;
    }

    private static double UpperAt(double p, double n)
    {
        var z2 = Z95 * Z95;
        var denominator = 1 + z2 / n;
        return ((p + z2 / (2 * n)) + Z95 * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n))) / denominator;
    }

    /// <summary>The Wilson score interval for a binomial proportion, which stays inside [0, 1] and behaves at 0 and n successes.</summary>
    /// <remarks>With n = 0 nothing was measured, so the interval is the whole of [0, 1].</remarks>
    public static (double Low, double High) Wilson(int successes, int n, double z)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, n);
        if (n == 0)
        {
            return (0, 1);
        }

        var p = (double)successes / n;
        var z2 = z * z;
        var denominator = 1 + z2 / n;
        var centre = (p + z2 / (2 * n)) / denominator;
        var half = z * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / denominator;

        // At 0 or n successes the bound on that side is exact; clamp away rounding.
        var low = successes == 0 ? 0 : Math.Max(0, centre - half);
        var high = successes == n ? 1 : Math.Min(1, centre + half);
        return (low, high);
    }
}
