using System.Globalization;

namespace KtuGate.Policies;

/// <summary>How every threshold is compared with a measured value and how the two are printed: one tolerance, one rule for digits.</summary>
/// <remarks>
/// Rates, drops and Q-U are computed in doubles, so a value that is exactly at its threshold in exact arithmetic can land a few units in the
/// last place on either side of it (a drop of 9 in 900 from 0.99 is 0.010000000000000009). A value within <see cref="Tolerance"/> of a
/// threshold is therefore taken to be at it: such noise is below 1e-15, while a genuine difference between rates over up to 10,000
/// exemplars each and a threshold with up to three decimals is at least 1e-11.
/// </remarks>
public static class Thresholds
{
    /// <summary>How far from a threshold a value may be and still count as at it.</summary>
    public const double Tolerance = 1e-12;

    /// <summary>The fewest decimals a value is printed with next to a threshold.</summary>
    private const int MinimumDecimals = 3;

    /// <summary>Whether <paramref name="value"/> is above the upper bound <paramref name="max"/> (a value at it, within <see cref="Tolerance"/>, is not).</summary>
    public static bool Above(double value, double max) => value - max > Tolerance;

    /// <summary>Whether <paramref name="value"/> is below the floor <paramref name="min"/> (a value at it, within <see cref="Tolerance"/>, is not).</summary>
    public static bool Below(double value, double min) => min - value > Tolerance;

    /// <summary>
    /// <paramref name="value"/> printed next to <paramref name="threshold"/>: with three decimals, and more where three would round a value that
    /// misses the threshold onto it or past it, so the printed value is on the side of the threshold that the comparison found
    /// (0.98996 against 0.99 prints as 0.98996, not 0.990).
    /// </summary>
    public static string Value(double value, double? threshold)
    {
        var text = Fixed(value, MinimumDecimals);
        if (threshold is not { } t || (!Above(value, t) && !Below(value, t)))
        {
            return text;
        }

        for (var decimals = MinimumDecimals; decimals <= 17; decimals++)
        {
            text = Fixed(value, decimals);
            var shown = double.Parse(text, CultureInfo.InvariantCulture);
            if (Above(value, t) ? Above(shown, t) : Below(shown, t))
            {
                return text;
            }
        }

        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A value as reports record it next to a threshold: six decimals, or as many more as keep a missed threshold visibly missed.</summary>
    public static double Recorded(double value, double? threshold)
    {
        var shown = Value(value, threshold);
        var decimals = shown.Length - shown.IndexOf('.', StringComparison.Ordinal) - 1;
        return shown.Contains('.', StringComparison.Ordinal) && decimals > 6 ? double.Parse(shown, CultureInfo.InvariantCulture) : Math.Round(value, 6, MidpointRounding.ToEven);
    }

    /// <summary>A threshold as the policy wrote it (the shortest text that reads back as the same number).</summary>
    public static string Text(double threshold) => threshold.ToString(CultureInfo.InvariantCulture);

    private static string Fixed(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
