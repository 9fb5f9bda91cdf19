using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;

namespace KtuGate.Reporting;

/// <summary>
/// The JSON escaping of KtuGate's report files: <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/> (readable text, no HTML escaping, which
/// JSON does not need) that also escapes every character a viewer would act on or not show, as <c>\uXXXX</c>.
/// </summary>
/// <remarks>
/// The relaxed encoder writes format characters (bidirectional overrides such as U+202E, zero-width spaces, the soft hyphen) raw, so a report
/// opened in an editor or a web view could show text in another order than it is; and it replaces a lone surrogate with U+FFFD, which changes
/// the value. This encoder escapes controls (Cc), format characters (Cf), line and paragraph separators (Zl, Zp), U+FFFE/U+FFFF and lone
/// surrogates, each as <c>\uXXXX</c>: the JSON value stays exactly what it was, and no raw reordering character reaches a viewer. Text that
/// holds none of them is written as the relaxed encoder writes it, so reports without such text are unchanged byte for byte.
/// </remarks>
public sealed class InertJsonEncoder : JavaScriptEncoder
{
    private static readonly JavaScriptEncoder s_relaxed = UnsafeRelaxedJsonEscaping;

    private InertJsonEncoder()
    {
    }

    /// <summary>The one instance.</summary>
    public static InertJsonEncoder Instance { get; } = new();

    /// <inheritdoc/>
    public override int MaxOutputCharactersPerInputCharacter => Math.Max(6, s_relaxed.MaxOutputCharactersPerInputCharacter);

    /// <inheritdoc/>
    public override bool WillEncode(int unicodeScalar) => IsHidden(unicodeScalar) || s_relaxed.WillEncode(unicodeScalar);

    /// <inheritdoc/>
    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength) => FirstToEncode(new ReadOnlySpan<char>(text, textLength));

    /// <inheritdoc/>
    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text)
    {
        var index = 0;
        while (index < utf8Text.Length)
        {
            if (Rune.DecodeFromUtf8(utf8Text[index..], out var rune, out var length) != OperationStatus.Done || WillEncode(rune.Value))
            {
                return index;
            }

            index += length;
        }

        return -1;
    }

    /// <inheritdoc/>
    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        // The relaxed encoder's own escapes (\n, \", \u0007) are kept, so that text it already escaped is written as before.
        if (s_relaxed.WillEncode(unicodeScalar) || !IsHidden(unicodeScalar))
        {
            return s_relaxed.TryEncodeUnicodeScalar(unicodeScalar, buffer, bufferLength, out numberOfCharactersWritten);
        }

        var destination = new Span<char>(buffer, bufferLength);
        return TryEscapeScalar(unicodeScalar, destination, out numberOfCharactersWritten);
    }

    /// <inheritdoc/>
    /// <remarks>Overridden so that a lone surrogate is written as its own escape instead of the replacement character.</remarks>
    public override OperationStatus Encode(ReadOnlySpan<char> source, Span<char> destination, out int charsConsumed, out int charsWritten, bool isFinalBlock = true)
    {
        charsConsumed = 0;
        charsWritten = 0;
        while (charsConsumed < source.Length)
        {
            var rest = source[charsConsumed..];
            var c = rest[0];
            int scalar;
            int length;
            if (char.IsHighSurrogate(c) && rest.Length == 1 && !isFinalBlock)
            {
                return OperationStatus.NeedMoreData;
            }

            if (char.IsHighSurrogate(c) && rest.Length > 1 && char.IsLowSurrogate(rest[1]))
            {
                scalar = char.ConvertToUtf32(c, rest[1]);
                length = 2;
            }
            else
            {
                // A lone surrogate is escaped as itself; every other char is one scalar.
                scalar = c;
                length = 1;
            }

            var target = destination[charsWritten..];
            int written;
            if (length == 1 && char.IsSurrogate(c))
            {
                if (!TryEscapeScalar(scalar, target, out written))
                {
                    return OperationStatus.DestinationTooSmall;
                }
            }
            else if (s_relaxed.WillEncode(scalar))
            {
                if (s_relaxed.Encode(rest[..length], target, out _, out written) != OperationStatus.Done)
                {
                    return OperationStatus.DestinationTooSmall;
                }
            }
            else if (IsHidden(scalar))
            {
                if (!TryEscapeScalar(scalar, target, out written))
                {
                    return OperationStatus.DestinationTooSmall;
                }
            }
            else if (rest[..length].TryCopyTo(target))
            {
                written = length;
            }
            else
            {
                return OperationStatus.DestinationTooSmall;
            }

            charsConsumed += length;
            charsWritten += written;
        }

        return OperationStatus.Done;
    }

    private static int FirstToEncode(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (s_relaxed.WillEncode(char.ConvertToUtf32(c, text[i + 1])) || IsHidden(char.ConvertToUtf32(c, text[i + 1])))
                {
                    return i;
                }

                i++;
            }
            else if (char.IsSurrogate(c) || IsHidden(c) || s_relaxed.WillEncode(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Whether a scalar (or a lone surrogate's value) is one a viewer would act on or not show.</summary>
    private static bool IsHidden(int scalar)
        => scalar is 0xFFFE or 0xFFFF or (>= 0xD800 and <= 0xDFFF)
            || CharUnicodeInfo.GetUnicodeCategory(scalar) is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>Writes <c>\uXXXX</c> (two of them, a surrogate pair, above the Basic Multilingual Plane).</summary>
    private static bool TryEscapeScalar(int scalar, Span<char> destination, out int written)
    {
        Span<char> units = stackalloc char[2];
        var count = scalar > 0xFFFF ? new Rune(scalar).EncodeToUtf16(units) : 1;
        if (scalar <= 0xFFFF)
        {
            units[0] = (char)scalar;
        }

        written = 6 * count;
        if (destination.Length < written)
        {
            written = 0;
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            destination[6 * i] = '\\';
            destination[6 * i + 1] = 'u';
            ((int)units[i]).TryFormat(destination.Slice(6 * i + 2, 4), out _, "X4", CultureInfo.InvariantCulture);
        }

        return true;
    }
}
