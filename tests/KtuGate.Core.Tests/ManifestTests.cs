using KtuGate.Diagnostics;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class ManifestTests
{
    private static string DataManifest(string name) => Path.Combine(AppContext.BaseDirectory, "Data", "manifests", name);

    [Fact]
    public void Sample_manifest_describes_the_classifier()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics);

        Assert.Empty(diagnostics.Items);
        Assert.NotNull(manifest);
        Assert.Equal(ModelKind.Classifier, manifest.Kind);
        Assert.Equal("image", manifest.Input!.Name);
        Assert.Equal([-1L, 1, 28, 28], manifest.Input.Shape);
        Assert.Equal((1, 28, 28), (manifest.Input.Channels, manifest.Input.Height, manifest.Input.Width));
        Assert.Equal(ColorMode.Grayscale, manifest.Preprocess!.Color);
        Assert.Equal(10, manifest.Labels.Count);
        Assert.Equal("footwear", manifest.Coarse[manifest.CoarseOfLabel[manifest.Labels.ToList().IndexOf("sneaker")]].Name);
    }

    [Fact]
    public void Default_manifest_sits_beside_the_artifact()
        => Assert.Equal(Path.Combine("a", "model.ktu.json"), ManifestParser.DefaultPathFor(Path.Combine("a", "model.onnx")));

    public static TheoryData<string, string[]> BadManifests => new()
    {
        { "coarse-unknown-label.ktu.json", ["KTU2004@56,7"] },
        // causal-lm is probed now: an image classifier's fields in its manifest are each refused, and its own are missing.
        { "causal-lm-with-image-fields.ktu.json", ["KTU2004@4,12", "KTU2004@14,17", "KTU2004@27,13", "KTU2004@39,13", "KTU2012@1,1", "KTU2012@1,1"] },
        { "color-channel-mismatch.ktu.json", ["KTU2004@14,17"] },
        { "unknown-and-missing.ktu.json", ["KTU2011@58,3", "KTU2012@1,1"] },

        // A second 'labels' list (in another order) or coarse group used to win silently.
        { "duplicate-properties.ktu.json", ["KTU2019@8,3", "KTU2019@11,5", "KTU2019@13,3"] },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public void Bad_manifest_is_reported_with_its_location(string file, string[] expected)
    {
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Load(DataManifest(file), diagnostics));
        Assert.Equal(expected.Order(), diagnostics.Items.Select(d => $"{d.Code}@{d.Location?.Line},{d.Location?.Column}").Order());
    }

    public static TheoryData<string, string, string> MismatchedManifests => new()
    {
        // file, expected code, a fragment of the message naming what the model really has
        { "wrong-input-name.ktu.json", "KTU2005", "its inputs are: 'image' [?, 1, 28, 28]" },
        { "wrong-input-shape.ktu.json", "KTU2005", "shape [?, 1, 28, 28] in the model, but the manifest says [?, 1, 32, 32]" },
        { "wrong-output-name.ktu.json", "KTU2006", "its outputs are: 'logits' [?, 10]" },
        { "wrong-label-count.ktu.json", "KTU2006", "10 scores per exemplar, but the manifest names 9 labels" },
    };

    [Theory]
    [MemberData(nameof(MismatchedManifests))]
    public void Manifest_is_checked_against_what_onnx_runtime_reports(string file, string code, string fragment)
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(DataManifest(file), diagnostics);
        Assert.NotNull(manifest);

        using var model = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, diagnostics);

        Assert.Null(model);
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal(code, d.Code);
        Assert.Contains(fragment, d.Message, StringComparison.Ordinal);
        Assert.Equal(DataManifest(file), d.Location!.File);
        Assert.True(d.Location.Line > 1);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'{', (byte)'"', 0xC3, (byte)'"', (byte)':', (byte)'1', (byte)'}' }, 3)]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'{', (byte)' ', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}' }, 4)]
    public void Invalid_utf8_in_a_manifest_is_a_located_error(byte[] utf8, int column)
    {
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Parse(utf8, "m.ktu.json", diagnostics));
        var d = Assert.Single(diagnostics.Items, d => d.Code == "KTU2020");
        Assert.Equal(("KTU2020", 1, column), (d.Code, d.Location!.Line, d.Location.Column));
    }

    [Fact]
    public void Lone_surrogate_escape_in_a_manifest_is_a_located_error()
    {
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes("{\n  \"labels\": [\"a\", \"\\uDFFF\"] }"), "m.ktu.json", diagnostics));
        var d = Assert.Single(diagnostics.Items, d => d.Code == "KTU2020");
        Assert.Equal(("KTU2020", 2, 20), (d.Code, d.Location!.Line, d.Location.Column));
        Assert.Contains("\\uDFFF", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_copied_to_another_folder_names_the_same_text_tower_and_schema()
    {
        using var temp = new TempFolder();
        var source = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.ktu.json");
        var diagnostics = new DiagnosticBag();
        var original = ManifestParser.Load(source, diagnostics)!;
        var copyPath = Path.Combine(temp.Path, "a", "b", "fashion-clip.ktu.json");

        var bytes = ManifestParser.Relocated(File.ReadAllBytes(source), Path.GetDirectoryName(source)!, Path.GetDirectoryName(copyPath)!);
        var copy = ManifestParser.Parse(bytes, copyPath, diagnostics);

        Assert.Empty(diagnostics.Items);
        var (was, now) = (original.SectionAs<DualEncoderSection>().TextTower, copy!.SectionAs<DualEncoderSection>().TextTower);
        Assert.Equal(was.Model, now.Model);
        Assert.Equal(was.Vocabulary, now.Vocabulary);
        Assert.Equal(original.Labels, copy.Labels);
        var schema = System.Text.Json.JsonDocument.Parse(bytes).RootElement.GetProperty("$schema").GetString()!;
        Assert.True(File.Exists(Path.Combine(temp.Path, "a", "b", schema)), schema);

        // Moved nowhere, it is the same text, comments and all.
        Assert.Equal(File.ReadAllBytes(source), ManifestParser.Relocated(File.ReadAllBytes(source), Path.GetDirectoryName(source)!, Path.GetDirectoryName(source)!));
    }
}
