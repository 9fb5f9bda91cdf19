using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>General-set folders may be named after the model's labels or after the policy's concepts that bind to one.</summary>
public sealed class GeneralSetTests
{
    [Fact]
    public void A_general_folder_named_after_a_concept_counts_for_the_label_it_binds_to_and_an_unknown_name_is_KTU2018()
    {
        using var temp = new TempFolder();
        var png = Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "trouser"), "*.png").Order(StringComparer.Ordinal).First();
        foreach (var folder in new[] { "trouser", "trousers-line", "boots", "skirts" })
        {
            Directory.CreateDirectory(Path.Combine(temp.Path, "general", folder));
            File.Copy(png, Path.Combine(temp.Path, "general", folder, "a.png"));
        }

        var path = temp.File("p.ktu.json", """
            {
              "ktuPolicy": 1, "id": "p",
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ],
              "concepts": {
                "sneaker": { "exemplars": ["general/trouser/*.png"] },
                "trousers-line": { "aliases": ["trouser"] },
                "boots": { "aliases": ["ankle boot"] }
              },
              "general": { "exemplars": ["general/*/*.png"] }
            }
            """);
        var diagnostics = new DiagnosticBag();
        var policy = PolicyParser.Load(path, diagnostics);
        Assert.True(policy is not null, string.Join("\n", diagnostics.Items));
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;

        var general = ModelCheck.GeneralSet(policy!, manifest, diagnostics);

        var labels = manifest.Labels.ToList();
        Assert.Equal(
            [(labels.IndexOf("trouser"), "trouser"), (labels.IndexOf("trouser"), "trousers-line"), (labels.IndexOf("ankle-boot"), "boots")],
            general.SelectMany(g => g.Files.Select(f => (g.Label, Path.GetFileName(Path.GetDirectoryName(f))!))).Order().ToList());
        var unknown = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU2018", unknown.Code);
        Assert.Contains("'skirts'", unknown.Message, StringComparison.Ordinal);
    }
}
