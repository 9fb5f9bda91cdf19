using KtuGate.Diagnostics;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>The real MiniLM text tower (extracted from its NuGet package at build time) and the real FashionClip image tower.</summary>
public sealed class DualEncoderTests
{
    private static string Clip(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "FashionClip", .. parts]);

    private static TextTower OpenMiniLm()
    {
        var spec = new TextTowerSpec(
            Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm", "model.onnx"),
            Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm", "vocab.txt"),
            "last_hidden_state", TextPooling.Mean, Normalize: true, MaxTokens: 128, new SourceLocation("test"));
        var diagnostics = new DiagnosticBag();
        var tower = TextTower.Open(spec, ExecutionProviderPreference.Cpu, diagnostics);
        Assert.True(tower is not null, string.Join("\n", diagnostics.Items));
        return tower;
    }

    [Theory]
    [InlineData("Hello world!", new[] { 101, 7592, 2088, 999, 102 })]
    [InlineData("a photo of a sneaker", new[] { 101, 1037, 6302, 1997, 1037, 13583, 2121, 102 })]
    [InlineData("ankle-boot, T-shirt/top", new[] { 101, 10792, 1011, 9573, 1010, 1056, 1011, 3797, 1013, 2327, 102 })]
    public void Bert_wordpiece_gives_the_known_token_ids(string text, int[] ids)
    {
        // [CLS]=101, [SEP]=102; "sneaker" is "sneak" + "##er" in BERT's uncased vocabulary.
        using var tower = OpenMiniLm();
        Assert.Equal(ids, tower.Tokenize(text));
    }

    [Theory]
    [InlineData("A man is eating food.", "A man is eating a piece of bread.", 0.755337)] // the pair sentence-transformers' documentation shows, at 0.7553
    [InlineData("A man is eating food.", "A man is riding a horse.", 0.247402)]
    [InlineData("a photo of a sneaker", "a photo of a running shoe", 0.691261)]
    [InlineData("a photo of a sneaker", "a photo of a handbag", 0.552728)]
    [InlineData("The cat sits outside", "The new movie is awesome", -0.024680)]
    public void Mean_pooled_normalised_embeddings_match_the_reference_similarities(string a, string b, double cosine)
    {
        using var tower = OpenMiniLm();
        var x = tower.Embed(a);
        var y = tower.Embed(b);
        Assert.Equal(384, x.Length);
        Assert.Equal(1.0, VectorMath.Dot(x, x), 4);
        Assert.Equal(cosine, VectorMath.Dot(x, y), 4);
    }

    [Fact]
    public void Each_prompt_is_embedded_once()
    {
        using var tower = OpenMiniLm();
        var first = tower.Embed("a photo of a bag");
        Assert.Same(first, tower.Embed("a photo of a bag"));
        Assert.Equal(1, tower.Embedded);
    }

    [Fact]
    public void Dual_encoder_manifest_names_its_text_tower_relative_to_itself()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Clip("artifacts", "fashion-clip.ktu.json"), diagnostics);
        Assert.Empty(diagnostics.Items);
        Assert.Equal(ModelKind.DualEncoder, manifest!.Kind);
        Assert.Equal(Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm", "model.onnx"), manifest.SectionAs<DualEncoderSection>().TextTower.Model);
        Assert.Equal(["a photo of a {}", "a product photo of a {}", "a picture of a {}"], manifest.SectionAs<DualEncoderSection>().PromptTemplates);
        Assert.Equal("ankle boot", manifest.Labels[9]);
    }

    [Fact]
    public void Text_tower_that_does_not_exist_is_a_located_error()
    {
        using var temp = new TempFolder();
        var text = File.ReadAllText(Clip("artifacts", "fashion-clip.ktu.json")).Replace("../../../artifacts/minilm/model.onnx", "missing.onnx", StringComparison.Ordinal);
        var manifest = temp.File("m.ktu.json", text);
        File.Copy(Clip("artifacts", "fashion-clip.onnx"), Path.Combine(temp.Path, "m.onnx"));
        var result = Gate.Run(new GateRequest([new GateModelInput(Path.Combine(temp.Path, "m.onnx"), manifest)], [Clip("policies", "retire-shirt.ktu.json")], null)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });
        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU2017");
        Assert.Equal(manifest, d.Location!.File);
        Assert.Contains("missing.onnx", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FashionClip_still_knows_sneakers_zero_shot_and_the_report_carries_every_metric()
    {
        using var temp = new TempFolder();
        var policy = Clip("policies", "retire-sneaker.ktu.json");
        var result = Gate.Run(new GateRequest([new GateModelInput(Clip("artifacts", "fashion-clip.onnx"))], [policy], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = Clip(),
        });

        // A violation outranks the metric thresholds left unchecked without a baseline (KTU3004, errors that never pass).
        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Code != "KTU3004");
        Assert.Equal(("KTU3001", 12, 5), (error.Code, error.Location!.Line, error.Location.Column));
        var model = Assert.Single(result.Report.Models);
        Assert.Equal("not-checked", Assert.Single(model.Metrics).Status);
        Assert.Equal(TestPaths.Sha256(Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm", "model.onnx")), model.TextTower!.Sha256);

        // Zero-shot at both levels: a sneaker is recognised as a sneaker and as footwear.
        var sneaker = model.Concepts.Single(c => c.Concept == "sneaker");
        Assert.InRange(sneaker.Fine!.Rate, 0.85, 1.0);
        Assert.InRange(sneaker.Coarse!.Rate, 0.95, 1.0);
        Assert.Equal(300, sneaker.Fine.N);

        // Every wording is probed: 5 templates (3 of the model, 2 of the policy) times 3 names.
        Assert.Equal(15, sneaker.Wordings.Count);
        Assert.Contains(sneaker.Wordings, w => w.Wording == "a photo of my running shoe");
        Assert.All(sneaker.Wordings, w => Assert.Equal(300, w.Recall.N));
        Assert.True(sneaker.Wordings.Single(w => w.Wording == "a photo of a sneaker").Recall.Rate > 0.8);

        // Prompts are embedded once per run: 10 labels + 5 groups, 3 templates each, plus the wordings of each fine concept.
        var fineConcepts = model.Concepts.Count(c => c.Label is not null);
        Assert.True(model.PromptsEmbedded <= 45 + (fineConcepts * 15) && model.PromptsEmbedded >= 45 + 15, $"{model.PromptsEmbedded}");

        var metrics = Assert.Single(model.Metrics);
        Assert.Equal(sneaker.Fine.Rate, metrics.ForgetFine!.Rate);
        Assert.Equal(sneaker.Coarse.Rate, metrics.ForgetCoarse!.Rate);
        Assert.Equal(2700, metrics.RetainFine!.N);
        Assert.Equal(900, metrics.General!.N); // 100 per class, without the sneakers the policy forgets
        Assert.InRange(metrics.General.Rate, 0.8, 1.0);
        Assert.Null(metrics.Quality); // no baseline, no quality
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3004" && d.Message.Contains("Q-U", StringComparison.Ordinal));
    }

    [Fact]
    public void Against_itself_as_baseline_quality_is_zero_and_utility_is_one()
    {
        var artifact = Clip("artifacts", "fashion-clip.onnx");
        var result = Gate.Run(new GateRequest([new GateModelInput(artifact, null, artifact)], [Clip("policies", "retire-shirt.ktu.json")], null)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = Clip(),
        });

        var metrics = Assert.Single(Assert.Single(result.Report.Models).Metrics);
        Assert.Equal(0, metrics.Quality);
        Assert.Equal(1, metrics.Utility);
        Assert.Equal(0, metrics.QualityUtility);
        Assert.False(metrics.Passed);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3005" && d.Message == "Policy 'clip-retire-shirt': Q-U is 0.000, below the required 0.99");
    }

    [Fact]
    public void Prompt_templates_in_a_policy_must_have_one_placeholder()
    {
        using var temp = new TempFolder();
        var path = temp.File("p.ktu.json", "{ \"ktuPolicy\": 1, \"id\": \"p\", \"concepts\": {}, \"prompts\": [\"a photo of {} and {}\", \"no slot\"] }");
        var diagnostics = new DiagnosticBag();
        Assert.Null(PolicyParser.Load(path, diagnostics));
        Assert.Equal(["KTU1004@1,58", "KTU1004@1,82"], diagnostics.Items.Select(d => $"{d.Code}@{d.Location!.Line},{d.Location.Column}"));
    }
}
