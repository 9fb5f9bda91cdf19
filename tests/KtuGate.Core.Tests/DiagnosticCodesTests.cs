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
}
