namespace KtuGate.Onnx;

/// <summary>What a model may ask of the engine before any of it runs.</summary>
/// <param name="MaxMemoryBytes">The most memory one tensor, or all initializers together, may declare.</param>
/// <param name="BatchSize">The batch size symbolic dimensions are counted at.</param>
public sealed record ModelLimits(long MaxMemoryBytes, int BatchSize)
{
    /// <summary>The memory the process may use: the machine's (or its container's) memory, as the .NET runtime sees it.</summary>
    public static long DefaultMaxMemoryBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The default limits: the machine's memory, batches of 64.</summary>
    public static ModelLimits Default => new(DefaultMaxMemoryBytes, 64);

    /// <summary>Reads a memory size: bytes, or a number followed by K, M, G or T (powers of 1024; a trailing B or iB is allowed).</summary>
    /// <returns>Whether <paramref name="text"/> is a positive size that fits in 64 bits.</returns>
    public static bool TryParseSize(string? text, out long bytes)
    {
        bytes = 0;
        var t = (text ?? string.Empty).Trim().ToUpperInvariant();
        t = t.EndsWith("IB", StringComparison.Ordinal) ? t[..^2] : t.EndsWith('B') ? t[..^1] : t;
        var shift = t.Length == 0 ? 0 : t[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        var number = shift == 0 ? t : t[..^1];
        if (!long.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value <= 0 || value > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = value << shift;
        return true;
    }
}
