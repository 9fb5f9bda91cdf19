using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>The JSON Schemas editors use must agree with what the parsers accept.</summary>
public sealed class SchemaTests
{
    private static readonly JsonDocumentOptions s_jsonc = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private static JsonSchema Schema(string name) => JsonSchema.FromText(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", name)));

    private static EvaluationResults Evaluate(JsonSchema schema, string file)
        => schema.Evaluate(JsonNode.Parse(File.ReadAllText(file), documentOptions: s_jsonc), new EvaluationOptions { OutputFormat = OutputFormat.List });

    public static TheoryData<string> RepositoryPolicies()
    {
        var data = new TheoryData<string>();
        foreach (var folder in new[] { "policies", "samples" })
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, folder), "*.ktu.json", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}artifacts{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                    && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetRelativePath(TestPaths.RepoRoot, file));
            }
        }

        return data;
    }

    [Fact]
    public void The_repository_has_example_policies()
        => Assert.True(RepositoryPolicies().Count >= 3);

    [Theory]
    [MemberData(nameof(RepositoryPolicies))]
    public void Every_policy_in_the_repository_validates_against_the_schema(string relativePath)
    {
        var results = Evaluate(Schema("ktu-policy.schema.json"), Path.Combine(TestPaths.RepoRoot, relativePath));
        Assert.True(results.IsValid, string.Join("\n", results.Details.Where(d => d.HasErrors).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    [Theory]
    [InlineData("unknown-property.ktu.json")]
    [InlineData("threshold-out-of-range.ktu.json")]
    [InlineData("wrong-types.ktu.json")]
    [InlineData("unsupported-version.ktu.json")]
    [InlineData("retain-without-threshold.ktu.json")]
    public void Schema_rejects_what_the_parser_rejects(string file)
        => Assert.False(Evaluate(Schema("ktu-policy.schema.json"), Path.Combine(AppContext.BaseDirectory, "Data", "policies", file)).IsValid);

    [Fact]
    public void Sample_manifest_validates_against_the_manifest_schema()
    {
        Assert.True(Evaluate(Schema("ktu-manifest.schema.json"), TestPaths.SampleManifest).IsValid);
        Assert.False(Evaluate(Schema("ktu-manifest.schema.json"), Path.Combine(AppContext.BaseDirectory, "Data", "manifests", "unknown-and-missing.ktu.json")).IsValid);
    }
}
