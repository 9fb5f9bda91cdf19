using System.Text;

namespace KtuGate.Reporting;

/// <summary>Makes strings that come from policies and models inert in each report format and in build logs.</summary>
/// <remarks>Policy text is untrusted: a title may hold markup, table breakers or control characters.</remarks>
public static class TextSafety
{
    /// <summary>Replaces control characters (other than tab) and lone surrogates with a space, so no format sees them.</summary>
    public static string Printable(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c) || (char.IsControl(c) && c != '\t') || c is '\uFFFE' or '\uFFFF')
            {
                builder.Append(' ');
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

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
