using System.Globalization;
using System.Text;

namespace KtuGate.Reporting;

/// <summary>Makes strings that come from policies, manifests, models and file names inert in each report format and on a terminal.</summary>
/// <remarks>
/// Such text is untrusted: a title may hold markup, table breakers, terminal escape sequences, line breaks that forge
/// a second log line, or bidirectional overrides and invisible characters that make text read differently from what it
/// is. <see cref="Printable"/> is the one sanitiser: every diagnostic message passes through it when it is made (so the
/// command line, MSBuild and every report get the same safe text), and every renderer applies it to the text it writes
/// before its own escaping. Characters are shown as visible escapes rather than deleted, so a reader sees that
/// something was there. The JSON report keeps policy text as it was written (its serializer escapes control
/// characters, and ReportJson's encoder also escapes format characters such as U+202E as \u escapes), so that the record stays faithful; its diagnostic messages are the sanitised ones.
/// </remarks>
public static class TextSafety
{
    /// <summary>Replaces each character that a terminal, log or viewer would act on or not show with a visible escape such as <c>\u001B</c> or <c>\u202E</c>.</summary>
    /// <remarks>
    /// Escaped: C0 and C1 controls (ESC, BEL, NUL, CR, LF, tab and the rest), format characters (bidirectional
    /// embeddings, overrides, isolates and marks; zero-width spaces and joiners; the byte order mark; tag characters),
    /// line and paragraph separators, lone surrogates and the noncharacters U+FFFE and U+FFFF. Characters outside the
    /// Basic Multilingual Plane are written <c>\U000E0041</c>. The result holds none of these, so applying it again
    /// changes nothing.
    /// </remarks>
    public static string Printable(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        if (!NeedsEscaping(text))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var scalar = char.ConvertToUtf32(c, text[++i]);
                if (IsUnsafe(scalar))
                {
                    builder.Append(CultureInfo.InvariantCulture, $"\\U{scalar:X8}");
                }
                else
                {
                    builder.Append(c).Append(text[i]);
                }
            }
            else if (char.IsSurrogate(c) || IsUnsafe(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool NeedsEscaping(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (IsUnsafe(char.ConvertToUtf32(c, text[++i])))
                {
                    return true;
                }
            }
            else if (char.IsSurrogate(c) || IsUnsafe(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsUnsafe(int scalar)
        => scalar is 0xFFFE or 0xFFFF
            || CharUnicodeInfo.GetUnicodeCategory(scalar) is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>Text for HTML element content or a quoted attribute.</summary>
    public static string Html(string? text) => System.Net.WebUtility.HtmlEncode(Printable(text));

    /// <summary>Text for a Markdown table cell or list item: one line, with the characters that could start markup, links, code or a new cell escaped.</summary>
    public static string Markdown(string? text)
    {
        var builder = new StringBuilder();
        foreach (var c in Printable(text).Replace('\t', ' '))
        {
            switch (c)
            {
                case '<':
                    builder.Append("&lt;");
                    break;
                case '>':
                    builder.Append("&gt;");
                    break;
                case '&':
                    builder.Append("&amp;");
                    break;
                case '\\' or '`' or '*' or '_' or '[' or ']' or '|' or '~':
                    builder.Append('\\').Append(c);
                    break;
                default:
                    builder.Append(c);
                    break;
            }
        }

        return builder.ToString();
    }
}
