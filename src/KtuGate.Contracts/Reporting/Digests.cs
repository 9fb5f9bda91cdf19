using System.Security.Cryptography;
using System.Text;

namespace KtuGate.Reporting;

/// <summary>SHA-256 digests of the files a gate run reads and writes.</summary>
public static class Digests
{
    /// <summary>Lower-case hex SHA-256 of a file's bytes, read in a stream.</summary>
    /// <exception cref="IOException">The file cannot be read, or it is not a regular file (a FIFO or device would block or never end).</exception>
    public static string OfFile(string path) => OfStream(OpenRegular(path));

    /// <summary>Opens a regular file for hashing; anything else is an <see cref="UnreadableFileException"/> at once rather than a read that hangs.</summary>
    internal static FileStream OpenRegular(string path)
        => KtuGate.Onnx.ContainedFile.OpenRegular(path, long.MaxValue, out var problem) ?? throw new UnreadableFileException(path, problem!);

    /// <summary>Lower-case hex SHA-256 of a stream's bytes; disposes it.</summary>
    public static string OfStream(Stream stream)
    {
        using (stream)
        {
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
    }

    /// <summary>A digest over a set of files: SHA-256 of the sorted lines "relative-path SP file-sha256 LF".</summary>
    /// <param name="baseDirectory">The folder the paths are made relative to, so the digest does not depend on where the repository is checked out.</param>
    /// <param name="files">The files.</param>
    /// <param name="cache">Digests already known, or null to hash every file.</param>
    public static string OfFileSet(string baseDirectory, IEnumerable<string> files, DigestCache? cache = null)
    {
        var lines = files
            .Select(f => $"{Relative(baseDirectory, f)} {cache?.OfFile(f) ?? OfFile(f)}\n")
            .Order(StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(lines))));
    }

    /// <summary>A path relative to <paramref name="baseDirectory"/> with '/' separators, or the full path when it lies elsewhere.</summary>
    public static string Relative(string baseDirectory, string path)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Path.GetFullPath(baseDirectory), full);
        return (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full : relative).Replace('\\', '/');
    }
}

/// <summary>A file the gate must digest that cannot be read as a regular file (a FIFO, a device, a folder, gone, or not permitted).</summary>
/// <param name="path">The file.</param>
/// <param name="problem">Why it cannot be read.</param>
public sealed class UnreadableFileException(string path, string problem) : IOException($"'{path}' cannot be digested: {problem}")
{
    /// <summary>The file.</summary>
    public string FilePath { get; } = path;

    /// <summary>Why it cannot be read.</summary>
    public string Problem { get; } = problem;
}

/// <summary>
/// Remembers file digests within one gate run, so that a file read again (an exemplar set judged for every candidate edit, a text tower)
/// is hashed once. A file whose length or last write time changed is hashed again.
/// </summary>
public sealed class DigestCache
{
    private readonly Dictionary<string, (long Length, DateTime Written, string Sha256)> _known = new(StringComparer.Ordinal);

    /// <summary>Lower-case hex SHA-256 of a file's bytes.</summary>
    public string OfFile(string path) => OfFile(path, () => Digests.OpenRegular(path));

    /// <summary>Lower-case hex SHA-256 of a file's bytes, read from the stream <paramref name="open"/> gives (a file that must be opened under rules, like external data).</summary>
    public string OfFile(string path, Func<Stream> open)
    {
        var info = new FileInfo(path);
        if (_known.TryGetValue(info.FullName, out var known) && known.Length == info.Length && known.Written == info.LastWriteTimeUtc)
        {
            return known.Sha256;
        }

        var sha256 = Digests.OfStream(open());
        _known[info.FullName] = (info.Length, info.LastWriteTimeUtc, sha256);
        return sha256;
    }

    /// <summary>Every file digested so far, by full path, with its lower-case hex SHA-256: what the run read.</summary>
    public IReadOnlyDictionary<string, string> Known => _known.ToDictionary(k => k.Key, k => k.Value.Sha256, StringComparer.Ordinal);

    /// <summary>Drops every file below <paramref name="folder"/> (a remediation's staging folder: candidates and their external data), so that what the run wrote and deleted again is not listed as something it read.</summary>
    public void ForgetUnder(string folder)
    {
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        foreach (var path in _known.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
        {
            _known.Remove(path);
        }
    }
}
