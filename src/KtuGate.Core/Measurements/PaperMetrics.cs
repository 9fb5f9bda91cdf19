using KtuGate.Policies;

namespace KtuGate.Measurements;

/// <summary>The seed paper's unlearning metrics for one policy: forget-set and retain-set accuracies at both levels, and quality, utility and Q-U against a baseline.</summary>
/// <param name="ForgetFine">Pooled fine accuracy over the forget concepts' exemplars.</param>
/// <param name="ForgetCoarse">Pooled coarse accuracy over the forget concepts' exemplars.</param>
/// <param name="RetainFine">Pooled fine accuracy over the exemplars of retained concepts that are not forget concepts.</param>
/// <param name="RetainCoarse">Pooled coarse accuracy over the same.</param>
/// <param name="General">Accuracy on the general probe set.</param>
/// <param name="Baseline">The same five on the baseline artifact, when one was probed.</param>
public sealed record PaperMetrics(Proportion? ForgetFine, Proportion? ForgetCoarse, Proportion? RetainFine, Proportion? RetainCoarse, Proportion? General, PaperMetrics? Baseline)
{
    /// <summary>Whether the policy forgets whole coarse concepts: then quality is measured on forget coarse accuracy, and utility on the retain set only.</summary>
    public bool CoarseForgetting { get; init; }

    /// <summary>Quality: (forget accuracy before − after) / before at the forgotten level (fine, or coarse for a coarse policy), in [0, 1]; null without a baseline or when the baseline did not know the concept.</summary>
    public double? Quality
    {
        get
        {
            var (before, after) = CoarseForgetting ? (Baseline?.ForgetCoarse, ForgetCoarse) : (Baseline?.ForgetFine, ForgetFine);
            return before is { Rate: > 0 } && after is not null ? Math.Clamp((before.Rate - after.Rate) / before.Rate, 0, 1) : null;
        }
    }

    /// <summary>Utility: the mean of min(1, after / before) over forget-coarse (unless the policy forgets at coarse level), retain-fine and retain-coarse accuracy; null without a baseline.</summary>
    public double? Utility
    {
        get
        {
            if (Baseline is null)
            {
                return null;
            }

            var kept = CoarseForgetting
                ? new[] { (RetainFine, Baseline.RetainFine), (RetainCoarse, Baseline.RetainCoarse) }
                : [(ForgetCoarse, Baseline.ForgetCoarse), (RetainFine, Baseline.RetainFine), (RetainCoarse, Baseline.RetainCoarse)];
            var shares = kept
                .Where(p => p.Item1 is not null && p.Item2 is { Rate: > 0 })
                .Select(p => Math.Min(1, p.Item1!.Rate / p.Item2!.Rate))
                .ToList();
            return shares.Count == 0 ? null : shares.Average();
        }
    }

    /// <summary>Q-U: the harmonic mean of quality and utility.</summary>
    public double? QualityUtility => Quality is { } q && Utility is { } u ? (q + u == 0 ? 0 : 2 * q * u / (q + u)) : null;

    /// <summary>Computes the metrics from a policy's concept measurements.</summary>
    /// <param name="policy">The policy.</param>
    /// <param name="measurements">Each concept's measurement on the model and, where probed, the baseline.</param>
    /// <param name="general">Accuracy on the general probe set.</param>
    /// <param name="generalBaseline">The same on the baseline.</param>
    public static PaperMetrics Compute(Policy policy, IReadOnlyDictionary<string, (ConceptMeasurement Model, ConceptMeasurement? Baseline)> measurements, Proportion? general, Proportion? generalBaseline)
    {
        var forget = policy.Forget.Select(c => c.Concept).Distinct().Where(measurements.ContainsKey).ToList();
        var retain = policy.Retain.Select(c => c.Concept).Distinct().Where(c => !forget.Contains(c) && measurements.ContainsKey(c)).ToList();
        PaperMetrics From(Func<(ConceptMeasurement Model, ConceptMeasurement? Baseline), ConceptMeasurement?> side, Proportion? generalRate, PaperMetrics? baseline) => new(
            Pool(forget.Select(c => side(measurements[c])?.Fine)),
            Pool(forget.Select(c => side(measurements[c])?.Coarse)),
            Pool(retain.Select(c => side(measurements[c])?.Fine)),
            Pool(retain.Select(c => side(measurements[c])?.Coarse)),
            generalRate,
            baseline)
        {
            CoarseForgetting = policy.Forget.Count > 0 && policy.Forget.All(c => c.Level == KnowledgeLevel.Coarse),
        };
        var hasBaseline = measurements.Values.Any(m => m.Baseline is not null);
        var before = hasBaseline ? From(m => m.Baseline, generalBaseline, null) : null;
        return From(m => m.Model, general, before);
    }

    /// <summary>Successes and n added up over several rates; null when there are none.</summary>
    public static Proportion? Pool(IEnumerable<Proportion?> parts)
    {
        var present = parts.OfType<Proportion>().ToList();
        return present.Count == 0 ? null : new Proportion(present.Sum(p => p.Successes), present.Sum(p => p.N));
    }
}
