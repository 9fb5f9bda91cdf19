using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using KtuGate.Tests;
using KtuGate.Unlearning;

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

    /// <summary>A dual encoder's own prompts: what the parser takes, the schema takes; an empty prompt, a template's "{}", an empty list or a repeat it refuses, as the parser does.</summary>
    [Theory]
    [InlineData("{ \"dress\": [\"a photo of a dress\", \"a dress\"], \"bag\": \"a photo of a bag\" }", true)]
    [InlineData("{ \"dress\": [\"\"] }", false)]
    [InlineData("{ \"dress\": [\"a photo of a {}\"] }", false)]
    [InlineData("{ \"dress\": [] }", false)]
    [InlineData("{ \"dress\": [\"a dress\", \"a dress\"] }", false)]
    [InlineData("[\"a dress\"]", false)]
    public void Own_prompts_in_the_manifest_schema_agree_with_the_parser(string labelPrompts, bool valid)
    {
        var sample = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.ktu.json");
        var text = File.ReadAllText(sample).Replace("\"labels\":", $"\"labelPrompts\": {labelPrompts},\n  \"labels\":", StringComparison.Ordinal);
        var diagnostics = new KtuGate.Diagnostics.DiagnosticBag();
        Assert.Equal(valid, KtuGate.Models.ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes(text), sample, diagnostics) is not null);
        var results = Schema("ktu-manifest.schema.json").Evaluate(JsonNode.Parse(text, documentOptions: s_jsonc), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.Equal(valid, results.IsValid);
    }

    /// <summary>The schemas name the unlearning methods of the one registry, in its order: adding a method there and not here fails.</summary>
    [Theory]
    [InlineData("ktu-policy.schema.json")]
    [InlineData("ktu-report.schema.json")]
    public void Schema_method_enum_is_the_registry(string schema)
    {
        var enums = MethodEnums(JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", schema)))!).ToList();
        Assert.NotEmpty(enums);
        Assert.All(enums, e => Assert.Equal(UnlearningMethods.Names, e));
    }

    [Fact]
    public void Registry_lists_each_method_once_with_a_description_and_closed_form_first()
    {
        Assert.Equal(["closed-form", "nhl-kl", "ga", "ga-kl", "npo-kl"], UnlearningMethods.Names);
        Assert.Equal(UnlearningMethods.Names.Count, UnlearningMethods.Names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(UnlearningMethods.All, m => Assert.False(string.IsNullOrWhiteSpace(m.Description)));
        Assert.Equal("closed-form", UnlearningMethods.Default.Name);
        Assert.Same(UnlearningMethods.All[1], UnlearningMethods.Find("nhl-kl"));
        Assert.Null(UnlearningMethods.Find("NHL-KL"));
        Assert.Equal(UnlearningMethods.Names, KtuGate.Policies.PolicyParser.RemedyMethods);
    }

    [Fact]
    public void Registry_pairs_every_contracts_name_with_one_implementation_and_fails_loudly_otherwise()
    {
        // The names and descriptions come from the contracts' list, which the policy parser reads inside MSBuild.
        Assert.Equal(UnlearningMethodNames.All, UnlearningMethods.Names);
        Assert.Equal(UnlearningMethodNames.Methods.Select(m => m.Description), UnlearningMethods.All.Select(m => m.Description));

        var missing = Assert.Throws<InvalidOperationException>(() => UnlearningMethods.Pair([.. UnlearningMethods.All.Where(m => m.Name != "ga")]));
        Assert.Contains("'ga'", missing.Message, StringComparison.Ordinal);
        var twice = Assert.Throws<InvalidOperationException>(() => UnlearningMethods.Pair([.. UnlearningMethods.All, UnlearningMethods.All[0]]));
        Assert.Contains("'closed-form'", twice.Message, StringComparison.Ordinal);
        Assert.Equal(UnlearningMethods.All, UnlearningMethods.Pair([.. UnlearningMethods.All.Reverse()]));
    }

    /// <summary>Every enum of the schema that lists an unlearning method (one that names "closed-form").</summary>
    private static IEnumerable<List<string>> MethodEnums(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    if (key == "enum" && value is JsonArray values && values.Any(v => v is JsonValue text && text.TryGetValue<string>(out var name) && name == "closed-form"))
                    {
                        yield return values.Select(v => v!.GetValue<string>()).ToList();
                    }
                    else if (value is not null)
                    {
                        foreach (var found in MethodEnums(value))
                        {
                            yield return found;
                        }
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a.OfType<JsonNode>())
                {
                    foreach (var found in MethodEnums(item))
                    {
                        yield return found;
                    }
                }

                break;
        }
    }
}
