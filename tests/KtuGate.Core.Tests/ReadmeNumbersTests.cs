using System.Text;
using System.Text.RegularExpressions;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>The remediation numbers the READMEs quote are the recorded ones in <c>bench/results/remediation.md</c>, never copied by hand.</summary>
public sealed partial class ReadmeNumbersTests
{
    private const string Results = "bench/results/remediation.md";

    private static readonly string[] s_readmes = ["README.md", "samples/FashionGate/README.md", "samples/FashionClip/README.md", "samples/TextFacts/README.md"];

    /// <summary>A generated table: its sample and methods on the opening line, the rows below it, up to the closing line.</summary>
    [GeneratedRegex(@"(?<open><!-- remediation table: (?<sample>[\w-]+); methods (?<methods>[\w, -]+); generated from bench/results/remediation\.md by ReadmeNumbersTests -->\n)(?<table>.*?)(?=<!-- end of remediation table -->)", RegexOptions.Singleline)]
    private static partial Regex Block();

    /// <summary>A decimal number as the results write them (99.48, 1.00, 2.9).</summary>
    [GeneratedRegex(@"(?<![\d.])\d+\.\d+(?![\d.])")]
    private static partial Regex Decimal();

    private static string Path(string relative) => System.IO.Path.Combine([TestPaths.RepoRoot, .. relative.Split('/')]);

    /// <summary>The rows of the results table, as cells.</summary>
    private static List<string[]> Rows()
        => File.ReadAllLines(Path(Results)).Where(l => l.StartsWith("| ", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .Where(cells => cells[0] is not ("Sample" or "---")).ToList();

    [Fact]
    public void Remediation_tables_in_the_readmes_are_generated_from_the_recorded_results()
    {
        var rows = Rows();
        var blocks = 0;
        foreach (var readme in s_readmes)
        {
            var text = File.ReadAllText(Path(readme));
            var expected = Block().Replace(text, m =>
            {
                blocks++;
                return m.Groups["open"].Value + Table(rows, m.Groups["sample"].Value, m.Groups["methods"].Value.Split(',', StringSplitOptions.TrimEntries));
            });

            // KTU_UPDATE_SNAPSHOTS=1 rewrites the tables from the results (review the diff); that run still fails.
            if (Environment.GetEnvironmentVariable("KTU_UPDATE_SNAPSHOTS") == "1" && expected != text)
            {
                File.WriteAllText(Path(readme), expected);
                Assert.Fail($"{readme}: remediation tables rewritten from {Results}; review the diff and run the tests again.");
            }

            Assert.Equal(expected, text);
        }

        Assert.True(blocks >= 2, "the sample READMEs' remediation tables are generated");
    }

    [Fact]
    public void Every_number_a_paragraph_quotes_from_the_remediation_results_is_in_them()
    {
        var recorded = Rows().SelectMany(r => r).SelectMany(c => Decimal().Matches(c).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        var wrong = new List<string>();
        foreach (var readme in s_readmes)
        {
            // A paragraph that names the results file quotes them: each of its decimals must be one of theirs, as written there.
            foreach (var paragraph in Block().Replace(File.ReadAllText(Path(readme)), string.Empty).Split("\n\n").Where(p => p.Contains(Results, StringComparison.Ordinal)))
            {
                // Code spans are paths and commands (net10.0), not quoted results.
                wrong.AddRange(Decimal().Matches(Regex.Replace(paragraph, "`[^`]*`", string.Empty)).Select(m => m.Value).Where(n => !recorded.Contains(n)).Select(n => $"{readme}: {n}"));
            }
        }

        Assert.True(wrong.Count == 0, $"numbers quoted as from {Results} that it does not hold:\n" + string.Join("\n", wrong));
    }

    /// <summary>The sample's rows for each policy: the original, then each method asked for, in that order.</summary>
    private static string Table(List<string[]> rows, string sample, string[] methods)
    {
        var s = new StringBuilder("| Policy | Method | Forget fine | Forget coarse | Retain fine | Retain coarse | General | Quality | Utility | Q-U |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        var mine = rows.Where(r => r[0] == sample).ToList();
        Assert.NotEmpty(mine);
        foreach (var policy in mine.Select(r => r[1]).Distinct())
        {
            foreach (var method in methods.Prepend("original"))
            {
                var row = Assert.Single(mine, r => r[1] == policy && r[2].Split(' ')[0] == method);
                s.Append("| ").AppendJoin(" | ", row[1..11]).Append(" |\n");
            }
        }

        return s.ToString();
    }
}
