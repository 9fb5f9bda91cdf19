using System.Globalization;
using System.Text.RegularExpressions;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>The package sizes the README quotes are the ones <c>bench/package-sizes.sh</c> recorded in <c>bench/results/packages.md</c>, never stale copies.</summary>
public sealed partial class PackageSizesReadmeTests
{
    /// <summary>A size as the README writes it: a number on its own (not in a name such as linux-x64), not preceded by "&lt; " (a goal, or "&lt; 0.01").</summary>
    [GeneratedRegex(@"(?<![\w.\-])(?<!< )\d+(?:\.\d+)?(?![\w.])")]
    private static partial Regex Size();

    private static string Read(params string[] parts) => File.ReadAllText(Path.Combine([TestPaths.RepoRoot, .. parts]));

    /// <summary>The sizes recorded, in MB: the second cell of each row of the results' two tables.</summary>
    private static List<decimal> Recorded()
        => Read("bench", "results", "packages.md").Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('|').Split('|')[1].Trim())
            .Where(c => decimal.TryParse(c, NumberStyles.Number, CultureInfo.InvariantCulture, out _))
            .Select(c => decimal.Parse(c, CultureInfo.InvariantCulture)).ToList();

    /// <summary>The rows of the README's package table (below its header, up to the first line that is not a row).</summary>
    private static List<string> ReadmeRows()
    {
        var lines = Read("README.md").Split('\n');
        var header = Array.FindIndex(lines, l => l.StartsWith("| Package | .nupkg |", StringComparison.Ordinal));
        Assert.True(header >= 0, "README.md has no package size table");
        return lines.Skip(header + 2).TakeWhile(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
    }

    private static int Decimals(string number) => number.Contains('.', StringComparison.Ordinal) ? number.Length - number.IndexOf('.', StringComparison.Ordinal) - 1 : 0;

    [Fact]
    public void Every_size_the_readme_quotes_is_a_recorded_one_and_every_recorded_one_is_quoted()
    {
        var recorded = Recorded();
        var rows = ReadmeRows();
        Assert.True(recorded.Count >= 8 && rows.Count >= 4, $"{recorded.Count} recorded sizes, {rows.Count} README rows");
        var quoted = rows.SelectMany(r => Size().Matches(r).Select(m => m.Value)).ToList();

        // Each number the table quotes (goals and "< 0.01" aside) is a recorded size rounded as written.
        Assert.All(quoted, q => Assert.True(recorded.Any(v => Math.Round(v, Decimals(q), MidpointRounding.AwayFromZero) == decimal.Parse(q, CultureInfo.InvariantCulture)),
            $"README.md quotes {q} MB, which bench/results/packages.md does not record"));

        // Each recorded size is quoted: rounded to a number the table writes, or, below 0.01 MB, as "< 0.01 MB".
        Assert.All(recorded, v => Assert.True(v < 0.01m
                ? rows.Any(r => r.Contains("< 0.01 MB", StringComparison.Ordinal))
                : quoted.Any(q => Math.Round(v, Decimals(q), MidpointRounding.AwayFromZero) == decimal.Parse(q, CultureInfo.InvariantCulture)),
            $"bench/results/packages.md records {v} MB, which README.md does not quote"));
    }
}
