using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;
using Xunit;

namespace KtuGate.Tests.Gradients;

/// <summary>
/// FashionClip's retire-sneaker request unlearned over the whole image tower (scope <c>all</c>, nhl-kl) by <see cref="GradientTrainer"/>, measured
/// with the seed paper's metrics (<see cref="PaperMetrics"/>) on every exemplar of the policy's concepts and on its general set.
/// </summary>
/// <remarks>
/// A harness, not the gate: zero-shot scores against the manifest's prompt ensembles (as the dual-encoder probe computes them), without the
/// perturbed exemplars, aliases and confidence bounds the gate also judges. The numbers go to ktu-deep-edit-clip.txt in the temp folder.
/// </remarks>
public sealed class ClipDeepEditTests
{
    private static readonly string s_root = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip");

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public ClipDeepEditTests() => _ = KtuGate.Probing.SessionFactory.OnnxRuntimeVersion;

    [Fact]
    public void Scope_all_nhl_kl_forgets_sneakers_and_keeps_footwear_and_the_other_classes()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Path.Combine(s_root, "artifacts", "fashion-clip.ktu.json"), diagnostics)!;
        var modelPath = Path.Combine(s_root, "artifacts", "fashion-clip.onnx");
        var model = OnnxGraph.Load(modelPath, diagnostics)!;
        using var tower = TextTower.Open(manifest.SectionAs<DualEncoderSection>().TextTower, ExecutionProviderPreference.Cpu, diagnostics)!;
        Assert.True(tower is not null, string.Join("; ", diagnostics.Items));
        var (fine, coarse) = DualEncoderProbe.Directions(manifest, tower!);
        var labels = manifest.Labels.ToList();
        var sneaker = labels.IndexOf("sneaker");
        var allowed = new[] { labels.IndexOf("sandal"), labels.IndexOf("ankle boot") };
        var groupOfClass = Enumerable.Range(0, labels.Count).Select(c => manifest.CoarseOfLabel[c]).ToList();
        var exemplars = labels.ToDictionary(l => l, l => Images(manifest, Path.Combine(s_root, "policies", "exemplars", l.Replace(' ', '-'))));
        // As the gate's general set: the forgotten label's folder is left out.
        var general = labels.Where(l => l != "sneaker").SelectMany(l => Images(manifest, Path.Combine(s_root, "policies", "general", l.Replace(' ', '-'))).Select(x => (Image: x, Label: labels.IndexOf(l)))).ToList();

        // The edit sees every third sneaker exemplar and 30 of each retained class (a small batch keeps the test cheap); all are judged.
        var forget = exemplars["sneaker"].Where((_, i) => i % 3 == 0).ToList();
        var retain = labels.Where(l => l != "sneaker").SelectMany(l => exemplars[l].Where((_, i) => i % 10 == 0)).ToList();
        var batch = forget.Concat(retain).ToList();
        var n = batch.Count;
        var classes = labels.Count;
        var directions = fine.Select(d => d.Select(x => (double)x).ToArray()).ToList();
        var site = OnnxGraph.FindSite(model, "embedding")!;
        var trained = EditScope.Resolve(model, [EditScope.All], site, diagnostics, null)!;
        var built = GradientBuilder.Build(model, trained, MethodLoss.Build("embedding", ForgetTerm.NegativeHinge, directions, groupOfClass, false, 20, 1), diagnostics);
        Assert.True(built is not null, string.Join("; ", diagnostics.Items));

        using var original = new InferenceSession(modelPath);
        var reference = Embeddings(original, modelPath, batch, null).Select(e => DeepEditFeeds.Softmax(Scores(e, fine))).ToList();
        var feeds = DeepEditFeeds.For(batch, forget.Count, classes, sneaker, allowed, reference, klWeight: 4);

        PaperMetrics Measure(IReadOnlyDictionary<string, float[]>? weights, PaperMetrics? baseline)
        {
            (int Fine, int Coarse, int N) Count(IEnumerable<(float[] Image, int Label)> set)
            {
                var list = set.ToList();
                var embeddings = Embeddings(original, modelPath, list.Select(s => s.Image).ToList(), weights);
                var fineHits = embeddings.Zip(list, (e, s) => ArgMax(Scores(e, fine)) == s.Label ? 1 : 0).Sum();
                var coarseHits = embeddings.Zip(list, (e, s) => ArgMax(Scores(e, coarse)) == groupOfClass[s.Label] ? 1 : 0).Sum();
                return (fineHits, coarseHits, list.Count);
            }

            var f = Count(exemplars["sneaker"].Select(x => (x, sneaker)));
            var r = Count(labels.Where(l => l != "sneaker").SelectMany(l => exemplars[l].Select(x => (x, labels.IndexOf(l)))));
            var g = Count(general);
            return new PaperMetrics(new(f.Fine, f.N), new(f.Coarse, f.N), new(r.Fine, r.N), new(r.Coarse, r.N), new(g.Fine, g.N), baseline);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var before = Measure(null, null);
        using var trainer = new GradientTrainer(built!);
        var steps = 0;
        PaperMetrics after;
        do
        {
            for (var k = 0; k < 10; k++)
            {
                trainer.Step(feeds, 1e-3, 1e-3);
            }

            steps += 10;
            after = Measure(trainer.Weights, before);
        }
        while (steps < 60 && after.QualityUtility < 0.99);

        var text = string.Create(CultureInfo.InvariantCulture,
            $"steps {steps}; Q {after.Quality:R}; U {after.Utility:R}; Q-U {after.QualityUtility:R}; forget fine {before.ForgetFine!.Rate:R} -> {after.ForgetFine!.Rate:R}; forget coarse {before.ForgetCoarse!.Rate:R} -> {after.ForgetCoarse!.Rate:R}; retain fine {before.RetainFine!.Rate:R} -> {after.RetainFine!.Rate:R}; retain coarse {before.RetainCoarse!.Rate:R} -> {after.RetainCoarse!.Rate:R}; general {before.General!.Rate:R} -> {after.General!.Rate:R}; changed {trainer.ChangedParameters}; batch {n}; {clock.Elapsed.TotalSeconds:F1} s");
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "ktu-deep-edit-clip.txt"), text);

        Assert.True(after.QualityUtility >= 0.99, text);
        Assert.True(after.General!.Rate >= before.General!.Rate - 0.01, text);
    }

    private static List<float[]> Images(ModelManifest manifest, string folder)
        => [.. Directory.GetFiles(folder, "*.png").Order(StringComparer.Ordinal).Select(file =>
        {
            var pixels = new float[28 * 28];
            Assert.Null(ImageDecoder.TryDecode(file, manifest.Input!, manifest.Preprocess!, pixels));
            return pixels;
        })];

    private static List<float[]> Embeddings(InferenceSession original, string modelPath, IReadOnlyList<float[]> images, IReadOnlyDictionary<string, float[]>? weights)
    {
        using var options = new SessionOptions();
        var overrides = new List<OrtValue>();
        var model = weights is null ? null : OnnxGraph.Load(modelPath, new DiagnosticBag())!;
        foreach (var (name, w) in weights ?? new Dictionary<string, float[]>())
        {
            var value = OrtValue.CreateTensorValueFromMemory(w, model!.Graph.Initializer.Single(t => t.Name == name).Dims.ToArray());
            overrides.Add(value);
            options.AddInitializer(name, value);
        }

        using var edited = weights is null ? null : new InferenceSession(modelPath, options);
        var session = edited ?? original;
        var result = new List<float[]>();
        try
        {
            for (var start = 0; start < images.Count; start += 256)
            {
                var count = Math.Min(256, images.Count - start);
                using var input = OrtValue.CreateTensorValueFromMemory(images.Skip(start).Take(count).SelectMany(x => x).ToArray(), [count, 1, 28, 28]);
                using var runOptions = new RunOptions();
                using var outputs = session.Run(runOptions, ["image"], [input], ["embedding"]);
                var data = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                var dim = data.Length / count;
                result.AddRange(Enumerable.Range(0, count).Select(k => data.AsSpan(k * dim, dim).ToArray()));
            }
        }
        finally
        {
            foreach (var value in overrides)
            {
                value.Dispose();
            }
        }

        return result;
    }

    private static double[] Scores(float[] embedding, IReadOnlyList<float[]> directions) => [.. directions.Select(d => 20.0 * VectorMath.Dot(embedding, d))];

    private static int ArgMax(double[] values) => Array.IndexOf(values, values.Max());
}
