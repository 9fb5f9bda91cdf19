using System.Numerics.Tensors;
using KtuGate.Measurements;

namespace KtuGate.Unlearning;

/// <summary>Can the forgotten concept still be read out of the features just below the edit? A logistic-regression probe says.</summary>
/// <remarks>
/// Trained on every other exemplar (forget concept against everything else) and tested on the rest; features are standardised,
/// classes weighted to balance, 200 full-batch gradient steps with a small L2 penalty. Deterministic.
/// An edit at the last layer leaves these features as they were, so a high score here says the knowledge is still below the edit.
/// </remarks>
public static class LinearProbe
{
    /// <summary>Held-out balanced accuracy of telling forget exemplars from the others, as successes out of n (n = held-out exemplars).</summary>
    public static Proportion Score(IReadOnlyList<float[]> forget, IReadOnlyList<float[]> others)
    {
        var all = forget.Select(f => (Features: f, Label: 1)).Concat(others.Select(o => (Features: o, Label: 0))).ToList();
        var train = all.Where((_, i) => i % 2 == 0).ToList();
        var test = all.Where((_, i) => i % 2 == 1).ToList();
        if (test.Count == 0 || Fit(train) is not { } predict)
        {
            return new Proportion(0, 0);
        }

        return new Proportion(test.Count(t => (predict(t.Features) ? 1 : 0) == t.Label), test.Count);
    }

    /// <summary>
    /// How many of <paramref name="held"/> a probe trained to tell <paramref name="positives"/> from <paramref name="negatives"/> reads as
    /// positive: successes out of n = held. A held-out wording of a forgotten fact read as its object is a recovered fact.
    /// </summary>
    public static Proportion Recovered(IReadOnlyList<float[]> positives, IReadOnlyList<float[]> negatives, IReadOnlyList<float[]> held)
    {
        var train = positives.Select(f => (Features: f, Label: 1)).Concat(negatives.Select(o => (Features: o, Label: 0))).ToList();
        return held.Count == 0 || Fit(train) is not { } predict ? new Proportion(0, 0) : new Proportion(held.Count(predict), held.Count);
    }

    /// <summary>The probe trained on <paramref name="train"/> (label 1 the positives), or null where it holds one label only.</summary>
    private static Func<float[], bool>? Fit(List<(float[] Features, int Label)> train)
    {
        if (train.Count == 0 || train.All(t => t.Label == train[0].Label))
        {
            return null;
        }

        var dim = train[0].Features.Length;
        var mean = new double[dim];
        var std = new double[dim];
        foreach (var (f, _) in train)
        {
            for (var i = 0; i < dim; i++)
            {
                mean[i] += f[i] / (double)train.Count;
            }
        }

        foreach (var (f, _) in train)
        {
            for (var i = 0; i < dim; i++)
            {
                std[i] += (f[i] - mean[i]) * (f[i] - mean[i]) / train.Count;
            }
        }

        for (var i = 0; i < dim; i++)
        {
            std[i] = Math.Sqrt(std[i]) + 1e-6;
        }

        float[] Standard(float[] f) => f.Select((x, i) => (float)((x - mean[i]) / std[i])).ToArray();
        var x = train.Select(t => Standard(t.Features)).ToList();
        var positives = train.Count(t => t.Label == 1);
        var weightPositive = train.Count / (2.0 * positives);
        var weightNegative = train.Count / (2.0 * (train.Count - positives));
        var w = new float[dim];
        var gw = new float[dim];
        var b = 0.0;
        const float rate = 0.5f, l2 = 1e-3f;
        for (var step = 0; step < 200; step++)
        {
            Array.Clear(gw);
            var gb = 0.0;
            for (var k = 0; k < x.Count; k++)
            {
                var p = Sigmoid(TensorPrimitives.Dot(w, x[k]) + b);
                var weight = train[k].Label == 1 ? weightPositive : weightNegative;
                var error = weight * (p - train[k].Label) / x.Count;
                TensorPrimitives.MultiplyAdd(x[k], (float)error, gw, gw);
                gb += error;
            }

            // w -= rate * (gw + l2 * w)
            TensorPrimitives.MultiplyAdd(w, -rate * l2, w, w);
            TensorPrimitives.MultiplyAdd(gw, -rate, w, w);
            b -= rate * gb;
        }

        return f => Sigmoid(TensorPrimitives.Dot(w, Standard(f)) + b) >= 0.5;
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));
}
