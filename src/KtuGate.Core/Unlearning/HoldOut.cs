using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using KtuGate.Policies;

namespace KtuGate.Unlearning;

/// <summary>
/// Which exemplars an edit is fitted on and which it is judged on: each policy holds out the share <see cref="RemedyOptions.HoldOut"/> of
/// its exemplars, chosen by the SHA-256 of each exemplar's path relative to the policy's folder, so the split does not depend on the order
/// or number of files, on the machine, or on the folder the project sits in.
/// </summary>
public static class HoldOut
{
    /// <summary>Whether <paramref name="policy"/> holds <paramref name="file"/> out from the edit.</summary>
    /// <remarks>The first 8 bytes of SHA-256("relative/path") read as a fraction of 2^64: held out when below the share.</remarks>
    public static bool IsHeldOut(Policy policy, string file)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(policy.Path)) ?? string.Empty;
        var relative = Path.GetRelativePath(folder, Path.GetFullPath(file)).Replace('\\', '/');
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(relative), hash);
        var fraction = BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0;
        return fraction < policy.Remedy.HoldOut;
    }

    /// <summary>Whether any of <paramref name="policies"/> holds <paramref name="file"/> out: such a file is never fitted on.</summary>
    public static bool HeldOutByAny(IEnumerable<Policy> policies, string file) => policies.Any(p => IsHeldOut(p, file));
}

/// <summary>One side of the hold-out split: the exemplars a pass probes and judges.</summary>
/// <param name="HeldOut">True for the held-out part (what an edit is judged on), false for the part it is fitted on.</param>
internal sealed record ExemplarSplit(bool HeldOut)
{
    /// <summary>The held-out part.</summary>
    public static ExemplarSplit Judged { get; } = new(true);

    /// <summary>The part an edit is fitted on.</summary>
    public static ExemplarSplit Fitted { get; } = new(false);

    /// <summary>The files of <paramref name="policy"/>'s exemplar set on this side of the split, in their order.</summary>
    public IReadOnlyList<string> Of(Policy policy, IReadOnlyList<string> files) => [.. files.Where(f => HoldOut.IsHeldOut(policy, f) == HeldOut)];
}
