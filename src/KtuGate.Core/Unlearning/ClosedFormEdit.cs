using System.Numerics.Tensors;

namespace KtuGate.Unlearning;

/// <summary>The settings of one closed-form edit.</summary>
/// <param name="Ridge">How strongly the weights are held to the original, relative to the activations' mean energy.</param>
/// <param name="ForgetWeight">How much the forget exemplars count against the retain exemplars, as a multiple of balance (1: both sets weigh the same in total).</param>
/// <param name="Margin">How far below the best allowed alternative the forbidden score is pushed (in units of the site's typical score).</param>
public sealed record ClosedFormSettings(double Ridge, double ForgetWeight, double Margin)
{
    /// <summary>The settings tried, least intrusive first: a strong pull to the original weights and a small margin.</summary>
    public static IReadOnlyList<ClosedFormSettings> Search { get; } =
    [
        .. from ridge in new[] { 1e-2, 1e-3, 1e-4 }
           from margin in new[] { 1.0, 2.0, 4.0 }
           from weight in new[] { 0.25, 1.0, 4.0 }
           select new ClosedFormSettings(ridge, weight, margin),
    ];
}

/// <summary>A ridge-regularised least-squares edit of a linear layer: forget activations are mapped to targets that no longer express the concept, retain activations keep their outputs.</summary>
/// <remarks>
/// With augmented activations ã = [a; 1] and Θ = [W b], it minimises Σ_retain ‖Θã − Θ₀ã‖² + w Σ_forget ‖Θã − y′‖² + λ‖Θ − Θ₀‖²,
/// solved in closed form by one Cholesky factorisation; no iterations. The Gram matrices of both sets are computed once, so
/// trying another setting costs one factorisation.
/// </remarks>
public sealed class ClosedFormEdit
{
    private readonly int _inputs;
    private readonly int _outputs;
    private readonly double[] _theta;
    private readonly double[] _retainGram;
    private readonly double[] _forgetGram;
    private readonly double[] _thetaRetainGram;
    private readonly IReadOnlyList<float[]> _forget;
    private readonly int _retainCount;
    private readonly Dictionary<IReadOnlyList<double[]>, double[]> _crossTerms = new(ReferenceEqualityComparer.Instance);

    /// <summary>Prepares the edit of one layer.</summary>
    /// <param name="weight">The original weight, [out, in].</param>
    /// <param name="bias">The original bias, [out].</param>
    /// <param name="retain">Activations whose outputs must not change.</param>
    /// <param name="forget">Activations whose outputs are to be moved (targets are given to <see cref="Solve"/>).</param>
    public ClosedFormEdit(double[,] weight, double[] bias, IReadOnlyList<float[]> retain, IReadOnlyList<float[]> forget)
    {
        _outputs = weight.GetLength(0);
        _inputs = weight.GetLength(1);
        var n = _inputs + 1;
        _theta = new double[_outputs * n];
        for (var o = 0; o < _outputs; o++)
        {
            for (var i = 0; i < _inputs; i++)
            {
                _theta[o * n + i] = weight[o, i];
            }

            _theta[o * n + _inputs] = bias[o];
        }

        _forget = forget;
        _retainCount = retain.Count;
        _retainGram = Gram(retain, n);
        _forgetGram = Gram(forget, n);
        _thetaRetainGram = new double[_outputs * n];
        for (var o = 0; o < _outputs; o++)
        {
            for (var k = 0; k < n; k++)
            {
                var t = _theta[o * n + k];
                if (t == 0)
                {
                    continue;
                }

                for (var i = 0; i < n; i++)
                {
                    _thetaRetainGram[o * n + i] += t * _retainGram[k * n + i];
                }
            }
        }
    }

    /// <summary>The original output of the layer for an activation.</summary>
    public double[] Output(float[] activation)
    {
        var n = _inputs + 1;
        var y = new double[_outputs];
        for (var o = 0; o < _outputs; o++)
        {
            var sum = _theta[o * n + _inputs];
            for (var i = 0; i < _inputs; i++)
            {
                sum += _theta[o * n + i] * activation[i];
            }

            y[o] = sum;
        }

        return y;
    }

    /// <summary>Solves for the edited weight and bias.</summary>
    /// <param name="targets">The target output for each forget activation, in the order given to the constructor.</param>
    /// <param name="settings">Ridge strength and forget weight.</param>
    /// <remarks>Settings that share the same targets (the same list) share the targets' cross term, computed once.</remarks>
    public (double[,] Weight, double[] Bias) Solve(IReadOnlyList<double[]> targets, ClosedFormSettings settings)
    {
        var n = _inputs + 1;
        var forgetWeight = ForgetWeight(settings);
        var a = new double[n * n];
        var trace = 0.0;
        for (var i = 0; i < n * n; i++)
        {
            a[i] = _retainGram[i] + forgetWeight * _forgetGram[i];
        }

        for (var i = 0; i < n; i++)
        {
            trace += a[i * n + i];
        }

        // λ is relative to the mean diagonal energy, so the same setting means the same pull for any layer.
        var lambda = settings.Ridge * Math.Max(trace / n, 1e-12);
        for (var i = 0; i < n; i++)
        {
            a[i * n + i] += lambda;
        }

        // Right-hand sides Θ₀·G_retain + λ·Θ₀ + w·Σ_forget y′·ãᵀ, one row per output, transposed to one column per output.
        var cross = CrossTerm(targets);
        var rhs = new double[n * _outputs];
        for (var o = 0; o < _outputs; o++)
        {
            for (var i = 0; i < n; i++)
            {
                rhs[i * _outputs + o] = _thetaRetainGram[o * n + i] + lambda * _theta[o * n + i] + forgetWeight * cross[o * n + i];
            }
        }

        var x = SolveCholesky(Cholesky(a, n), rhs, n, _outputs);
        var newWeight = new double[_outputs, _inputs];
        var newBias = new double[_outputs];
        for (var o = 0; o < _outputs; o++)
        {
            for (var i = 0; i < _inputs; i++)
            {
                newWeight[o, i] = x[i * _outputs + o];
            }

            newBias[o] = x[_inputs * _outputs + o];
        }

        return (newWeight, newBias);
    }

    // Σ_forget y′·ãᵀ as [out, in + 1].
    private double[] CrossTerm(IReadOnlyList<double[]> targets)
    {
        if (_crossTerms.TryGetValue(targets, out var known))
        {
            return known;
        }

        var n = _inputs + 1;
        var cross = new double[_outputs * n];
        var augmented = new double[n];
        augmented[_inputs] = 1;
        for (var f = 0; f < _forget.Count; f++)
        {
            var activation = _forget[f];
            for (var i = 0; i < _inputs; i++)
            {
                augmented[i] = activation[i];
            }

            var y = targets[f];
            for (var o = 0; o < _outputs; o++)
            {
                var row = cross.AsSpan(o * n, n);
                TensorPrimitives.MultiplyAdd(augmented, y[o], row, row);
            }
        }

        _crossTerms[targets] = cross;
        return cross;
    }

    // The forget set is usually far smaller than the retain set; weigh it relative to balance so a setting means the same for any sizes.
    private double ForgetWeight(ClosedFormSettings settings)
        => settings.ForgetWeight * Math.Max(1, _retainCount) / Math.Max(1, _forget.Count);

    private static double[] Gram(IReadOnlyList<float[]> activations, int n)
    {
        var gram = new double[n * n];
        var augmented = new double[n];
        augmented[n - 1] = 1;
        foreach (var a in activations)
        {
            for (var i = 0; i < n - 1; i++)
            {
                augmented[i] = a[i];
            }

            for (var i = 0; i < n; i++)
            {
                var ai = augmented[i];
                if (ai == 0)
                {
                    continue;
                }

                var row = i * n;
                for (var j = 0; j <= i; j++)
                {
                    gram[row + j] += ai * augmented[j];
                }
            }
        }

        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                gram[j * n + i] = gram[i * n + j];
            }
        }

        return gram;
    }

    /// <summary>The lower-triangular L with L·Lᵀ = A (row-major, n × n), for a symmetric positive definite A.</summary>
    public static double[] Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i * n + j] - TensorPrimitives.Dot<double>(l.AsSpan(i * n, j), l.AsSpan(j * n, j));
                if (i == j)
                {
                    if (sum <= 0)
                    {
                        throw new InvalidOperationException("The normal equations are not positive definite.");
                    }

                    l[i * n + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }

        return l;
    }

    /// <summary>Solves A·X = B for every column of B (row-major, n × columns) given A's Cholesky factor.</summary>
    public static double[] SolveCholesky(double[] l, double[] b, int n, int columns)
    {
        // Forward: L·Y = B, then back: Lᵀ·X = Y; each step updates a whole row of right-hand sides at once.
        var x = (double[])b.Clone();
        for (var i = 0; i < n; i++)
        {
            var row = x.AsSpan(i * columns, columns);
            for (var k = 0; k < i; k++)
            {
                TensorPrimitives.MultiplyAdd<double>(x.AsSpan(k * columns, columns), -l[i * n + k], row, row);
            }

            TensorPrimitives.Divide<double>(row, l[i * n + i], row);
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var row = x.AsSpan(i * columns, columns);
            for (var k = i + 1; k < n; k++)
            {
                TensorPrimitives.MultiplyAdd<double>(x.AsSpan(k * columns, columns), -l[k * n + i], row, row);
            }

            TensorPrimitives.Divide<double>(row, l[i * n + i], row);
        }

        return x;
    }

    /// <summary>Moves an output so that the best of the forbidden classes scores <paramref name="margin"/> below the best allowed one, along the line between their directions.</summary>
    /// <param name="output">The site's output for one exemplar.</param>
    /// <param name="directions">Per class, the direction whose dot product with the output is its score (one-hot for logits, text embeddings for a dual encoder).</param>
    /// <param name="forbidden">Classes that must not win.</param>
    /// <param name="allowed">Classes that may win instead (e.g. the forgotten concept's siblings, keeping its coarse parent).</param>
    /// <param name="margin">The gap to open.</param>
    public static double[] Target(double[] output, IReadOnlyList<double[]> directions, IReadOnlySet<int> forbidden, IReadOnlyList<int> allowed, double margin)
    {
        var y = (double[])output.Clone();
        for (var step = 0; step < forbidden.Count; step++)
        {
            double Score(int c) => Dot(directions[c], y);
            var worst = forbidden.MaxBy(Score);
            var best = allowed.MaxBy(Score);
            var gap = Score(worst) - Score(best) + margin;
            if (gap <= 0)
            {
                break;
            }

            var d = new double[y.Length];
            for (var i = 0; i < y.Length; i++)
            {
                d[i] = directions[best][i] - directions[worst][i];
            }

            var beta = gap / Math.Max(Dot(d, d), 1e-12);
            for (var i = 0; i < y.Length; i++)
            {
                y[i] += beta * d[i];
            }
        }

        return y;
    }

    private static double Dot(double[] a, double[] b)
    {
        var s = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }
}
