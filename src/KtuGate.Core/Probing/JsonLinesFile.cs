using System.Text;
using KtuGate.Diagnostics;
using KtuGate.Json;
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

    /// <summary>
    /// The records of a JSON Lines file: each non-blank line parsed alone as an object, its problems reported with
    /// <paramref name="code"/> at the file and line (JSON errors, a line that is not an object, properties not in <paramref name="fields"/>).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest file read.</param>
    /// <param name="code">The code every problem is reported with.</param>
    /// <param name="noun">What a record is called in messages ("fact").</param>
    /// <param name="fields">The properties a record may have.</param>
    /// <param name="diagnostics">Receives the problems.</param>
    public static IEnumerable<JsonLineRecord> Records(string path, long maxBytes, DiagnosticDescriptor code, string noun, IReadOnlyList<string> fields, DiagnosticBag diagnostics)
    {
        if (ReadBounded(path, maxBytes, code, diagnostics) is not { } bytes)
        {
            yield break;
        }

        var lineNumber = 0;
        foreach (var line in Lines(bytes))
        {
            lineNumber++;
            if (!line.Span.Trim(" \t\r"u8).IsEmpty && JsonLineRecord.Parse(line.Span, path, lineNumber, code, noun, fields, diagnostics) is { } record)
            {
                yield return record;
            }
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

/// <summary>One line of a JSON Lines file read as an object; its fields are read with located errors, all with one code.</summary>
internal sealed class JsonLineRecord
{
    private readonly DiagnosticDescriptor _code;
    private readonly string _noun;
    private readonly DiagnosticBag _diagnostics;

    private JsonLineRecord(JsonTreeObject value, SourceLocation location, DiagnosticDescriptor code, string noun, DiagnosticBag diagnostics)
    {
        Value = value;
        Location = location;
        _code = code;
        _noun = noun;
        _diagnostics = diagnostics;
    }

    /// <summary>The line's object.</summary>
    public JsonTreeObject Value { get; }

    /// <summary>The file and line (column 1).</summary>
    public SourceLocation Location { get; }

    /// <summary>False once a property was refused (unknown, or a list with a wrong item); a missing or wrong text field is its null instead.</summary>
    public bool Ok { get; private set; } = true;

    /// <summary>Parses one line; null (with the problems reported) when it is not a JSON object.</summary>
    public static JsonLineRecord? Parse(ReadOnlySpan<byte> line, string path, int lineNumber, DiagnosticDescriptor code, string noun, IReadOnlyList<string> fields, DiagnosticBag diagnostics)
    {
        // Each line is parsed alone; its locations are moved to the line's number in the file.
        var root = JsonTreeReader.Parse(line, path, out var errors);
        SourceLocation At(SourceLocation l) => l with { Line = lineNumber };
        foreach (var error in errors)
        {
            diagnostics.Add(code, At(error.Location), error.Message);
        }

        if (root is null || errors.Count > 0)
        {
            return null;
        }

        if (root is not JsonTreeObject value)
        {
            diagnostics.Add(code, At(root.Location), $"a {noun} must be an object {{{string.Join(", ", fields)}}}, not {root.KindName}");
            return null;
        }

        var record = new JsonLineRecord(value, new SourceLocation(path, lineNumber, 1), code, noun, diagnostics);
        foreach (var unknown in value.Properties.Where(p => !fields.Contains(p.Name)))
        {
            record.Report(unknown.NameLocation, $"unknown property '{unknown.Name}'; expected: {string.Join(", ", fields)}");
        }

        return record;
    }

    /// <summary>Reports a problem at <paramref name="at"/> (moved to the record's line) and marks the record refused.</summary>
    public void Report(SourceLocation at, string message)
    {
        _diagnostics.Add(_code, at with { Line = Location.Line }, message);
        Ok = false;
    }

    /// <summary>Marks the record refused for a problem already reported.</summary>
    public void Refuse() => Ok = false;

    /// <summary>A required non-empty string of the record (or of <paramref name="within"/>, an object in it, called <paramref name="where"/>); null, reported, when it is missing or not one.</summary>
    public string? Text(string name, JsonTreeObject? within = null, string? where = null)
    {
        var from = within ?? Value;
        switch (from.Find(name)?.Value)
        {
            case JsonTreeString { Value.Length: > 0 } s:
                return s.Value;
            case null:
                _diagnostics.Add(_code, from.Location with { Line = Location.Line }, $"{where ?? "the " + _noun} has no '{name}'");
                return null;
            case var other:
                _diagnostics.Add(_code, other.Location with { Line = Location.Line }, $"'{name}' must be a non-empty string, not {other.KindName}");
                return null;
        }
    }

    /// <summary>An optional array of non-empty strings (empty when absent); a wrong value or item is reported and refuses the record.</summary>
    public List<string> Texts(string name)
    {
        var texts = new List<string>();
        switch (Value.Find(name)?.Value)
        {
            case null:
                break;
            case JsonTreeArray array:
                foreach (var item in array.Items)
                {
                    if (item is JsonTreeString { Value.Length: > 0 } text)
                    {
                        texts.Add(text.Value);
                    }
                    else
                    {
                        Report(item.Location, $"'{name}' must hold non-empty strings, not {item.KindName}");
                    }
                }

                break;
            case var other:
                Report(other.Location, $"'{name}' must be an array of strings, not {other.KindName}");
                break;
        }

        return texts;
    }
}
