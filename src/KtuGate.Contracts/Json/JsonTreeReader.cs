using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>What kind of problem a <see cref="JsonReadError"/> is, so that each file format can give it its own code.</summary>
public enum JsonReadErrorKind
{
    /// <summary>The text is not JSON.</summary>
    Syntax,

    /// <summary>An object names the same property twice.</summary>
    DuplicateProperty,

    /// <summary>The bytes are not UTF-8, or a string escapes half of a UTF-16 surrogate pair.</summary>
    InvalidText,
}

/// <summary>One problem found while reading JSON text, with where it is.</summary>
/// <param name="Kind">What kind of problem.</param>
/// <param name="Message">What is wrong, for the user.</param>
/// <param name="Location">Where: the offending byte, escape or property name.</param>
public sealed record JsonReadError(JsonReadErrorKind Kind, string Message, SourceLocation Location);

/// <summary>Reads JSON (comments and trailing commas allowed) into a <see cref="JsonTree"/> whose every value knows its line and column.</summary>
/// <remarks>
/// The text is untrusted, so the reader is strict where a lenient one would silently change meaning: a property
/// named twice in one object is an error (a lenient reader lets the last one win, so a second
/// <c>"maxAccuracy"</c> would quietly replace the first), and so are bytes that are not UTF-8 and escapes of half a
/// surrogate pair. A UTF-8 byte order mark is accepted. No input makes it throw.
/// </remarks>
public static class JsonTreeReader
{
    /// <summary>How many invalid UTF-8 sequences one file reports before the rest are left unsaid.</summary>
    private const int MaxEncodingErrors = 10;

    private static readonly JsonReaderOptions s_options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>Parses UTF-8 JSON, reporting every duplicate property, every invalid UTF-8 sequence (up to ten), every escape of half a surrogate pair, and the first syntax error.</summary>
    /// <param name="utf8">The file's bytes.</param>
    /// <param name="file">The path to put in locations.</param>
    /// <param name="errors">Every problem found, in file order; empty when there is none.</param>
    /// <returns>The tree, or null when the text is not JSON. With duplicate properties or invalid text a tree is still returned (the first of each name kept, bad text replaced) so that the rest of the file can be checked, but <paramref name="errors"/> is not empty.</returns>
    public static JsonTree? Parse(ReadOnlySpan<byte> utf8, string file, out IReadOnlyList<JsonReadError> errors)
    {
        if (utf8.StartsWith(Encoding.UTF8.Preamble))
        {
            utf8 = utf8[3..];
        }

        var lines = new LineMap(utf8, file);
        var found = new List<JsonReadError>();
        errors = found;

        // Checked before parsing: System.Text.Json only notices bad UTF-8 when a string is converted, and then throws.
        // Reading goes on (such strings are read with replacement characters), so the file's other errors are reported too.
        var validUtf8 = CheckUtf8(utf8, lines, found);

        var reader = new Utf8JsonReader(utf8, s_options);
        try
        {
            if (!reader.Read())
            {
                found.Add(new JsonReadError(JsonReadErrorKind.Syntax, "the file is empty", new SourceLocation(file, 1, 1)));
                return null;
            }

            var root = ReadValue(ref reader, lines, found, validUtf8);
            if (reader.Read())
            {
                found.Add(new JsonReadError(JsonReadErrorKind.Syntax, "unexpected content after the top-level value", lines.At(reader.TokenStartIndex)));
                return null;
            }

            return root;
        }
        catch (JsonException e)
        {
            // Utf8JsonReader reports 0-based line and byte-in-line positions; turn them into a 1-based character column.
            var line = (int)(e.LineNumber ?? 0);
            var bytePos = (int)(e.BytePositionInLine ?? 0);
            found.Add(new JsonReadError(JsonReadErrorKind.Syntax, TrimReaderMessage(e.Message), lines.AtLineByte(line, bytePos)));
            return null;
        }
        catch (InvalidOperationException e)
        {
            // Text the checks above let through but the reader cannot convert; reported, never thrown.
            found.Add(new JsonReadError(JsonReadErrorKind.InvalidText, TrimReaderMessage(e.Message), lines.At(reader.TokenStartIndex)));
            return null;
        }
    }

    private static string TrimReaderMessage(string message)
    {
        // The reader appends its own "LineNumber: 3 | BytePositionInLine: 4." which the location already says.
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>Reports each invalid UTF-8 sequence (up to <see cref="MaxEncodingErrors"/>) at its byte; returns whether there was none.</summary>
    private static bool CheckUtf8(ReadOnlySpan<byte> utf8, LineMap lines, List<JsonReadError> errors)
    {
        var chars = ArrayPool<char>.Shared.Rent(4096);
        try
        {
            var offset = 0;
            var count = 0;
            while (offset < utf8.Length)
            {
                var status = Utf8.ToUtf16(utf8[offset..], chars, out var read, out _, replaceInvalidSequences: false, isFinalBlock: true);
                offset += read;
                if (status == OperationStatus.Done)
                {
                    break;
                }

                if (status == OperationStatus.DestinationTooSmall)
                {
                    continue;
                }

                // InvalidData (or NeedMoreData at the end, a truncated sequence): name the bad bytes, a run of them as one error.
                var badLength = 0;
                while (offset + badLength < utf8.Length && Rune.DecodeFromUtf8(utf8[(offset + badLength)..], out _, out var consumed) != OperationStatus.Done)
                {
                    badLength += Math.Max(1, consumed);
                }

                badLength = Math.Clamp(badLength, 1, utf8.Length - offset);
                var bytes = string.Join(" ", utf8.Slice(offset, badLength).ToArray().Select(b => "0x" + b.ToString("X2", CultureInfo.InvariantCulture)));
                if (count++ < MaxEncodingErrors)
                {
                    errors.Add(new JsonReadError(JsonReadErrorKind.InvalidText,
                        $"byte(s) {bytes} are not valid UTF-8; the file must be UTF-8 text", lines.At(offset)));
                }

                offset += badLength;
            }

            return count == 0;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>Reads the value at the reader's token.</summary>
    private static JsonTree ReadValue(ref Utf8JsonReader reader, LineMap lines, List<JsonReadError> errors, bool validUtf8)
    {
        var location = lines.At(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var properties = new List<JsonTreeProperty>();
                var names = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var nameLocation = lines.At(reader.TokenStartIndex);
                    var name = ReadString(ref reader, lines, errors, validUtf8);
                    reader.Read();
                    var value = ReadValue(ref reader, lines, errors, validUtf8);
                    if (names.TryGetValue(name, out var first))
                    {
                        // The first is kept, so the rest of the file is still checked; the error makes the file invalid.
                        errors.Add(new JsonReadError(JsonReadErrorKind.DuplicateProperty,
                            $"property '{name}' is already given at line {first.Line}, column {first.Column}; a name may appear once in an object", nameLocation));
                        continue;
                    }

                    names.Add(name, nameLocation);
                    properties.Add(new JsonTreeProperty(name, nameLocation, value));
                }

                return new JsonTreeObject(location, properties);
            case JsonTokenType.StartArray:
                var items = new List<JsonTree>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadValue(ref reader, lines, errors, validUtf8));
                }

                return new JsonTreeArray(location, items);
            case JsonTokenType.String:
                return new JsonTreeString(location, ReadString(ref reader, lines, errors, validUtf8));
            case JsonTokenType.Number:
                var number = Encoding.UTF8.GetString(reader.ValueSpan);
                return new JsonTreeNumber(location, double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture), number);
            case JsonTokenType.True:
                return new JsonTreeBoolean(location, true);
            case JsonTokenType.False:
                return new JsonTreeBoolean(location, false);
            default:
                return new JsonTreeNull(location);
        }
    }

    /// <summary>The string or property name at the reader. One that escapes half a surrogate pair is reported at the escape, and one that is not UTF-8 was reported already; either is read with replacement characters so that reading goes on.</summary>
    private static string ReadString(ref Utf8JsonReader reader, LineMap lines, List<JsonReadError> errors, bool validUtf8)
    {
        if (reader.ValueIsEscaped && FindLoneSurrogateEscape(reader.ValueSpan) is { } at)
        {
            // ValueSpan starts after the opening quote.
            var escape = Encoding.ASCII.GetString(reader.ValueSpan.Slice(at, 6));
            errors.Add(new JsonReadError(JsonReadErrorKind.InvalidText,
                $"the escape '{escape}' is half of a UTF-16 surrogate pair with no other half; a string must be valid Unicode text",
                lines.At(reader.TokenStartIndex + 1 + at)));
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }

        if (!validUtf8 && !Utf8.IsValid(reader.ValueSpan))
        {
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }

        return reader.GetString()!;
    }

    /// <summary>The offset of the first <c>\uXXXX</c> escape of an unpaired surrogate in a string's raw (still escaped) bytes, or null.</summary>
    private static int? FindLoneSurrogateEscape(ReadOnlySpan<byte> raw)
    {
        for (var i = 0; i < raw.Length - 1; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                continue;
            }

            if (raw[i + 1] != (byte)'u' || !TryHex(raw, i + 2, out var unit))
            {
                // Any other escape is two bytes; the reader has already checked their syntax.
                i++;
                continue;
            }

            if (char.IsLowSurrogate(unit))
            {
                return i;
            }

            if (char.IsHighSurrogate(unit))
            {
                if (i + 11 < raw.Length && raw[i + 6] == (byte)'\\' && raw[i + 7] == (byte)'u' && TryHex(raw, i + 8, out var low) && char.IsLowSurrogate(low))
                {
                    i += 11;
                    continue;
                }

                return i;
            }

            i += 5;
        }

        return null;
    }

    private static bool TryHex(ReadOnlySpan<byte> raw, int start, out char unit)
    {
        unit = '\0';
        if (start + 4 > raw.Length)
        {
            return false;
        }

        var ok = int.TryParse(Encoding.ASCII.GetString(raw.Slice(start, 4)), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value);
        unit = (char)value;
        return ok;
    }

    /// <summary>Maps byte offsets to 1-based lines and character columns.</summary>
    private sealed class LineMap
    {
        private readonly byte[] _utf8;
        private readonly List<int> _lineStarts = [0];
        private readonly string _file;

        public LineMap(ReadOnlySpan<byte> utf8, string file)
        {
            _utf8 = utf8.ToArray();
            _file = file;
            for (var i = 0; i < _utf8.Length; i++)
            {
                if (_utf8[i] == (byte)'\n')
                {
                    _lineStarts.Add(i + 1);
                }
            }
        }

        public SourceLocation At(long offset)
        {
            var index = _lineStarts.BinarySearch((int)offset);
            var line = index >= 0 ? index : ~index - 1;
            return AtLineByte(line, (int)offset - _lineStarts[line]);
        }

        public SourceLocation AtLineByte(int zeroBasedLine, int byteInLine)
        {
            zeroBasedLine = Math.Clamp(zeroBasedLine, 0, _lineStarts.Count - 1);
            var start = _lineStarts[zeroBasedLine];
            var length = Math.Clamp(byteInLine, 0, _utf8.Length - start);

            // Invalid bytes count as one character each (the decoder's replacement), so a column is never thrown on.
            var column = Encoding.UTF8.GetCharCount(_utf8, start, length) + 1;
            return new SourceLocation(_file, zeroBasedLine + 1, column);
        }
    }
}
