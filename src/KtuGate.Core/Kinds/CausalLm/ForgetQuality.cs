namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// TOFU's forget quality: how far a model's truth ratios on the forget set are from a retain model's (one never trained on it),
/// as the p-value of the two-sample Kolmogorov-Smirnov test. A high p-value (at least 0.05) means the two cannot be told apart.
/// </summary>
public static class ForgetQuality
{
    /// <summary>The two-sided two-sample Kolmogorov-Smirnov statistic: the largest distance between the two empirical distributions.</summary>
    public static double Statistic(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        ArgumentOutOfRangeException.ThrowIfZero(a.Count);
        ArgumentOutOfRangeException.ThrowIfZero(b.Count);
        var (x, y) = (a.Order().ToArray(), b.Order().ToArray());
        var (i, j, d) = (0, 0, 0.0);
        while (i < x.Length && j < y.Length)
        {
            // Step past every value equal to the smaller one in both samples, so that ties move together.
            var v = Math.Min(x[i], y[j]);
            while (i < x.Length && x[i] == v)
            {
                i++;
            }

            while (j < y.Length && y[j] == v)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs((double)i / x.Length - (double)j / y.Length));
        }

        return d;
    }

    /// <summary>
    /// The p-value of the two-sided test: exact (the share of the C(m+n, m) orderings of the pooled samples whose distance reaches
    /// the observed one, as SciPy's <c>ks_2samp</c> computes it for small samples) where that count fits a double, else Kolmogorov's
    /// limit with Stephens' correction.
    /// </summary>
    public static double PValue(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        var d = Statistic(a, b);
        var (m, n) = (a.Count, b.Count);
        return m + n <= 1000 ? Exact(m, n, d) : Asymptotic(m, n, d);
    }

    // Paths from (0, 0) to (m, n), one step per pooled value, that stay strictly inside |i/m - j/n| < d: the orderings whose
    // distance is below d. Probabilities rather than counts (each path equally likely) keep the sums within a double.
    private static double Exact(int m, int n, double d)
    {
        const double Tolerance = 1e-9;
        var inside = new double[n + 1];
        for (var i = 0; i <= m; i++)
        {
            for (var j = 0; j <= n; j++)
            {
                if (Math.Abs((double)i / m - (double)j / n) >= d - Tolerance)
                {
                    inside[j] = 0;
                    continue;
                }

                if (i == 0 && j == 0)
                {
                    inside[j] = 1;
                    continue;
                }

                // The path reached (i, j) from (i - 1, j) with probability i / (i + j), from (i, j - 1) with j / (i + j).
                var fromLeft = i > 0 ? inside[j] * i / (i + j) : 0;
                var fromBelow = j > 0 ? inside[j - 1] * j / (i + j) : 0;
                inside[j] = fromLeft + fromBelow;
            }
        }

        return Math.Clamp(1 - inside[n], 0, 1);
    }

    private static double Asymptotic(int m, int n, double d)
    {
        var effective = Math.Sqrt((double)m * n / (m + n));
        var lambda = (effective + 0.12 + 0.11 / effective) * d;
        if (lambda < 0.27)
        {
            // The series converges too slowly here to sum; its value is 1 to five places.
            return 1;
        }

        var sum = 0.0;
        for (var k = 1; k <= 100; k++)
        {
            sum += 2 * (k % 2 == 1 ? 1 : -1) * Math.Exp(-2 * k * k * lambda * lambda);
        }

        return Math.Clamp(sum, 0, 1);
    }
}
