
namespace KtuGate.Unlearning;

/// <summary>
/// The last-layer gradient methods' loss terms over one example's class scores: each forget loss (a <see cref="ForgetLoss"/>: NHL's
/// hinge, gradient ascent, NPO) adds its gradient with respect to the scores, and the coarse KL term keeps the coarse groups' distribution.
/// </summary>
internal static class ForgetLosses
{
    /// <summary>NPO's β, the same for the last-layer losses, the loss sub-graphs (<see cref="MethodLoss"/>) and a decoder's token losses (Kinds/CausalLm/TokenLoss.cs).</summary>
    internal const double Beta = 0.1;

    /// <summary>nhl: max(0, z_forbidden − z_best-allowed + margin), on the worst forbidden and the best allowed class.</summary>
    internal static void NegativeHinge(double[] z, double[] p, double[] pRef, GradientExample e, double margin, double[] dz, double w)
    {
        var worst = e.Forbidden!.MaxBy(c => z[c]);
        var best = e.Allowed!.MaxBy(c => z[c]);
        if (z[worst] - z[best] + margin > 0)
        {
            dz[worst] += w;
            dz[best] -= w;
        }
    }

    /// <summary>ga: minimises log p(forbidden).</summary>
    internal static void Ascent(double[] z, double[] p, double[] pRef, GradientExample e, double margin, double[] dz, double w)
        => AscentWeighted(z, p, e.Forbidden!, dz, w, 1.0);

    /// <summary>npo: the ascent gradient weighed by 2r/(1+r), r = (p/p_ref)^β, which fades as the concept goes.</summary>
    internal static void NegativePreference(double[] z, double[] p, double[] pRef, GradientExample e, double margin, double[] dz, double w)
    {
        var forbidden = e.Forbidden!;
        var pf = forbidden.Sum(c => p[c]);
        var pfRef = forbidden.Sum(c => pRef[c]);
        var factor = 2 * Math.Pow(pf / Math.Max(pfRef, 1e-12), Beta) / (1 + Math.Pow(pf / Math.Max(pfRef, 1e-12), Beta));
        AscentWeighted(z, p, forbidden, dz, w, factor);
    }

    private static void AscentWeighted(double[] z, double[] p, IReadOnlySet<int> forbidden, double[] dz, double w, double factor)
    {
        var pf = forbidden.Sum(c => p[c]);
        for (var c = 0; c < z.Length; c++)
        {
            var q = forbidden.Contains(c) ? p[c] / Math.Max(pf, 1e-12) : 0;
            dz[c] += w * factor * (q - p[c]);
        }
    }

    internal static void CoarseKlGradient(double[] p, double[] pRef, IReadOnlyList<int> groupOfClass, double[] dz, double w)
    {
        var groups = groupOfClass.Max() + 1;
        if (groups <= 0)
        {
            return;
        }

        var pg = new double[groups];
        var pgRef = new double[groups];
        for (var c = 0; c < p.Length; c++)
        {
            if (groupOfClass[c] >= 0)
            {
                pg[groupOfClass[c]] += p[c];
                pgRef[groupOfClass[c]] += pRef[c];
            }
        }

        for (var c = 0; c < p.Length; c++)
        {
            var g = groupOfClass[c];
            if (g >= 0 && pg[g] > 0)
            {
                dz[c] += w * p[c] * (1 - pgRef[g] / pg[g]);
            }
        }
    }
}
