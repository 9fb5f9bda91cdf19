using System.Globalization;
using System.Text;
using System.Text.Json;
using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>Reads JSON (comments and trailing commas allowed) into a <see cref="JsonTree"/> whose every value knows its line and column.</summary>
public static class JsonTreeReader
{
    private static readonly JsonReaderOptions s_options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    /// <summary>Parses UTF-8 JSON. On a syntax error returns null and sets <paramref name="error"/> to a message and its location.</summary>
    /// <param name="utf8">The file's bytes.</param>
    /// <param name="file">The path to put in locations.</param>
    /// <param name="error">The syntax error, or null.</param>
    public static JsonTree? Parse(ReadOnlySpan<byte> utf8, string file, out (string Message, SourceLocation Location)? error)
    {
        if (utf8.StartsWith(Encoding.UTF8.Preamble))
        {
            utf8 = utf8[3..];
        }

        var lines = new LineMap(utf8, file);
        var reader = new Utf8JsonReader(utf8, s_options);
        try
        {
            if (!reader.Read())
            {
                error = ("the file is empty", new SourceLocation(file, 1, 1));
                return null;
            }

            var root = ReadValue(ref reader, utf8, lines);
            if (reader.Read())
            {
                error = ("unexpected content after the top-level value", lines.At(reader.TokenStartIndex));
                return null;
            }

            error = null;
            return root;
        }
        catch (JsonException e)
        {
            // Utf8JsonReader reports 0-based line and byte-in-line positions; turn them into a 1-based character column.
            var line = (int)(e.LineNumber ?? 0);
            var bytePos = (int)(e.BytePositionInLine ?? 0);
            error = (TrimReaderMessage(e.Message), lines.AtLineByte(line, bytePos));
            return null;
        }
    }

    private static string TrimReaderMessage(string message)
    {
        // The reader appends its own "LineNumber: 3 | BytePositionInLine: 4." which the location already says.
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    private static JsonTree ReadValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8, LineMap lines)
    {
        var location = lines.At(reader.TokenStartIndex);
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                var properties = new List<JsonTreeProperty>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    var nameLocation = lines.At(reader.TokenStartIndex);
                    var name = reader.GetString()!;
                    reader.Read();
                    properties.Add(new JsonTreeProperty(name, nameLocation, ReadValue(ref reader, utf8, lines)));
                }

                return new JsonTreeObject(location, properties);
            case JsonTokenType.StartArray:
                var items = new List<JsonTree>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(ReadValue(ref reader, utf8, lines));
                }

                return new JsonTreeArray(location, items);
            case JsonTokenType.String:
                return new JsonTreeString(location, reader.GetString()!);
            case JsonTokenType.Number:
                var text = Encoding.UTF8.GetString(reader.ValueSpan);
                return new JsonTreeNumber(location, double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture), text);
            case JsonTokenType.True:
                return new JsonTreeBoolean(location, true);
            case JsonTokenType.False:
                return new JsonTreeBoolean(location, false);
            default:
                return new JsonTreeNull(location);
        }
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
            var column = Encoding.UTF8.GetCharCount(_utf8, start, length) + 1;
            return new SourceLocation(_file, zeroBasedLine + 1, column);
        }
    }
}
