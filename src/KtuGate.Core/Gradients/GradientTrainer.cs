using System.Numerics.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KtuGate.Gradients;

/// <summary>AdamW over a gradient model's trained weights: ONNX Runtime runs forward and backward, the update is C# over spans.</summary>
/// <remarks>
/// The weights are graph inputs of the gradient model, so each step feeds the current ones (pinned, not copied) and no model is
/// re-serialised. The decay pulls towards the original weights rather than towards zero, as <see cref="Unlearning.GradientEdit"/>'s does.
/// Owns its session: dispose it.
/// </remarks>
public sealed class GradientTrainer : IDisposable
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;
    private readonly GradientModel _model;
    private readonly InferenceSession _session;
    private readonly Dictionary<string, (float[] Values, float[] Original, float[] M, float[] V, long[] Shape)> _state = [];
    private int _step;

    /// <summary>Opens the gradient model and reads its weights' starting values.</summary>
    /// <param name="model">A float32 gradient model.</param>
    /// <param name="options">Session options (execution provider); the defaults when null.</param>
    /// <exception cref="ArgumentException">A trained weight is not float32, or keeps its values in external data (which the trainer does not read).</exception>
    public GradientTrainer(GradientModel model, SessionOptions? options = null)
    {
        _model = model;
        foreach (var weight in model.Weights)
        {
            if (weight.DataType != (int)TensorProto.Types.DataType.Float || weight.DataLocation == TensorProto.Types.DataLocation.External)
            {
                throw new ArgumentException($"Weight '{weight.Name}' is not float32 stored in the model.", nameof(model));
            }

            var values = Floats(weight);
            _state[weight.Name] = (values, (float[])values.Clone(), new float[values.Length], new float[values.Length], [.. weight.Dims]);
        }

        // The engine's ONNX Runtime environment (quiet logging) must exist before a session creates the default one.
        _ = Probing.SessionFactory.OnnxRuntimeVersion;
        _session = options is null ? new InferenceSession(model.Model.ToByteArray()) : new InferenceSession(model.Model.ToByteArray(), options);
    }

    /// <summary>
    /// The most input elements one run of the gradient model takes (32 images of 3x224x224); a larger batch is fed in parts, their gradients
    /// summed. Through ResNet-18 at 224x224 a run of 144 peaked at 15.3 GB and took longer a step than the same 144 in 5 parts, which peaked at
    /// about 4.1 GB, as a run of 32 does (bench/results/deep-step-resnet.md). The activations kept for the backward pass grow with a run's rows.
    /// </summary>
    public const long PartElements = 32L * 3 * 224 * 224;

    /// <summary>Row ranges of at most <see cref="PartElements"/> input elements each (at least one row each), covering <paramref name="rows"/> rows in order.</summary>
    public static IReadOnlyList<(int Start, int Count)> Parts(int rows, long elementsPerRow)
    {
        var size = (int)Math.Clamp(PartElements / Math.Max(1, elementsPerRow), 1, int.MaxValue);
        return [.. Enumerable.Range(0, (rows + size - 1) / size).Select(p => (p * size, Math.Min(size, rows - p * size)))];
    }

    /// <summary>The current value of each trained weight, by initializer name.</summary>
    public IReadOnlyDictionary<string, float[]> Weights => _state.ToDictionary(s => s.Key, s => s.Value.Values);

    /// <summary>How many weights differ from their original values.</summary>
    public long ChangedParameters => _state.Values.Sum(s => (long)s.Values.Zip(s.Original).Count(p => p.First != p.Second));

    /// <summary>The loss at the current weights, without a step.</summary>
    public double Loss(IReadOnlyDictionary<string, Func<OrtValue>> batch) => Run(batch, withGradients: false).Loss;

    /// <summary>One AdamW step on <paramref name="batch"/> (the model's other inputs, made fresh for the run); returns the loss before the step.</summary>
    public double Step(IReadOnlyDictionary<string, Func<OrtValue>> batch, double learningRate, double decay) => Step([batch], learningRate, decay);

    /// <summary>
    /// One AdamW step on a batch fed in <paramref name="parts"/> (micro-batches, one run each): the losses and gradients of the parts are summed,
    /// which is the whole batch's where the loss is a sum over its rows and no row depends on another; returns the loss before the step.
    /// </summary>
    /// <remarks>ONNX Runtime holds one part's activations at a time, so a batch too large for memory in one run can still be trained on.</remarks>
    public double Step(IReadOnlyList<IReadOnlyDictionary<string, Func<OrtValue>>> parts, double learningRate, double decay)
    {
        var (loss, gradients) = Run(parts[0], withGradients: true);
        foreach (var part in parts.Skip(1))
        {
            var (partLoss, partGradients) = Run(part, withGradients: true);
            loss += partLoss;
            foreach (var (name, g) in gradients)
            {
                TensorPrimitives.Add(g, partGradients[name], g);
            }
        }

        _step++;
        var c1 = 1 - Math.Pow(Beta1, _step);
        var c2 = 1 - Math.Pow(Beta2, _step);
        foreach (var (name, s) in _state)
        {
            var g = gradients[name];

            // m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; θ ← θ − lr·(m̂/(√v̂ + ε) + decay·(θ − θ₀)).
            TensorPrimitives.Multiply(s.M, Beta1, s.M);
            TensorPrimitives.MultiplyAdd(g, 1 - Beta1, s.M, s.M);
            TensorPrimitives.Multiply(s.V, Beta2, s.V);
            TensorPrimitives.Multiply(g, g, g);
            TensorPrimitives.MultiplyAdd(g, 1 - Beta2, s.V, s.V);
            for (var i = 0; i < s.Values.Length; i++)
            {
                var update = s.M[i] / c1 / (Math.Sqrt(s.V[i] / c2) + Epsilon) + decay * (s.Values[i] - s.Original[i]);
                s.Values[i] -= (float)(learningRate * update);
            }
        }

        return loss;
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();

    private (double Loss, Dictionary<string, float[]> Gradients) Run(IReadOnlyDictionary<string, Func<OrtValue>> batch, bool withGradients)
    {
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            foreach (var (name, s) in _state)
            {
                names.Add(name);
                values.Add(OrtValue.CreateTensorValueFromMemory(s.Values, s.Shape));
            }

            foreach (var (name, make) in batch)
            {
                names.Add(name);
                values.Add(make());
            }

            var outputNames = new List<string> { _model.Loss };
            if (withGradients)
            {
                outputNames.AddRange(_state.Keys.Select(k => _model.Gradients[k]));
            }

            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, names, values, outputNames);
            var loss = outputs[0].GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Double
                ? outputs[0].GetTensorDataAsSpan<double>()[0]
                : outputs[0].GetTensorDataAsSpan<float>()[0];
            var gradients = new Dictionary<string, float[]>();
            if (withGradients)
            {
                var k = 1;
                foreach (var name in _state.Keys)
                {
                    gradients[name] = outputs[k++].GetTensorDataAsSpan<float>().ToArray();
                }
            }

            return (loss, gradients);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static float[] Floats(TensorProto tensor)
    {
        if (tensor.FloatData.Count > 0)
        {
            return [.. tensor.FloatData];
        }

        var raw = tensor.RawData.ToByteArray();
        var values = new float[raw.Length / 4];
        Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
        return values;
    }
}
