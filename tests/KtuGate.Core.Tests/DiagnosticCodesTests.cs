using System.Text.RegularExpressions;
using KtuGate.Diagnostics;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class DiagnosticCodesTests
{
    [Fact]
    public void Codes_are_unique_well_formed_and_in_their_range()
    {
        var fields = typeof(DiagnosticCodes).GetFields().Where(f => f.FieldType == typeof(DiagnosticDescriptor)).ToList();
        Assert.Equal(fields.Count, DiagnosticCodes.All.Count);
        foreach (var d in DiagnosticCodes.All.Values)
        {
            Assert.Matches(@"^KTU[1-69]\d{3}$", d.Code);
            Assert.False(string.IsNullOrWhiteSpace(d.Title));
            Assert.False(string.IsNullOrWhiteSpace(d.Help));
        }
    }

    [Fact]
    public void Readme_has_a_row_for_every_code()
    {
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var rows = Regex.Matches(readme, @"^\| (KTU\d{4}) \| (\w+) \|", RegexOptions.Multiline).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        foreach (var d in DiagnosticCodes.All.Values)
        {
            Assert.True(rows.TryGetValue(d.Code, out var severity), $"README.md has no row for {d.Code}");
            Assert.Equal(d.Severity.ToString().ToLowerInvariant(), severity);
        }

        Assert.Equal(DiagnosticCodes.All.Count, rows.Count);
    }

    [Fact]
    public void Help_page_has_a_section_for_every_code_and_none_without_one()
    {
        var path = Path.Combine(TestPaths.RepoRoot, DiagnosticHelp.DocumentPath);
        var committed = File.Exists(path) ? File.ReadAllText(path) : string.Empty;
        var expected = DiagnosticHelp.Document();
        if (Environment.GetEnvironmentVariable("KTU_UPDATE_SNAPSHOTS") == "1" && committed != expected)
        {
            // Rewriting is for review: the run that rewrites the page still fails.
            File.WriteAllText(path, expected);
            Assert.Fail($"{DiagnosticHelp.DocumentPath} rewritten; review the diff and run the tests again.");
        }

        var sections = Regex.Matches(committed, @"^## (KTU\d{4})$", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(DiagnosticCodes.All.Keys.Order(StringComparer.Ordinal), sections);
        Assert.Equal(expected, committed);
    }

    [Fact]
    public void Help_links_point_at_the_code_s_section_of_the_page()
    {
        foreach (var code in DiagnosticCodes.All.Keys)
        {
            var link = DiagnosticHelp.Link(code);
            Assert.True(link.IsAbsoluteUri);
            Assert.EndsWith(DiagnosticHelp.DocumentPath, link.GetLeftPart(UriPartial.Path), StringComparison.Ordinal);
            Assert.Equal("#" + code.ToLowerInvariant(), link.Fragment);
        }
    }
}
