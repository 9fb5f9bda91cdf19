using KtuGate.Diagnostics;

namespace KtuGate.Probing;

/// <summary>An inner tensor's rows, recorded per exemplar and perturbation while a model is probed (see <see cref="ClassifierProbe.Record"/>).</summary>
/// <param name="Tensor">The tensor's name: a graph output the model was given for it.</param>
/// <param name="Width">Floats per exemplar.</param>
public sealed class SiteActivations(string Tensor, int Width)
{
    private readonly Dictionary<(Perturbation, string), float[]> _rows = [];

    /// <summary>The tensor's name.</summary>
    public string Tensor { get; } = Tensor;

    /// <summary>Floats per exemplar.</summary>
    public int Width { get; } = Width;

    /// <summary>How many rows are recorded.</summary>
    public int Count => _rows.Count;

    /// <summary>Records a batch's rows.</summary>
    internal void Add(Perturbation perturbation, ReadOnlySpan<float> rows, IReadOnlyList<string> files)
    {
        for (var i = 0; i < files.Count; i++)
        {
            _rows[(perturbation, files[i])] = rows.Slice(i * Width, Width).ToArray();
        }
    }

    /// <summary>An exemplar's row, if it was recorded.</summary>
    public float[]? Get(Perturbation perturbation, string file) => _rows.GetValueOrDefault((perturbation, file));
}

/// <summary>
/// Probes a model whose last linear layer (the edit site) was given a new weight, without running it: the scores follow from the site's
/// recorded inputs, exactly where the probe reads the site's output up to a positive scale (a classifier's logits; a dual encoder's
/// embedding before normalisation). Each exemplar costs one small matrix-vector product over the directions it is scored on.
/// </summary>
public sealed class SiteProbe : IConceptProbe
{
    private readonly SiteActivations _activations;
    private readonly float[] _weight;
    private readonly float[] _bias;
    private readonly int _inputs;
    private readonly int _labels;
    private readonly Func<string, float[]>? _embed;
    private readonly (float[] Matrix, float[] Offset) _fine;
    private readonly (float[] Matrix, float[] Offset)? _coarse;

    /// <summary>Makes a probe for one edit.</summary>
    /// <param name="activations">The site's inputs, recorded while the original was probed.</param>
    /// <param name="weight">The site's new weight, [out, in].</param>
    /// <param name="bias">The site's new bias.</param>
    /// <param name="fineDirections">Per label, its direction in the site's output space (a dual encoder's text embeddings); null when the outputs are the labels' scores.</param>
    /// <param name="coarseDirections">Per coarse group, its direction; null where coarse predictions follow from fine ones.</param>
    /// <param name="embed">Embeds a wording, for dual encoders.</param>
    public SiteProbe(SiteActivations activations, double[,] weight, double[] bias, IReadOnlyList<float[]>? fineDirections, IReadOnlyList<float[]>? coarseDirections, Func<string, float[]>? embed)
    {
        _activations = activations;
        var outputs = weight.GetLength(0);
        _inputs = weight.GetLength(1);
        _weight = new float[outputs * _inputs];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < _inputs; i++)
            {
                _weight[o * _inputs + i] = (float)weight[o, i];
            }
        }

        _bias = bias.Select(b => (float)b).ToArray();
        _embed = embed;
        _fine = fineDirections is null ? (_weight, _bias) : Project(fineDirections);
        _labels = fineDirections?.Count ?? outputs;
        _coarse = coarseDirections is null ? null : Project(coarseDirections);
    }

    // A copy sharing the weights and projections.
    private SiteProbe(SiteProbe other)
    {
        (_activations, _weight, _bias, _inputs, _labels, _embed, _fine, _coarse) =
            (other._activations, other._weight, other._bias, other._inputs, other._labels, other._embed, other._fine, other._coarse);
    }

    /// <summary>Which recorded exemplars to use: as they are, mirrored or noisy.</summary>
    public Perturbation Perturbation { get; init; }

    /// <summary>The same edit, read on the exemplars recorded with another perturbation (the projections are made once).</summary>
    public SiteProbe With(Perturbation perturbation) => new(this) { Perturbation = perturbation };

    /// <inheritdoc />
    public ProbeTally Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordings, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        wordings = _embed is null || fineLabel < 0 ? [] : wordings;
        var byWording = wordings.Count == 0 ? ([], []) : Project(wordings.Select(_embed!).ToList());
        var coarseGroups = _coarse is { } c ? c.Offset.Length : 0;
        var tally = new TallyBuilder(_labels, _embed is null ? null : coarseGroups, fineLabel, wordings);
        var fine = new float[_labels];
        var coarse = new float[coarseGroups];
        var worded = new float[wordings.Count];
        var n = 0;
        foreach (var file in Exemplar.Files(exemplars))
        {
            // An exemplar the original's probe could not decode has no recorded input; it is left out of n, as the probe leaves it out.
            if (_activations.Get(Perturbation, file) is not { } a)
            {
                continue;
            }

            Scores(_fine, a, fine);
            if (_coarse is { } groups)
            {
                Scores(groups, a, coarse);
            }

            Scores(byWording, a, worded);
            tally.Add(file, fine, coarse, worded);
            n++;
        }

        progress?.Report(n);
        return tally.Build(n);
    }

    // Directions D over the outputs become D·W over the inputs (and D·b), so each exemplar costs directions × inputs.
    private (float[] Matrix, float[] Offset) Project(IReadOnlyList<float[]> directions)
    {
        var outputs = _bias.Length;
        var matrix = new float[directions.Count * _inputs];
        var offset = new float[directions.Count];
        for (var k = 0; k < directions.Count; k++)
        {
            var row = matrix.AsSpan(k * _inputs, _inputs);
            for (var o = 0; o < outputs; o++)
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(_weight.AsSpan(o * _inputs, _inputs), directions[k][o], row, row);
                offset[k] += directions[k][o] * _bias[o];
            }
        }

        return (matrix, offset);
    }

    private void Scores((float[] Matrix, float[] Offset) projected, float[] a, float[] scores)
    {
        for (var k = 0; k < scores.Length; k++)
        {
            scores[k] = VectorMath.Dot(projected.Matrix.AsSpan(k * _inputs, _inputs), a) + projected.Offset[k];
        }
    }
}
