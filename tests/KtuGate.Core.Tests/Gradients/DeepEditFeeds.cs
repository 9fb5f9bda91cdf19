using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Tests.Gradients;

/// <summary>The inputs a <see cref="MethodLoss"/> sub-graph is fed for one full batch of forget exemplars (first) and retain exemplars.</summary>
internal static class DeepEditFeeds
{
    /// <summary>The image batch and the loss inputs, each made fresh for every run.</summary>
    /// <param name="images">Forget exemplars first, then retain ones, each 28×28.</param>
    /// <param name="forgetCount">How many of <paramref name="images"/> are forget exemplars.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="forbidden">The forbidden class.</param>
    /// <param name="allowed">The classes a forget exemplar may be recognised as instead.</param>
    /// <param name="reference">The original model's distribution per image.</param>
    /// <param name="klWeight">The KL terms' weight.</param>
    public static Dictionary<string, Func<OrtValue>> For(IReadOnlyList<float[]> images, int forgetCount, int classes, int forbidden, int[] allowed, IReadOnlyList<double[]> reference, double klWeight)
    {
        var n = images.Count;
        var isForget = Enumerable.Range(0, n).Select(k => k < forgetCount ? 1.0 : 0).ToArray();
        double[] Mask(Func<int, bool> picked) => [.. Enumerable.Range(0, n).SelectMany(k => Enumerable.Range(0, classes).Select(c => k < forgetCount && picked(c) ? 1.0 : 0))];
        OrtValue PerExemplar(Func<double, double> value) => OrtValue.CreateTensorValueFromMemory(isForget.Select(value).ToArray(), [n]);
        return new()
        {
            ["image"] = () => OrtValue.CreateTensorValueFromMemory(images.SelectMany(x => x).ToArray(), [n, 1, 28, 28]),
            [MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(Mask(c => c == forbidden), [n, classes]),
            [MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(Mask(allowed.Contains), [n, classes]),
            [MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(reference.SelectMany(r => r).ToArray(), [n, classes]),
            [MethodLoss.IsForget] = () => PerExemplar(f => f),
            [MethodLoss.ForgetWeight] = () => PerExemplar(f => f / forgetCount),
            [MethodLoss.RetainWeight] = () => PerExemplar(f => (1 - f) * klWeight / (n - forgetCount)),
            [MethodLoss.CoarseWeight] = () => PerExemplar(f => f * klWeight / forgetCount),
        };
    }

    /// <summary>Rows [<paramref name="start"/>, start + <paramref name="count"/>) of every fed tensor (each's first axis), as one part of the batch.</summary>
    public static Dictionary<string, Func<OrtValue>> Rows(IReadOnlyDictionary<string, Func<OrtValue>> feeds, int start, int count)
        => feeds.ToDictionary(f => f.Key, f => (Func<OrtValue>)(() =>
        {
            using var whole = f.Value();
            var shape = whole.GetTensorTypeAndShape().Shape;
            var row = (int)shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            long[] partShape = [count, .. shape.Skip(1)];
            return whole.GetTensorTypeAndShape().ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Double
                ? OrtValue.CreateTensorValueFromMemory(whole.GetTensorDataAsSpan<double>().Slice(start * row, count * row).ToArray(), partShape)
                : OrtValue.CreateTensorValueFromMemory(whole.GetTensorDataAsSpan<float>().Slice(start * row, count * row).ToArray(), partShape);
        }));

    /// <summary>The softmax of scores, in float64.</summary>
    public static double[] Softmax(IReadOnlyList<double> z)
    {
        var max = z.Max();
        var e = z.Select(x => Math.Exp(x - max)).ToArray();
        var sum = e.Sum();
        return [.. e.Select(x => x / sum)];
    }
}
