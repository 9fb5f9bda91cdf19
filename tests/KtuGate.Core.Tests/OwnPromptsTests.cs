using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>A dual encoder's labels and groups with prompts of their own (<c>labelPrompts</c>, <c>coarsePrompts</c>), on the real FashionClip manifest and MiniLM text tower.</summary>
public sealed class OwnPromptsTests
{
    private static readonly string s_manifestPath = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.ktu.json");

    private const string TemplatesLine = "\"prompts\": [\"a photo of a {}\", \"a product photo of a {}\", \"a picture of a {}\"],";

    /// <summary>The sample manifest with <paramref name="fields"/> after its templates, read as if it were the sample (its text tower resolves).</summary>
    private static (ModelManifest? Manifest, DiagnosticBag Diagnostics, string Text) Parse(string fields)
    {
        var original = File.ReadAllText(s_manifestPath);
        Assert.Contains(TemplatesLine, original, StringComparison.Ordinal);
        var text = original.Replace(TemplatesLine, TemplatesLine + "\n  " + fields, StringComparison.Ordinal);
        var diagnostics = new DiagnosticBag();
        return (ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes(text), s_manifestPath, diagnostics), diagnostics, text);
    }

    [Fact]
    public void Labels_and_groups_with_their_own_prompts_are_embedded_from_them_and_the_others_from_the_templates()
    {
        var (manifest, diagnostics, _) = Parse("\"labelPrompts\": { \"dress\": [\"a photo of a dress\", \"a woman wearing a dress\"], \"ankle boot\": \"a photo of an ankle boot\" },\n"
            + "  \"coarsePrompts\": { \"bags\": [\"a photo of a bag\"] },");
        Assert.Empty(diagnostics.Items);
        var section = manifest!.SectionAs<DualEncoderSection>();
        Assert.Equal(["a photo of a dress", "a woman wearing a dress"], section.PromptsOfLabel("dress"));
        Assert.Equal(["a photo of an ankle boot"], section.PromptsOfLabel("ankle boot"));
        Assert.Null(section.PromptsOfLabel("sneaker"));
        Assert.Equal(["a photo of a bag"], section.PromptsOfGroup("bags"));

        using var tower = OpenTextTower(section);
        var (fine, coarse) = DualEncoderProbe.Directions(manifest, tower);
        var labels = manifest.Labels.ToList();
        Assert.Equal(VectorMath.MeanDirection([tower.Embed("a photo of a dress"), tower.Embed("a woman wearing a dress")]), fine[labels.IndexOf("dress")]);
        Assert.Equal(VectorMath.MeanDirection([tower.Embed("a photo of an ankle boot")]), fine[labels.IndexOf("ankle boot")]);
        Assert.Equal(VectorMath.MeanDirection(section.PromptTemplates.Select(t => tower.Embed(DualEncoderProbe.Prompt(t, "sneaker")))), fine[labels.IndexOf("sneaker")]);
        var groups = manifest.Coarse.Select(g => g.Name).ToList();
        Assert.Equal(VectorMath.MeanDirection([tower.Embed("a photo of a bag")]), coarse[groups.IndexOf("bags")]);
        Assert.Equal(VectorMath.MeanDirection(section.PromptTemplates.Select(t => tower.Embed(DualEncoderProbe.Prompt(t, "footwear")))), coarse[groups.IndexOf("footwear")]);
    }

    [Fact]
    public void A_label_with_its_own_prompts_is_worded_by_them_and_the_policy_templates_not_by_the_model_templates()
    {
        var (manifest, diagnostics, _) = Parse("\"labelPrompts\": { \"sneaker\": [\"a photo of a sneaker\", \"a pair of sneakers\"] },");
        Assert.Empty(diagnostics.Items);
        var policy = PolicyParser.Load(Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "policies", "retire-sneaker.ktu.json"), diagnostics)!;
        Assert.Empty(diagnostics.Items);
        var labels = manifest!.Labels.ToList();
        using var session = ModelKinds.Of(manifest).Open(manifest, Path.Combine(Path.GetDirectoryName(s_manifestPath)!, "fashion-clip.onnx"), ExecutionProviderPreference.Cpu, ModelLimits.Default, diagnostics);
        Assert.Empty(diagnostics.Items);

        // Own prompts first, then the policy's two templates with the concept's three names ("sneaker", "trainer", "running shoe").
        var sneaker = session.Wordings(policy, policy.GetConcept("sneaker"), labels.IndexOf("sneaker"));
        Assert.Equal(["a photo of a sneaker", "a pair of sneakers", "a photo of my sneaker", "a photo of my trainer", "a photo of my running shoe",
            "a close-up photo of a sneaker", "a close-up photo of a trainer", "a close-up photo of a running shoe"], sneaker);

        // A label without its own keeps today's wordings: every template, the model's three and the policy's two, with each name.
        Assert.Equal(5, session.Wordings(policy, policy.GetConcept("sandal"), labels.IndexOf("sandal")).Count);
        Assert.Contains("a product photo of a sandal", session.Wordings(policy, policy.GetConcept("sandal"), labels.IndexOf("sandal")));
    }

    public static TheoryData<string, string, string[]> BadOwnPrompts => new()
    {
        // the fields added, then each expected diagnostic as "CODE@marker" (the marker's first occurrence after the templates, '#2' for its second)
        { "\"labelPrompts\": { \"dres\": [\"a photo of a dress\"] },", "unknown label", ["KTU2070@\"dres\""] },
        { "\"coarsePrompts\": { \"dress\": [\"a photo of a dress\"] },", "a label is not a group", ["KTU2070@\"dress\": ["] },
        { "\"labelPrompts\": { \"dress\": [\"\", \"  \"] },", "empty prompts", ["KTU2071@\"\",", "KTU2071@\"  \""] },
        { "\"labelPrompts\": { \"dress\": [] },", "no prompt", ["KTU2071@[]"] },
        { "\"labelPrompts\": { \"dress\": [\"a photo of a {}\"] },", "a template", ["KTU2071@\"a photo of a {}\"] }"] },
        { "\"labelPrompts\": { \"dress\": [\"a dress\", \"a dress\"] },", "twice", ["KTU2071@\"a dress\"#2"] },
        { "\"labelPrompts\": { \"dress\": 3 },", "not text", ["KTU2013@3 }"] },
        { "\"labelPrompts\": [\"a dress\"],", "not an object", ["KTU2013@[\"a dress\"]"] },
    };

    [Theory]
    [MemberData(nameof(BadOwnPrompts))]
    public void Bad_own_prompts_are_located_errors(string fields, string what, string[] expected)
    {
        var (manifest, diagnostics, text) = Parse(fields);
        Assert.Null(manifest);
        var after = text.IndexOf(TemplatesLine, StringComparison.Ordinal);
        string Where(string marker)
        {
            var parts = marker.Split('#');
            return TextPositions.At(text, parts[0], parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 1, after);
        }

        Assert.Equal(expected.Select(e => e[..7] + "@" + Where(e[8..])).Order(), diagnostics.Items.Select(d => $"{d.Code}@{d.Location?.Line},{d.Location?.Column}").Order());
        Assert.All(diagnostics.Items, d => Assert.Equal(s_manifestPath, d.Location!.File));
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void Own_prompts_belong_to_a_dual_encoder_manifest_only()
    {
        var text = File.ReadAllText(TestPaths.SampleManifest).Replace("\"labels\":", "\"labelPrompts\": { \"dress\": [\"a dress\"] },\n  \"labels\":", StringComparison.Ordinal);
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes(text), TestPaths.SampleManifest, diagnostics));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU2004", d.Code);
        Assert.Contains("'labelPrompts' belongs to a dual-encoder manifest", d.Message, StringComparison.Ordinal);
    }

    private static TextTower OpenTextTower(DualEncoderSection section)
    {
        var diagnostics = new DiagnosticBag();
        var tower = TextTower.Open(section.TextTower, ExecutionProviderPreference.Cpu, diagnostics);
        Assert.True(tower is not null, string.Join("\n", diagnostics.Items));
        return tower;
    }
}
