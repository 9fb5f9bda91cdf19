using System.Diagnostics;
using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

/// <summary>
/// One NHL+KL training step of a deep edit, timed: FashionGate's classifier with every weight trained (scope "all"), the gradient model
/// built by <see cref="GradientBuilder"/> from <see cref="MethodLoss"/>, AdamW by <see cref="GradientTrainer"/>, on the batch
/// bench/reference/nhl_kl_step.py uses (the first 64 sneaker and the first 32 sandal, ankle boot, t-shirt and bag exemplars).
/// Prints one JSON line like the reference's, for bench/deep-step.sh.
/// </summary>
internal static class DeepStep
{
    public static void Print(string root, int steps)
    {
        var sample = Path.Combine(root, "samples", "FashionGate");
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Path.Combine(sample, "artifacts", "fashion-classifier.ktu.json"), diagnostics)!;
        var artifact = Path.Combine(sample, "artifacts", "fashion-classifier.onnx");
        var model = OnnxGraph.Load(artifact, diagnostics)!;
        var labels = manifest.Labels.ToList();
        var classes = labels.Count;
        var identity = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, classes).Select(k => k == c ? 1.0 : 0.0).ToArray()).ToList();
        var trained = EditScope.Resolve(model, [EditScope.All], OnnxGraph.FindSite(model, "logits")!, diagnostics, null)!;
        var built = GradientBuilder.Build(model, trained, MethodLoss.Build("logits", ForgetTerm.NegativeHinge, identity, [.. manifest.CoarseOfLabel], false, 1, 2), diagnostics)
            ?? throw new InvalidOperationException(string.Join("; ", diagnostics.Items));

        float[] Images(string label, int count) => [.. Directory.GetFiles(Path.Combine(sample, "policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).Take(count)
            .SelectMany(file =>
            {
                var pixels = new float[28 * 28];
                return ImageDecoder.TryDecode(file, manifest.Input!, manifest.Preprocess!, pixels) is null ? pixels : throw new InvalidOperationException(file);
            })];
        var images = Images("sneaker", 64).Concat(new[] { "sandal", "ankle-boot", "t-shirt", "bag" }.SelectMany(l => Images(l, 32))).ToArray();
        var n = images.Length / (28 * 28);
        const int forget = 64;
        var retain = n - forget;

        // The original's distribution on the batch: the KL terms' reference.
        _ = SessionFactory.OnnxRuntimeVersion;
        using var original = new InferenceSession(artifact);
        using var input = OrtValue.CreateTensorValueFromMemory(images, [n, 1, 28, 28]);
        using var runOptions = new RunOptions();
        using var outputs = original.Run(runOptions, ["image"], [input], ["logits"]);
        var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var reference = Enumerable.Range(0, n).SelectMany(k =>
        {
            var z = logits.Skip(k * classes).Take(classes).Select(x => (double)x).ToArray();
            var e = z.Select(x => Math.Exp(x - z.Max())).ToArray();
            return e.Select(x => x / e.Sum());
        }).ToArray();

        double[] PerRow(Func<bool, double> value) => [.. Enumerable.Range(0, n).Select(k => value(k < forget))];
        double[] Mask(Func<int, bool> picked) => [.. Enumerable.Range(0, n).SelectMany(k => Enumerable.Range(0, classes).Select(c => k < forget && picked(c) ? 1.0 : 0))];
        var feeds = new Dictionary<string, Func<OrtValue>>
        {
            ["image"] = () => OrtValue.CreateTensorValueFromMemory(images, [n, 1, 28, 28]),
            [MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(Mask(c => c == labels.IndexOf("sneaker")), [n, classes]),
            [MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(Mask(c => c == labels.IndexOf("sandal") || c == labels.IndexOf("ankle-boot")), [n, classes]),
            [MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(reference, [n, classes]),
            [MethodLoss.IsForget] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 1 : 0), [n]),
            [MethodLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 1.0 / forget : 0), [n]),
            [MethodLoss.RetainWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 0 : 4.0 / retain), [n]),
            [MethodLoss.CoarseWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 4.0 / forget : 0), [n]),
        };

        using var trainer = new GradientTrainer(built);
        var loss0 = trainer.Loss(feeds);
        for (var i = 0; i < 3; i++)
        {
            trainer.Step(feeds, 1e-3, 1e-3);
        }

        var watch = Stopwatch.StartNew();
        var last = 0.0;
        for (var i = 0; i < steps; i++)
        {
            last = trainer.Step(feeds, 1e-3, 1e-3);
        }

        var seconds = watch.Elapsed.TotalSeconds / steps;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"framework\": \"KtuGate (ONNX Runtime {SessionFactory.OnnxRuntimeVersion})\", \"threads\": {Environment.ProcessorCount}, \"batch\": {n}, \"loss0\": {loss0:R}, \"lossAfter\": {last:R}, \"steps\": {steps}, \"secondsPerStep\": {seconds:R}}}"));
    }
}
