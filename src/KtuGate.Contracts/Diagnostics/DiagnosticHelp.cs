using System.Text;

namespace KtuGate.Diagnostics;

/// <summary>The help page of every diagnostic code: one section per code in <see cref="DocumentPath"/>, made from <see cref="DiagnosticCodes"/> only.</summary>
/// <remarks>
/// The page, <c>ktu explain</c>, SARIF's <c>helpUri</c> and MSBuild's help link all come from here, so they cannot say different things;
/// a test fails when the committed page differs from <see cref="Document"/>.
/// </remarks>
public static class DiagnosticHelp
{
    /// <summary>The help page's path in the KtuGate repository.</summary>
    public const string DocumentPath = "docs/diagnostics.md";

    /// <summary>Where the help page is published: the KtuGate repository's page on its host.</summary>
    public const string DocumentUri = "https://github.com/ktugate/ktugate/blob/main/" + DocumentPath;

    /// <summary>The page's anchor for a code: its heading, as Markdown hosts slug it (<c>ktu3001</c>).</summary>
    public static string Anchor(string code) => code.ToLowerInvariant();

    /// <summary>The absolute link to a code's section of the help page.</summary>
    public static Uri Link(string code) => new($"{DocumentUri}#{Anchor(code)}");

    /// <summary>One code's section of the help page; <c>ktu explain</c> prints exactly this.</summary>
    public static string Text(DiagnosticDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return new StringBuilder()
            .Append("## ").Append(descriptor.Code).Append('\n')
            .Append('\n')
            .Append("**").Append(descriptor.Title).Append("** (").Append(descriptor.Severity.ToString().ToLowerInvariant())
            .Append(", ").Append(descriptor.Category.ToString().ToLowerInvariant()).Append(")\n")
            .Append('\n')
            .Append("Message: ").Append(CodeSpan(descriptor.MessageFormat)).Append('\n')
            .Append('\n')
            .Append(descriptor.Help).Append('\n')
            .ToString();
    }

    /// <summary>The whole help page: a short introduction, then every code's section in code order.</summary>
    public static string Document()
    {
        var page = new StringBuilder()
            .Append("# KtuGate diagnostics\n")
            .Append('\n')
            .Append("Every message KtuGate prints has a stable code. This page is generated from the one place that defines them\n")
            .Append("(`src/KtuGate.Contracts/Diagnostics/DiagnosticCodes.cs`; a test fails when it differs: run the test with\n")
            .Append("`KTU_UPDATE_SNAPSHOTS=1` to rewrite it). `ktu explain CODE` prints a code's section; SARIF's `helpUri` and\n")
            .Append("MSBuild's help link point at it. In a message, `{0}`, `{1}`, ... stand for the values of the case at hand.\n");
        foreach (var descriptor in DiagnosticCodes.All.Values.OrderBy(d => d.Code, StringComparer.Ordinal))
        {
            page.Append('\n').Append(Text(descriptor));
        }

        return page.ToString();
    }

    // A code span must be fenced by more backticks than it holds in a row (CommonMark), padded where it starts or ends with one.
    private static string CodeSpan(string text)
    {
        var longest = 0;
        var run = 0;
        foreach (var c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        var fence = new string('`', longest + 1);
        return longest == 0 ? fence + text + fence : $"{fence} {text} {fence}";
    }
}
