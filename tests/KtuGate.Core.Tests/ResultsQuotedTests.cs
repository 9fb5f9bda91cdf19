using System.Globalization;
using System.Text.RegularExpressions;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>
/// A measured number a README quotes from a recorded benchmark is the recorded one: in every README paragraph that cites
/// <c>bench/results/NAME.md</c>, each decimal number and each number with a unit (x, %, s, MB, GB, GiB) appears in the files it cites,
/// as written there or rounded to the digits the README gives. Inline code, links' targets, and a target the README states
/// ("target: 5%") are not measurements and are left out; the generated remediation tables have their own test.
/// </summary>
public sealed partial class ResultsQuotedTests
{
    /// <summary>A number as a README quotes it: thousands separated by commas or a decimal, optionally in scientific notation, then an optional unit.</summary>
    [GeneratedRegex(@"(?<![\w.\-/#])(?<number>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?!\.\d|,\d)(?<unit>x\b|\s?%|\s?MB\b|\s?GB\b|\s?GiB\b|\s?s\b)?")]
    private static partial Regex Quoted();

    /// <summary>A number in a results file.</summary>
    [GeneratedRegex(@"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")]
    private static partial Regex Recorded();

    [GeneratedRegex(@"bench/results/(?<name>[\w-]+\.md)")]
    private static partial Regex Cited();

    /// <summary>What is not a measurement: inline code, a link's target, and a stated target.</summary>
    [GeneratedRegex(@"`[^`]*`|\]\([^)]*\)|target: [^,;.)]*")]
    private static partial Regex NotMeasured();

    private static string Path(string relative) => System.IO.Path.Combine([TestPaths.RepoRoot, .. relative.Split('/')]);

    public static TheoryData<string> Readmes() =>
        new(["README.md", .. Directory.GetFiles(Path("samples"), "README.md", SearchOption.AllDirectories)
            .Select(f => System.IO.Path.GetRelativePath(TestPaths.RepoRoot, f).Replace('\\', '/')).Order(StringComparer.Ordinal)]);

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_number_a_readme_quotes_from_a_recorded_result_is_recorded_there(string readme)
    {
        var missing = new List<string>();
        foreach (var paragraph in File.ReadAllText(Path(readme)).ReplaceLineEndings("\n").Split("\n\n"))
        {
            var cited = Cited().Matches(paragraph).Select(m => m.Groups["name"].Value).Distinct().ToList();
            if (cited.Count == 0 || paragraph.Contains("generated from bench/results/", StringComparison.Ordinal))
            {
                continue;
            }

            missing.AddRange(cited.Where(name => !File.Exists(Path($"bench/results/{name}"))).Select(name => $"{readme}: cites bench/results/{name}, which does not exist"));
            var recorded = string.Concat(cited.Select(name => Path($"bench/results/{name}")).Where(File.Exists).Select(File.ReadAllText)).Replace(",", string.Empty, StringComparison.Ordinal);
            var numbers = Recorded().Matches(recorded).Select(m => m.Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (Match quote in Quoted().Matches(NotMeasured().Replace(paragraph, " ")))
            {
                var text = quote.Groups["number"].Value.Replace(",", string.Empty, StringComparison.Ordinal);
                var plain = !text.Contains('.', StringComparison.Ordinal) && !text.Contains('e', StringComparison.OrdinalIgnoreCase);
                if ((plain && !quote.Groups["unit"].Success && !quote.Groups["number"].Value.Contains(',', StringComparison.Ordinal)) || IsRecorded(text, numbers))
                {
                    continue;
                }

                missing.Add($"{readme}: '{quote.Value.Trim()}' is not in {string.Join(", ", cited)}");
            }
        }

        Assert.Empty(missing);
    }

    /// <summary>Whether a recorded number is <paramref name="quoted"/> as written, or rounded to as many decimals as it has.</summary>
    private static bool IsRecorded(string quoted, HashSet<string> recorded)
    {
        if (recorded.Contains(quoted) || quoted.Contains('e', StringComparison.OrdinalIgnoreCase))
        {
            return recorded.Contains(quoted);
        }

        var decimals = quoted.Contains('.', StringComparison.Ordinal) ? quoted.Length - quoted.IndexOf('.', StringComparison.Ordinal) - 1 : 0;
        var value = decimal.Parse(quoted, CultureInfo.InvariantCulture);
        return recorded.Any(r => decimal.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            && Math.Round(v, decimals, MidpointRounding.AwayFromZero) == value);
    }
}
