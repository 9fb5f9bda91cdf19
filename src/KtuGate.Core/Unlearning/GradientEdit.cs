using System.Numerics.Tensors;

namespace KtuGate.Unlearning;

/// <summary>The settings of one gradient-based edit.</summary>
/// <param name="Method">The name of a gradient method of <see cref="UnlearningMethods"/>: nhl-kl (the seed paper's), ga, ga-kl or npo-kl.</param>
/// <param name="LearningRate">AdamW's step size.</param>
/// <param name="KlWeight">Weight of the KL terms that keep the retained knowledge.</param>
/// <param name="Steps">Full-batch optimisation steps.</param>
public sealed record GradientSettings(string Method, double LearningRate, double KlWeight, int Steps)
{
    /// <summary>The settings tried for a gradient method, gentlest first.</summary>
    public static IReadOnlyList<GradientSettings> Search(string method) => UnlearningMethods.Gradient(method).Search;
}

/// <summary>One exemplar's place in a gradient edit: its activation, and for a forget exemplar the classes that must not win and those that may.</summary>
/// <param name="Activation">The edit site's input.</param>
/// <param name="Forbidden">For a forget exemplar: the classes it must not be recognised as; null for a retain exemplar.</param>
/// <param name="Allowed">For a forget exemplar: the classes it may be recognised as instead (siblings, keeping the coarse parent).</param>
/// <param name="KeepCoarse">For a forget exemplar: whether its coarse-group distribution is held (not when the coarse concept itself is forgotten).</param>
public sealed record GradientExample(float[] Activation, IReadOnlySet<int>? Forbidden, IReadOnlyList<int>? Allowed, bool KeepCoarse = true);

/// <summary>Unlearning by optimising the edit site's weight with analytic gradients (AdamW): the seed paper's negative hinge loss with KL retention (nhl-kl), and the gradient-ascent (ga, ga-kl) and negative-preference (npo-kl) baselines.</summary>
/// <remarks>
/// Scores are z = D·y for y = W·a + b (classifiers, D = I) or z = s·D·y/‖y‖ (dual encoders: text directions D, scale s).
/// Forget losses: nhl = max(0, z_forbidden − z_best-allowed + margin); ga = log p(forbidden); npo = (2/β)·log(1 + (p/p_ref)^β), β = 0.1.
/// KL terms: KL(p_ref ‖ p) on retain exemplars, and on the forget exemplars' coarse-group distribution (keeping the parent).
/// </remarks>
public static class GradientEdit
{
    /// <summary>Optimises the weight and bias.</summary>
    /// <param name="weight">The original weight, [out, in].</param>
    /// <param name="bias">The original bias.</param>
    /// <param name="directions">Per class, its direction in the site's output space.</param>
    /// <param name="groupOfClass">Per class, its coarse group (-1 for none), for the coarse KL term.</param>
    /// <param name="normalize">Whether scores use the unit-length output (dual encoders).</param>
    /// <param name="scale">The score scale (a dual encoder's logit scale; 1 for a classifier).</param>
    /// <param name="examples">Forget and retain exemplars.</param>
    /// <param name="settings">The method and its settings.</param>
    /// <param name="margin">The hinge margin, in score units.</param>
    /// <param name="accept">Asked at every <see cref="CheckpointInterval"/>th step whether the weights so far will do; optimisation stops at the first yes. Null runs every step.</param>
    /// <returns>The weights, and the steps run to reach them.</returns>
    public static (double[,] Weight, double[] Bias, int Steps) Optimize(
        double[,] weight, double[] bias, IReadOnlyList<double[]> directions, IReadOnlyList<int> groupOfClass, bool normalize, double scale,
        IReadOnlyList<GradientExample> examples, GradientSettings settings, double margin, Func<double[,], double[], bool>? accept = null)
    {
        var outputs = weight.GetLength(0);
        var inputs = weight.GetLength(1);
        var theta = Pack(weight, bias);
        var original = (float[])theta.Clone();
        var reference = References(original, examples, directions, normalize, scale, outputs);
        var m = new double[theta.Length];
        var v = new double[theta.Length];
        var grad = new float[theta.Length];
        for (var step = 1; step <= settings.Steps; step++)
        {
            Gradient(theta, examples, reference, directions, groupOfClass, normalize, scale, settings, margin, outputs, grad);

            // AdamW, its weight decay pulling towards the original weights rather than towards zero.
            const double b1 = 0.9, b2 = 0.999, eps = 1e-8, decay = 1e-3;
            var c1 = 1 - Math.Pow(b1, step);
            var c2 = 1 - Math.Pow(b2, step);
            for (var i = 0; i < theta.Length; i++)
            {
                m[i] = b1 * m[i] + (1 - b1) * grad[i];
                v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i];
                theta[i] -= (float)(settings.LearningRate * ((m[i] / c1) / (Math.Sqrt(v[i] / c2) + eps) + decay * (theta[i] - original[i])));
            }

            if (accept is not null && step % CheckpointInterval == 0 && step < settings.Steps)
            {
                var (w, b) = Unpack(theta, outputs, inputs);
                if (accept(w, b))
                {
                    return (w, b, step);
                }
            }
        }

        var (finalWeight, finalBias) = Unpack(theta, outputs, inputs);
        return (finalWeight, finalBias, settings.Steps);
    }

    /// <summary>How often <see cref="Optimize"/> asks whether the weights so far will do.</summary>
    public const int CheckpointInterval = 10;

    /// <summary>The gradient of the method's loss with respect to the weight and bias at <paramref name="weight"/>, <paramref name="bias"/>, the KL terms' reference being the original weights' distributions: what one step of <see cref="Optimize"/> follows.</summary>
    /// <param name="originalWeight">The original weight, [out, in], whose distributions the KL terms keep.</param>
    /// <param name="originalBias">The original bias.</param>
    /// <param name="weight">The weight the gradient is taken at, [out, in].</param>
    /// <param name="bias">The bias it is taken at.</param>
    /// <param name="directions">Per class, its direction in the site's output space.</param>
    /// <param name="groupOfClass">Per class, its coarse group (-1 for none).</param>
    /// <param name="normalize">Whether scores use the unit-length output.</param>
    /// <param name="scale">The score scale.</param>
    /// <param name="examples">Forget and retain exemplars.</param>
    /// <param name="settings">The method and its settings.</param>
    /// <param name="margin">The hinge margin, in score units.</param>
    /// <returns>∂L/∂W ([out, in]) and ∂L/∂b.</returns>
    public static (double[,] Weight, double[] Bias) GradientAt(
        double[,] originalWeight, double[] originalBias, double[,] weight, double[] bias, IReadOnlyList<double[]> directions, IReadOnlyList<int> groupOfClass,
        bool normalize, double scale, IReadOnlyList<GradientExample> examples, GradientSettings settings, double margin)
    {
        var outputs = weight.GetLength(0);
        var reference = References(Pack(originalWeight, originalBias), examples, directions, normalize, scale, outputs);
        var theta = Pack(weight, bias);
        var grad = new float[theta.Length];
        Gradient(theta, examples, reference, directions, groupOfClass, normalize, scale, settings, margin, outputs, grad);
        return Unpack(grad, outputs, weight.GetLength(1));
    }

    /// <summary>Θ = [W b], row by row, as float32.</summary>
    private static float[] Pack(double[,] weight, double[] bias)
    {
        var outputs = weight.GetLength(0);
        var inputs = weight.GetLength(1);
        var n = inputs + 1;
        var theta = new float[outputs * n];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                theta[o * n + i] = (float)weight[o, i];
            }

            theta[o * n + inputs] = (float)bias[o];
        }

        return theta;
    }

    /// <summary>The original weights' class distribution for each example (the KL terms' reference).</summary>
    private static List<double[]> References(float[] original, IReadOnlyList<GradientExample> examples, IReadOnlyList<double[]> directions, bool normalize, double scale, int outputs)
    {
        var n = original.Length / outputs;
        var reference = new List<double[]>(examples.Count);
        for (var start = 0; start < examples.Count; start += Block)
        {
            reference.AddRange(Forward(original, examples, start, Math.Min(Block, examples.Count - start), outputs, n)
                .Select(y => Softmax(ScoresOf(y, directions, normalize, scale))));
        }

        return reference;
    }

    /// <summary>Writes the loss's gradient with respect to Θ into <paramref name="grad"/>.</summary>
    /// <remarks>
    /// The examples are split into a fixed number of chunks, each summing its own gradient (in parallel), added up in chunk order:
    /// the result does not depend on how many cores run it.
    /// </remarks>
    private static void Gradient(
        float[] theta, IReadOnlyList<GradientExample> examples, IReadOnlyList<double[]> reference, IReadOnlyList<double[]> directions, IReadOnlyList<int> groupOfClass,
        bool normalize, double scale, GradientSettings settings, double margin, int outputs, float[] grad)
    {
        var loss = UnlearningMethods.Gradient(settings.Method).Loss;
        var n = theta.Length / outputs;
        var forgetCount = Math.Max(1, examples.Count(e => e.Forbidden is not null));
        var retainCount = Math.Max(1, examples.Count(e => e.Forbidden is null));
        var chunks = Enumerable.Range(0, Chunks).Select(c => (Start: c * examples.Count / Chunks, End: (c + 1) * examples.Count / Chunks, Grad: new float[theta.Length])).ToArray();
        Parallel.ForEach(chunks, chunk =>
        {
            for (var start = chunk.Start; start < chunk.End; start += Block)
            {
                AccumulateBlock(theta, examples, reference, start, Math.Min(Block, chunk.End - start), directions, groupOfClass, normalize, scale,
                    settings, loss, margin, forgetCount, retainCount, outputs, n, chunk.Grad);
            }
        });

        Array.Clear(grad);
        foreach (var chunk in chunks)
        {
            TensorPrimitives.Add(grad, chunk.Grad, grad);
        }
    }

    private static (double[,] Weight, double[] Bias) Unpack(float[] theta, int outputs, int inputs)
    {
        var n = inputs + 1;
        var newWeight = new double[outputs, inputs];
        var newBias = new double[outputs];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                newWeight[o, i] = theta[o * n + i];
            }

            newBias[o] = theta[o * n + inputs];
        }

        return (newWeight, newBias);
    }

    /// <summary>Examples whose forward and backward passes share one sweep over the weights (which then stay in cache).</summary>
    private const int Block = 16;

    /// <summary>How many parts the examples' gradient is summed in.</summary>
    private const int Chunks = 8;

    /// <summary>Adds the gradient of a block of examples' losses to <paramref name="grad"/>.</summary>
    private static void AccumulateBlock(
        float[] theta, IReadOnlyList<GradientExample> examples, IReadOnlyList<double[]> reference, int start, int count,
        IReadOnlyList<double[]> directions, IReadOnlyList<int> groupOfClass, bool normalize, double scale,
        GradientSettings settings, ForgetLoss loss, double margin, int forgetCount, int retainCount, int outputs, int n, float[] grad)
    {
        var inputs = n - 1;
        var classes = directions.Count;
        var y = Forward(theta, examples, start, count, outputs, n);

        var dy = new float[count][];
        var dz = new double[classes];
        var dyExample = new double[outputs];
        for (var b = 0; b < count; b++)
        {
            var k = start + b;
            var e = examples[k];
            var z = ScoresOf(y[b], directions, normalize, scale);
            var p = Softmax(z);
            var pRef = reference[k];
            Array.Clear(dz);
            if (e.Forbidden is null)
            {
                // KL(p_ref ‖ p) keeps a retain exemplar's whole distribution.
                for (var c = 0; c < classes; c++)
                {
                    dz[c] = settings.KlWeight * (p[c] - pRef[c]) / retainCount;
                }
            }
            else
            {
                loss(z, p, pRef, e, margin, dz, 1.0 / forgetCount);
                if (settings.KlWeight > 0 && e.KeepCoarse)
                {
                    ForgetLosses.CoarseKlGradient(p, pRef, groupOfClass, dz, settings.KlWeight / forgetCount);
                }
            }

            Backward(dz, directions, y[b], normalize, scale, dyExample);
            dy[b] = dyExample.Select(d => (float)d).ToArray();
        }

        // Backward: ∂L/∂Θ_o += Σ_b ∂L/∂y_o · ã_b, one gradient row at a time.
        for (var o = 0; o < outputs; o++)
        {
            var row = grad.AsSpan(o * n, inputs);
            for (var b = 0; b < count; b++)
            {
                var d = dy[b][o];
                if (d != 0)
                {
                    TensorPrimitives.MultiplyAdd(examples[start + b].Activation, d, row, row);
                    grad[o * n + inputs] += d;
                }
            }
        }
    }

    /// <summary>y = Θ·ã for a block of examples, one weight row at a time (the row stays in cache across the block).</summary>
    private static double[][] Forward(float[] theta, IReadOnlyList<GradientExample> examples, int start, int count, int outputs, int n)
    {
        var inputs = n - 1;
        var y = new double[count][];
        for (var b = 0; b < count; b++)
        {
            y[b] = new double[outputs];
        }

        for (var o = 0; o < outputs; o++)
        {
            var row = theta.AsSpan(o * n, inputs);
            var bias = theta[o * n + inputs];
            for (var b = 0; b < count; b++)
            {
                y[b][o] = TensorPrimitives.Dot(row, examples[start + b].Activation) + bias;
            }
        }

        return y;
    }

    /// <summary>Class scores of an output: z = s·D·y (over ‖y‖ where normalised).</summary>
    internal static double[] ScoresOf(double[] y, IReadOnlyList<double[]> directions, bool normalize, double scale)
    {
        var norm = normalize ? Math.Sqrt(y.Sum(x => x * x)) : 1;
        var z = new double[directions.Count];
        for (var c = 0; c < z.Length; c++)
        {
            var d = directions[c];
            var s = 0.0;
            for (var o = 0; o < y.Length; o++)
            {
                s += d[o] * y[o];
            }

            z[c] = scale * s / Math.Max(norm, 1e-12);
        }

        return z;
    }

    private static void Backward(double[] dz, IReadOnlyList<double[]> directions, double[] y, bool normalize, double scale, double[] dy)
    {
        Array.Clear(dy);
        for (var c = 0; c < dz.Length; c++)
        {
            if (dz[c] == 0)
            {
                continue;
            }

            var d = directions[c];
            for (var o = 0; o < dy.Length; o++)
            {
                dy[o] += scale * dz[c] * d[o];
            }
        }

        if (!normalize)
        {
            return;
        }

        // Through u = y/‖y‖: dL/dy = (dL/du − u·(u·dL/du)) / ‖y‖.
        var norm = Math.Max(Math.Sqrt(y.Sum(x => x * x)), 1e-12);
        var dot = 0.0;
        for (var o = 0; o < dy.Length; o++)
        {
            dot += dy[o] * y[o] / norm;
        }

        for (var o = 0; o < dy.Length; o++)
        {
            dy[o] = (dy[o] - y[o] / norm * dot) / norm;
        }
    }

    /// <summary>The softmax of scores.</summary>
    internal static double[] Softmax(double[] z)
    {
        var max = z.Max();
        var e = z.Select(x => Math.Exp(x - max)).ToArray();
        var sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }
}
