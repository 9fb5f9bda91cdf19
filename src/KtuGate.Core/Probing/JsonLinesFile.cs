using System.Text;
using KtuGate.Diagnostics;
using KtuGate.Onnx;

namespace KtuGate.Probing;

/// <summary>Reads the untrusted record files the text kinds probe (JSON Lines, relations): bounded, regular files only, one line at a time.</summary>
internal static class JsonLinesFile
{
    /// <summary>The bytes of a regular file of at most <paramref name="maxBytes"/>, or null with <paramref name="code"/> reported at the file.</summary>
    /// <remarks>A FIFO or device is refused from the open handle, never read.</remarks>
    public static byte[]? ReadBounded(string path, long maxBytes, DiagnosticDescriptor code, DiagnosticBag diagnostics)
    {
        try
        {
            using var stream = ContainedFile.OpenRegular(path, maxBytes, out var problem);
            if (stream is null)
            {
                diagnostics.Add(code, new SourceLocation(path), $"'{path}' cannot be read: {problem}");
                return null;
            }

            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(code, new SourceLocation(path), $"'{path}' cannot be read: {e.Message}");
            return null;
        }
    }

    /// <summary>The file's lines (a UTF-8 byte order mark skipped), each without its line feed, so that the n-th is line n.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> Lines(byte[] bytes)
    {
        var start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? 3 : 0;
        for (var i = start; i <= bytes.Length; i++)
        {
            if (i == bytes.Length || bytes[i] == (byte)'\n')
            {
                yield return bytes.AsMemory(start, i - start);
                start = i + 1;
            }
        }
    }
}
