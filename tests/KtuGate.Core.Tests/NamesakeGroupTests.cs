using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>A coarse group may share a label's name where the label is in it; a group named after a label it does not hold stays an error.</summary>
public sealed class NamesakeGroupTests
{
    /// <summary>The classifier sample's manifest with other coarse groups, written into <paramref name="folder"/> beside a copy of its model.</summary>
    private static string Manifest(string folder, string coarse)
    {
        var text = File.ReadAllText(TestPaths.SampleManifest);
        var start = text.IndexOf("\"coarse\": {", StringComparison.Ordinal);
        var end = text.IndexOf('}', start) + 1;
        File.Copy(TestPaths.SampleModel, Path.Combine(folder, "fashion-classifier.onnx"));
        var path = Path.Combine(folder, "fashion-classifier.ktu.json");
        File.WriteAllText(path, text[..start] + coarse + text[end..]);
        return path;
    }

    [Fact]
    public void A_group_named_after_a_label_it_holds_is_that_label_at_fine_level_and_the_group_at_coarse_level()
    {
        using var temp = new TempFolder();
        var manifestPath = Manifest(temp.Path, """
            "coarse": { "tops": ["t-shirt", "pullover", "coat", "shirt"], "trouser": ["trouser"], "dress": ["dress"],
                          "sneaker": ["sandal", "sneaker", "ankle-boot"], "bag": ["bag"] }
            """);
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(manifestPath, diagnostics);
        Assert.True(manifest is not null, string.Join("\n", diagnostics.Items));
        Assert.Equal("sneaker", manifest.Coarse[manifest.CoarseOfLabel[manifest.Labels.ToList().IndexOf("sandal")]].Name);

        // The gate binds "sneaker" to the label at fine level and to the group of that name (all footwear) at coarse level: sandals
        // are seldom taken for sneakers, but they are in the group "sneaker".
        temp.CopyExemplars("sandal", Path.Combine("policies", "exemplars", "sandal"), 40);
        var policy = temp.File(Path.Combine("policies", "p.ktu.json"), """
            {
              "ktuPolicy": 1, "id": "namesake",
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ],
              "retain": [ { "concept": "sneaker", "level": "coarse", "minAccuracy": 0.5 } ],
              "concepts": { "sneaker": { "exemplars": ["exemplars/sandal/*.png"] } }
            }
            """);
        var result = Gate.Run(new GateRequest([new GateModelInput(Path.Combine(temp.Path, "fashion-classifier.onnx"))], [policy], null)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });

        Assert.DoesNotContain(result.Diagnostics, d => d.Code.StartsWith("KTU2", StringComparison.Ordinal));
        var sneaker = Assert.Single(Assert.Single(result.Report.Models).Concepts);
        Assert.Equal(("sneaker", "sneaker"), (sneaker.Label, sneaker.CoarseGroup));
        Assert.Equal(40, sneaker.Coarse!.N);
        Assert.InRange(sneaker.Fine!.Rate, 0, 0.2);
        Assert.InRange(sneaker.Coarse.Rate, 0.9, 1);
        Assert.Contains(Assert.Single(result.Report.Models).Clauses, c => c is { Kind: "retain", Level: "coarse", Passed: true });
    }

    [Fact]
    public void A_group_named_after_a_label_it_does_not_hold_stays_an_error_at_the_group()
    {
        using var temp = new TempFolder();
        var coarse = """
            "coarse": { "tops": ["t-shirt", "pullover", "coat", "shirt"], "dress": ["trouser"], "footwear": ["sandal", "sneaker", "ankle-boot", "dress"],
                        "bag": [] }
            """;
        var manifestPath = Manifest(temp.Path, coarse);
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Load(manifestPath, diagnostics));

        // "dress" holds the trouser while the label dress is footwear; "bag" holds nothing: each name would mean two things.
        var text = File.ReadAllText(manifestPath);
        Assert.Equal(["KTU2004@" + TextPositions.At(text, "\"dress\": ["), "KTU2004@" + TextPositions.At(text, "\"bag\": [")], diagnostics.Items.Select(d => $"{d.Code}@{d.Location!.Line},{d.Location.Column}"));
        Assert.All(diagnostics.Items, d => Assert.Contains("has the same name as a label it does not hold", d.Message, StringComparison.Ordinal));
    }
}
