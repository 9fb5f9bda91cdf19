namespace KtuGate.Probing;

/// <summary>Small vector helpers for embeddings.</summary>
public static class VectorMath
{
    /// <summary>Scales a vector to unit length (leaves a zero vector alone).</summary>
    public static void Normalize(Span<float> v)
    {
        var norm = MathF.Sqrt(Dot(v, v));
        if (norm > 0)
        {
            for (var i = 0; i < v.Length; i++)
            {
                v[i] /= norm;
            }
        }
    }

    /// <summary>The dot product.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);

    /// <summary>The cosine of the angle between two vectors (the dot product over the product of their lengths).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Dot(a, b) / (Math.Sqrt(Dot(a, a)) * Math.Sqrt(Dot(b, b)));

    /// <summary>The unit-length mean of unit vectors (CLIP's prompt ensembling).</summary>
    public static float[] MeanDirection(IEnumerable<float[]> vectors)
    {
        float[]? sum = null;
        foreach (var v in vectors)
        {
            sum ??= new float[v.Length];
            for (var i = 0; i < v.Length; i++)
            {
                sum[i] += v[i];
            }
        }

        sum ??= [];
        Normalize(sum);
        return sum;
    }
}
