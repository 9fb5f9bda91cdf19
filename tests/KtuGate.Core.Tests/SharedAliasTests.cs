using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>A name may serve a parent and its child worded the same; two concepts that are not parent and child may not share one (KTU1009).</summary>
public sealed class SharedAliasTests
{
    private static (Policy? Policy, DiagnosticBag Diagnostics, string Path) Load(TempFolder temp, string concepts)
    {
        var path = temp.File("p.ktu.json", "{\n  \"ktuPolicy\": 1, \"id\": \"p\",\n  \"concepts\": {\n" + concepts + "\n  }\n}\n");
        var diagnostics = new DiagnosticBag();
        return (PolicyParser.Load(path, diagnostics), diagnostics, path);
    }

    [Fact]
    public void A_parent_and_its_child_worded_the_same_parse()
    {
        using var temp = new TempFolder();
        var (policy, diagnostics, _) = Load(temp, """
                "dresses": { "aliases": ["dress"] },
                "dress": { "parent": "dresses", "aliases": ["Dress"] },
                "gown": { "parent": "dress", "aliases": ["evening dress"] }
            """);
        Assert.Empty(diagnostics.Items);
        Assert.Equal(["dresses", "dress"], policy!.GetConcept("dresses").Names);
        Assert.Equal("dresses", policy.GetConcept("dress").Parent);
    }

    public static TheoryData<string, string, string> UnrelatedConcepts => new()
    {
        // concepts, the second use of the shared name (where the error is), what relates them
        {
            """
                "footwear": {},
                "sneaker": { "parent": "footwear", "aliases": ["shoe"] },
                "sandal": { "parent": "footwear", "aliases": ["Shoe"] }
            """,
            "\"Shoe\"", "siblings"
        },
        {
            """
                "clothing": { "aliases": ["dress"] },
                "dresses": { "parent": "clothing" },
                "dress": { "parent": "dresses" }
            """,
            "\"dress\": {", "a grandparent and its grandchild"
        },
        {
            """
                "bag": { "aliases": ["tote"] },
                "tote": {}
            """,
            "\"tote\": {", "an alias and an unrelated key"
        },
    };

    [Theory]
    [MemberData(nameof(UnrelatedConcepts))]
    public void Concepts_that_are_not_parent_and_child_may_not_share_a_name(string concepts, string secondUse, string what)
    {
        using var temp = new TempFolder();
        var (policy, diagnostics, path) = Load(temp, concepts);
        Assert.Null(policy);
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal(("KTU1009", path, TextPositions.At(File.ReadAllText(path), secondUse)), (d.Code, d.Location!.File, $"{d.Location.Line},{d.Location.Column}"));
        Assert.Contains("a name must identify one concept, or a parent and its child", d.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void A_general_folder_named_by_a_name_a_parent_and_its_child_share_counts_for_the_child_s_label()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(Path.Combine(temp.Path, "general", "boot"));
        File.Copy(Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "ankle-boot"), "*.png").Order(StringComparer.Ordinal).First(),
            Path.Combine(temp.Path, "general", "boot", "a.png"));
        var path = temp.File("p.ktu.json", """
            {
              "ktuPolicy": 1, "id": "p",
              "concepts": {
                "boots": { "aliases": ["boot"] },
                "ankle-boot": { "parent": "boots", "aliases": ["boot"] }
              },
              "general": { "exemplars": ["general/*/*.png"] }
            }
            """);
        var diagnostics = new DiagnosticBag();
        var policy = PolicyParser.Load(path, diagnostics);
        Assert.True(policy is not null, string.Join("\n", diagnostics.Items));
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;

        var general = Assert.Single(ModelCheck.GeneralSet(policy, manifest, diagnostics));

        Assert.Empty(diagnostics.Items);
        Assert.Equal(manifest.Labels.ToList().IndexOf("ankle-boot"), general.Label);
    }
}
