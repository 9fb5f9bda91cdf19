using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>The CI snippets in docs/ci/, run locally as their CI would run them, on a project in a subfolder of a git repository.</summary>
public sealed partial class CiSnippetTests
{
    private const string Items = """
            <KtuModel Include="artifacts/fashion-classifier.onnx" Manifest="artifacts/fashion-classifier.ktu.json" />
            <KtuPolicy Include="policies/*.ktu.json" />
        """;

    [Fact]
    public void Snippets_gate_a_subfolder_project_publish_every_file_and_their_sarif_annotates_the_policy_line()
    {
        using var repo = new TempFolder();
        var (init, initOutput) = ExternalTools.Run("git", "init", "-q", repo.Path);
        Assert.True(init == 0, initOutput);
        DotnetBuild.WriteProject(repo, Items, "model-release");
        repo.CopySamplePolicy("model-release", 40);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var summary = repo.File("runner/step-summary.md", string.Empty);
        var environment = new Dictionary<string, string>
        {
            // What the snippets leave to the user and what the runners set.
            ["KTU_PROJECT"] = "model-release/Release.csproj",
            ["KTU_SIGNING_KEY"] = key.ExportPkcs8PrivateKeyPem(),
            ["GITHUB_WORKSPACE"] = repo.Path,
            ["GITHUB_STEP_SUMMARY"] = summary,
            ["BUILD_SOURCESDIRECTORY"] = repo.Path,
        };

        // GitHub Actions: the build fails on the sample (it still knows sneakers); every later step runs anyway (if: !cancelled()).
        var github = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "ci", "github-actions.yml"));
        var githubSteps = Steps(github, "run");
        Assert.Equal(2, githubSteps.Count);
        var build = Bash(repo.Path, githubSteps[0], environment);
        Assert.True(build.ExitCode == 1, build.Output);
        Assert.Contains("error KTU3001", build.Output, StringComparison.Ordinal);
        var summaryStep = Bash(repo.Path, githubSteps[1], environment);
        Assert.True(summaryStep.ExitCode == 0, summaryStep.Output);

        var reports = Path.Combine(repo.Path, "ktu-reports");
        Assert.Equal(File.ReadAllText(Path.Combine(reports, "ktu-report.md")), File.ReadAllText(summary));
        foreach (var file in ReportFiles().Matches(github).Select(m => m.Value).Distinct())
        {
            Assert.True(File.Exists(Path.Combine(repo.Path, file)), $"{file}, which the workflow uploads, was not written");
        }

        AssertSarifAnnotatesThePolicyLine(repo.Path, Path.Combine(reports, "ktu-report.sarif"));
        var junit = XDocument.Load(Path.Combine(reports, "ktu-report.junit.xml"));
        Assert.Equal("1", (string?)junit.Root!.Attribute("failures"));

        // Azure Pipelines: the same build, then the summary is handed over with a logging command naming the Markdown report.
        var azure = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "ci", "azure-pipelines.yml"));
        var azureSteps = Steps(azure, "bash");
        Assert.Equal(2, azureSteps.Count);
        var azureBuild = Bash(repo.Path, azureSteps[0], environment);
        Assert.True(azureBuild.ExitCode == 1, azureBuild.Output);
        var upload = Bash(repo.Path, azureSteps[1], environment);
        Assert.True(upload.ExitCode == 0, upload.Output);
        var summaryFile = Regex.Match(upload.Output, @"##vso\[task\.uploadsummary\](.+)").Groups[1].Value.Trim();
        Assert.Equal(Path.Combine(reports, "ktu-report.md"), summaryFile);
        Assert.Contains("ktu-reports/ktu-report.junit.xml", azure, StringComparison.Ordinal);
        Assert.Contains("targetPath: ktu-reports", azure, StringComparison.Ordinal);
        AssertSarifAnnotatesThePolicyLine(repo.Path, Path.Combine(reports, "ktu-report.sarif"));
    }

    [Fact]
    public void Readme_shows_the_workflow_as_it_is_in_docs_ci()
    {
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var start = readme.IndexOf("```yaml\n      - name: Build with the gate", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no GitHub Actions excerpt");
        var excerpt = readme[(start + "```yaml\n".Length)..readme.IndexOf("```\n", start + 7, StringComparison.Ordinal)];
        Assert.Contains(excerpt, File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "ci", "github-actions.yml")), StringComparison.Ordinal);
    }

    /// <summary>The SARIF passes the Multitool with GitHub's rules, and its KTU3001 location, resolved as a viewer resolves it, is the violated clause.</summary>
    private static void AssertSarifAnnotatesThePolicyLine(string repository, string sarif)
    {
        var validation = Path.Combine(repository, "runner", $"validation-{Guid.NewGuid():N}.sarif");
        var (exit, text) = ExternalTools.Run(ExternalTools.SarifMultitool, "validate", "--rule-kind", "Sarif;Gh", "-o", validation, sarif);
        Assert.True(exit == 0, text);
        var findings = JsonNode.Parse(File.ReadAllText(validation))!["runs"]![0]!["results"]?.AsArray() ?? [];
        Assert.True(findings.Count == 0, "Multitool findings:\n" + string.Join("\n", findings.Select(f => f!.ToJsonString())));

        var run = JsonNode.Parse(File.ReadAllText(sarif))!["runs"]![0]!;
        var root = new Uri((string)run["originalUriBaseIds"]!["REPOROOT"]!["uri"]!);
        Assert.Equal(new Uri(repository + "/").AbsoluteUri, root.AbsoluteUri);
        var result = Assert.Single(run["results"]!.AsArray(), r => (string?)r!["ruleId"] == "KTU3001")!;
        var location = result["locations"]![0]!["physicalLocation"]!;
        Assert.Equal("model-release/policies/retire-sneaker.ktu.json", (string?)location["artifactLocation"]!["uri"]);
        var file = new Uri(root, (string)location["artifactLocation"]!["uri"]!).LocalPath;
        var line = File.ReadAllLines(file)[(int)location["region"]!["startLine"]! - 1];
        Assert.Contains("\"concept\": \"sneaker\", \"level\": \"fine\", \"maxAccuracy\"", line, StringComparison.Ordinal);
    }

    /// <summary>Runs one step's script as the runners do: bash without profiles, stopping at the first failing command.</summary>
    private static DotnetBuild.Result Bash(string workingDirectory, string script, IReadOnlyDictionary<string, string> environment)
        => DotnetBuild.ExecFile("bash", workingDirectory, ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], environment: environment);

    /// <summary>The scripts of a pipeline's <c>run:</c> or <c>bash:</c> steps, in order: a one-line value or a <c>|</c> block.</summary>
    private static List<string> Steps(string yaml, string key)
    {
        var lines = yaml.Split('\n');
        var steps = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var match = Regex.Match(lines[i], $@"^(?<indent>\s*)(?:- )?{key}: (?<value>.*)$");
            if (!match.Success)
            {
                continue;
            }

            var value = match.Groups["value"].Value.TrimEnd();
            if (value != "|")
            {
                steps.Add(value);
                continue;
            }

            // A block scalar: its lines are indented deeper than the key, by as much as its first line.
            var key0 = match.Groups["indent"].Length;
            var depth = lines.Skip(i + 1).Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart().Length).First();
            Assert.True(depth > key0, $"'{key}: |' at line {i + 1} has no indented block");
            var block = new List<string>();
            for (i++; i < lines.Length && (lines[i].Trim().Length == 0 || lines[i].Length - lines[i].TrimStart().Length >= depth); i++)
            {
                block.Add(lines[i].Trim().Length == 0 ? string.Empty : lines[i][depth..]);
            }

            i--;
            steps.Add(string.Join('\n', block).Trim() + "\n");
        }

        return steps;
    }

    [GeneratedRegex(@"ktu-reports/[A-Za-z0-9_.\-]+\.[a-z]+")]
    private static partial Regex ReportFiles();
}
