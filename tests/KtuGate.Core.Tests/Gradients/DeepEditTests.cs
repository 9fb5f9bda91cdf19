using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using Xunit;

namespace KtuGate.Tests.Gradients;

/// <summary>Scopes resolve to the model's initializers, and AdamW over a whole-network gradient model unlearns a concept on real exemplars.</summary>
public sealed class DeepEditTests
{
    private static readonly string[] s_classifierWeights = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"];

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public DeepEditTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    [Theory]
    [InlineData(new[] { "last" }, new[] { "fc2.weight", "fc2.bias" })]
    [InlineData(new[] { "conv2" }, new[] { "conv2.weight", "conv2.bias" })]
    [InlineData(new[] { "fc1.bias", "last" }, new[] { "fc1.bias", "fc2.weight", "fc2.bias" })]
    public void Scope_names_resolve_to_initializers_in_model_order(string[] scope, string[] expected)
    {
        var (model, site) = Classifier();

        var resolved = EditScope.Resolve(model, scope, site, new DiagnosticBag(), null);

        Assert.Equal(expected, resolved);
    }

    [Fact]
    public void Scope_all_is_every_weight_and_a_node_name_its_weights()
    {
        var (model, site) = Classifier();
        var gemm = model.Graph.Node.First(n => n.OpType == "Gemm");

        Assert.Equal(s_classifierWeights, EditScope.Resolve(model, ["all"], site, new DiagnosticBag(), null));
        Assert.Equal(gemm.Input.Skip(1), EditScope.Resolve(model, [gemm.Name], site, new DiagnosticBag(), null));
    }

    [Fact]
    public void Scope_all_leaves_batch_normalisation_statistics_out_and_the_node_s_name_still_names_them()
    {
        var random = new Random(3);
        var graph = new GraphProto { Name = "conv-bn" };
        graph.Node.Add(GradientCheck.Node("Conv", ["x", "w", "b"], ["c"], GradientCheck.Attr("kernel_shape", 1, 1)));
        graph.Node.Add(GradientCheck.Node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["y"]));
        foreach (var (name, dims) in new (string, long[])[] { ("w", [2, 2, 1, 1]), ("b", [2]), ("scale", [2]), ("shift", [2]), ("mean", [2]), ("var", [2]) })
        {
            graph.Initializer.Add(GradientCheck.Random(GradientCheck.Float32, name, dims, random));
        }

        var model = new ModelProto { Graph = graph };
        var site = new EditSite(graph.Node[0].Name, "x", "w", "b", 2, 2, true);

        Assert.Equal(["w", "b", "scale", "shift"], EditScope.Resolve(model, [EditScope.All], site, new DiagnosticBag(), null));
        Assert.Equal(["scale", "shift", "mean", "var"], EditScope.Resolve(model, [graph.Node[1].Name], site, new DiagnosticBag(), null));
    }

    [Fact]
    public void Scope_entry_naming_nothing_is_KTU4012()
    {
        var (model, site) = Classifier();
        var diagnostics = new DiagnosticBag();

        Assert.Null(EditScope.Resolve(model, ["last", "decoder.layers"], site, diagnostics, new SourceLocation("policy.ktu.json", 3, 5)));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU4012", d.Code);
        Assert.Contains("'decoder.layers'", d.Message, StringComparison.Ordinal);
        Assert.Equal(3, d.Location?.Line);
    }

    [Fact]
    public void AdamW_over_every_weight_forgets_sneakers_on_held_out_exemplars_and_keeps_the_rest()
    {
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, new DiagnosticBag())!;
        var sneaker = manifest.Labels.ToList().IndexOf("sneaker");
        var allowed = new[] { "sandal", "ankle-boot" }.Select(l => manifest.Labels.ToList().IndexOf(l)).ToArray();
        var retainLabels = new[] { "sandal", "ankle-boot", "t-shirt", "bag", "trouser" };
        var forget = Images(manifest, "sneaker", 0, 40);
        var retain = retainLabels.SelectMany(l => Images(manifest, l, 0, 24).Select(x => (Image: x, Label: manifest.Labels.ToList().IndexOf(l)))).ToList();
        var heldOutForget = Images(manifest, "sneaker", 100, 60);
        var heldOutRetain = retainLabels.SelectMany(l => Images(manifest, l, 100, 30).Select(x => (Image: x, Label: manifest.Labels.ToList().IndexOf(l)))).ToList();

        var classes = manifest.Labels.Count;
        var built = EveryWeight(manifest, margin: 3);

        using var original = new InferenceSession(TestPaths.SampleModel);
        double Accuracy(InferenceSession session, IReadOnlyList<(float[] Image, int Label)> set, IReadOnlyDictionary<string, float[]>? weights = null)
            => Predict(session, set.Select(s => s.Image).ToList(), weights).Zip(set, (p, s) => p == s.Label ? 1.0 : 0).Average();

        var forgetSet = forget.Select(x => (x, sneaker)).ToList();
        var heldForget = heldOutForget.Select(x => (x, sneaker)).ToList();
        var before = (Forget: Accuracy(original, heldForget), Retain: Accuracy(original, heldOutRetain));

        var batch = forget.Concat(retain.Select(r => r.Image)).ToList();
        var feeds = DeepEditFeeds.For(batch, forget.Count, classes, sneaker, allowed, Reference(original, batch), klWeight: 1);

        using var trainer = new GradientTrainer(built);
        var first = trainer.Loss(feeds);
        for (var step = 0; step < 40; step++)
        {
            trainer.Step(feeds, 1e-3, 1e-3);
        }

        var last = trainer.Loss(feeds);
        var after = (Forget: Accuracy(original, heldForget, trainer.Weights), Retain: Accuracy(original, heldOutRetain, trainer.Weights));
        var trainedForget = Accuracy(original, forgetSet, trainer.Weights);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "ktu-deep-edit-classifier.txt"),
            $"loss {first:R} -> {last:R}; held-out sneaker accuracy {before.Forget:R} -> {after.Forget:R}; held-out retain accuracy {before.Retain:R} -> {after.Retain:R}; trained sneaker accuracy {trainedForget:R}; changed {trainer.ChangedParameters}");

        Assert.True(last < first, $"loss {first} -> {last}");
        Assert.True(after.Forget <= 0.1, $"held-out sneaker accuracy {before.Forget} -> {after.Forget}");
        Assert.True(after.Retain >= before.Retain - 0.05, $"held-out retain accuracy {before.Retain} -> {after.Retain}");
        Assert.True(trainer.ChangedParameters > trainer.Weights["conv1.weight"].Length, "the convolutions moved too");
    }

    [Fact]
    public void A_batch_fed_in_parts_takes_the_step_of_the_whole_batch()
    {
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, new DiagnosticBag())!;
        var labels = manifest.Labels.ToList();
        var built = EveryWeight(manifest, margin: 2);
        var forget = Images(manifest, "sneaker", 0, 20);
        var batch = forget.Concat(new[] { "sandal", "t-shirt", "bag" }.SelectMany(l => Images(manifest, l, 0, 10))).ToList();
        using var original = new InferenceSession(TestPaths.SampleModel);
        var feeds = DeepEditFeeds.For(batch, forget.Count, labels.Count, labels.IndexOf("sneaker"), [labels.IndexOf("sandal"), labels.IndexOf("ankle-boot")], Reference(original, batch), klWeight: 4);

        // Three uneven parts, one of them across the forget/retain boundary.
        using var whole = new GradientTrainer(built);
        using var inParts = new GradientTrainer(built);
        var loss = whole.Step(feeds, 1e-3, 1e-3);
        var partsLoss = inParts.Step([DeepEditFeeds.Rows(feeds, 0, 13), DeepEditFeeds.Rows(feeds, 13, 11), DeepEditFeeds.Rows(feeds, 24, 26)], 1e-3, 1e-3);

        Assert.Equal(loss, partsLoss, 1e-9 * Math.Abs(loss));

        // AdamW's first step moves each weight by about the learning rate times its gradient's sign; a gradient of rounding size may take
        // either sign in float32 summed in another order, so the weights are compared by the loss they give and by how many agree.
        Assert.Equal(whole.Loss(feeds), inParts.Loss(feeds), 1e-6 * Math.Abs(loss));
        var weights = whole.Weights.SelectMany(w => w.Value.Zip(inParts.Weights[w.Key])).ToList();
        var agree = weights.Count(p => Math.Abs(p.First - p.Second) <= 1e-6);
        Assert.True(agree >= 0.999 * weights.Count, $"{weights.Count - agree} of {weights.Count} weights differ after the step");
        Assert.True(whole.ChangedParameters > weights.Count / 2, $"only {whole.ChangedParameters} of {weights.Count} weights moved: the comparison would say little");
    }

    [Fact]
    public void A_setting_stops_before_its_next_step_once_cancelled()
    {
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, new DiagnosticBag())!;
        var labels = manifest.Labels.ToList();
        var built = EveryWeight(manifest, margin: 2);
        var batch = Images(manifest, "sneaker", 0, 4).Concat(Images(manifest, "sandal", 0, 4)).ToList();
        using var original = new InferenceSession(TestPaths.SampleModel);
        var feeds = DeepEditFeeds.For(batch, 4, labels.Count, labels.IndexOf("sneaker"), [labels.IndexOf("sandal")], Reference(original, batch), klWeight: 1);

        // Cancelled while step 3 is fed (as Ctrl+C or SIGTERM would, from another thread): step 3 completes, step 4 never starts, and no
        // checkpoint is asked. A step through a large network takes seconds and a setting up to 60 of them.
        using var stop = new CancellationTokenSource();
        var fed = 0;
        var asked = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => DeepEdit.Train(built, (step, kl) =>
        {
            if (++fed == 3)
            {
                stop.Cancel();
            }

            return [feeds];
        }, new GradientSettings("nhl-kl", 1e-3, 1, DeepEdit.MaxSteps), "all", _ => ++asked > 0, stop.Token));
        Assert.Equal((3, 0), (fed, asked));
    }

    [Theory]
    [InlineData(144, 3 * 224 * 224, new[] { 32, 32, 32, 32, 16 })]
    [InlineData(192, 28 * 28, new[] { 192 })]
    [InlineData(3, 64L * 3 * 224 * 224, new[] { 1, 1, 1 })]
    public void A_deep_edit_feeds_a_batch_in_parts_of_at_most_32_images_of_224x224(int rows, long elementsPerRow, int[] expected)
    {
        var parts = GradientTrainer.Parts(rows, elementsPerRow);

        Assert.Equal(expected, parts.Select(p => p.Count));
        Assert.Equal(Enumerable.Range(0, rows), parts.SelectMany(p => Enumerable.Range(p.Start, p.Count)));
    }

    private static (global::Onnx.ModelProto Model, EditSite Site) Classifier()
    {
        var model = OnnxGraph.Load(TestPaths.SampleModel, new DiagnosticBag())!;
        return (model, OnnxGraph.FindSite(model, "logits")!);
    }

    /// <summary>The sample classifier's gradient model over every weight: NHL (the margin given) and KL on its class scores, the manifest's coarse groups.</summary>
    private static GradientModel EveryWeight(ModelManifest manifest, double margin)
    {
        var (model, site) = Classifier();
        var classes = manifest.Labels.Count;
        var identity = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, classes).Select(k => k == c ? 1.0 : 0.0).ToArray()).ToList();
        var trained = EditScope.Resolve(model, [EditScope.All], site, new DiagnosticBag(), null)!;
        var diagnostics = new DiagnosticBag();
        var built = GradientBuilder.Build(model, trained, MethodLoss.Build("logits", ForgetTerm.NegativeHinge, identity, [.. manifest.CoarseOfLabel], false, 1, margin), diagnostics);
        Assert.True(built is not null, string.Join("; ", diagnostics.Items));
        return built;
    }

    /// <summary>The original classifier's class distribution on each image: the KL terms' reference.</summary>
    private static List<double[]> Reference(InferenceSession original, IReadOnlyList<float[]> images)
        => [.. Logits(original, images, null).Select(l => DeepEditFeeds.Softmax([.. l.Select(x => (double)x)]))];

    private static List<float[]> Images(ModelManifest manifest, string label, int skip, int count)
        => [.. Directory.GetFiles(TestPaths.Sample("policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).Skip(skip).Take(count).Select(file =>
        {
            var pixels = new float[28 * 28];
            Assert.Null(ImageDecoder.TryDecode(file, manifest.Input!, manifest.Preprocess!, pixels));
            return pixels;
        })];

    private static List<float[]> Logits(InferenceSession session, IReadOnlyList<float[]> images, IReadOnlyDictionary<string, float[]>? weights)
    {
        var names = new List<string> { "image" };
        var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(images.SelectMany(x => x).ToArray(), [images.Count, 1, 28, 28]) };
        var model = OnnxGraph.Load(TestPaths.SampleModel, new DiagnosticBag())!;
        var runner = session;
        using var options = new SessionOptions();
        InferenceSession? edited = null;
        if (weights is not null)
        {
            // The trained weights given to a session in place of the model's initializers: no model is re-serialised.
            foreach (var (name, w) in weights)
            {
                var dims = model.Graph.Initializer.Single(t => t.Name == name).Dims.ToArray();
                var value = OrtValue.CreateTensorValueFromMemory(w, dims);
                values.Add(value);
                options.AddInitializer(name, value);
            }

            edited = new InferenceSession(TestPaths.SampleModel, options);
            runner = edited;
        }

        try
        {
            using var runOptions = new RunOptions();
            using var outputs = runner.Run(runOptions, names, values.Take(1).ToList(), ["logits"]);
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            var classes = logits.Length / images.Count;
            return [.. Enumerable.Range(0, images.Count).Select(k => logits.AsSpan(k * classes, classes).ToArray())];
        }
        finally
        {
            edited?.Dispose();
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static IEnumerable<int> Predict(InferenceSession session, IReadOnlyList<float[]> images, IReadOnlyDictionary<string, float[]>? weights)
        => Logits(session, images, weights).Select(l => Array.IndexOf(l, l.Max()));
}
