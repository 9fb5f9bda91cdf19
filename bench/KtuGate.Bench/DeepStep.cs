using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

/// <summary>
/// NHL+KL training steps of a deep edit, timed: the gradient model built by <see cref="GradientBuilder"/> from <see cref="MethodLoss"/>,
/// AdamW by <see cref="GradientTrainer"/>, on a fixed batch of forget (sneaker) and retain exemplars. Prints one JSON line like the
/// PyTorch references', for bench/deep-step.sh (FashionGate's classifier) and bench/deep-step-resnet.sh (samples/ResNetClip's tower).
/// </summary>
internal static class DeepStep
{
    /// <summary>KL weight of the step (the retain and coarse terms), as the references use.</summary>
    private const double KlWeight = 4;

    private const double LearningRate = 1e-3;

    private const double Decay = 1e-3;

    /// <summary>FashionGate's classifier, every weight trained, on the batch bench/reference/nhl_kl_step.py uses (the first 64 sneaker and the first 32 sandal, ankle boot, t-shirt and bag exemplars).</summary>
    public static void Print(string root, int steps)
    {
        var sample = Path.Combine(root, "samples", "FashionGate");
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Path.Combine(sample, "artifacts", "fashion-classifier.ktu.json"), diagnostics)!;
        var artifact = Path.Combine(sample, "artifacts", "fashion-classifier.onnx");
        var classes = manifest.Labels.Count;
        var identity = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, classes).Select(k => k == c ? 1.0 : 0.0).ToArray()).ToList();
        var batch = Batch.Of(sample, manifest, 64, 32);
        Run(new Setup(artifact, manifest, "logits", EditScope.All, identity, false, 1, 2), batch, steps, warmUp: 3, dump: null);
    }

    /// <summary>
    /// samples/ResNetClip's image tower (ResNet-18 at 224x224, then the projection) over the zero-shot scores against MiniLM's prompt
    /// embeddings, trained at <paramref name="scope"/> (<c>all</c> or <c>last</c>), on the first <paramref name="forget"/> sneakers and
    /// <paramref name="retainPerClass"/> of sandal, ankle boot, t-shirt and bag. Writes the batch, the class directions and the reference
    /// distribution to <paramref name="dump"/> for bench/reference/resnetclip_step.py, so both frameworks train on the same numbers.
    /// </summary>
    public static void PrintResNetClip(string root, int steps, int forget, int retainPerClass, string scope, string dump)
    {
        var sample = Path.Combine(root, "samples", "ResNetClip");
        var artifact = Path.Combine(root, "artifacts", "resnetclip", "resnet-clip.onnx");
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Path.Combine(sample, "artifacts", "resnet-clip.ktu.json"), diagnostics);
        if (manifest?.Section is not DualEncoderSection section || !File.Exists(artifact))
        {
            throw new InvalidOperationException("Build samples/ResNetClip first, which composes the image tower and extracts the text tower.");
        }

        using var text = TextTower.Open(section.TextTower, ExecutionProviderPreference.Cpu, diagnostics) ?? throw new InvalidOperationException(string.Join("; ", diagnostics.Items));
        var fine = DualEncoderProbe.Directions(manifest, text).Fine.Select(d => d.Select(x => (double)x).ToArray()).ToList();
        var batch = Batch.Of(sample, manifest, forget, retainPerClass);
        Run(new Setup(artifact, manifest, "embedding", scope, fine, true, 20, 1), batch, steps, warmUp: 1, dump);
    }

    /// <summary>The model, its output and the score space of the loss (as the model's kind gives them).</summary>
    private sealed record Setup(string Artifact, ModelManifest Manifest, string Output, string Scope, IReadOnlyList<double[]> Directions, bool Normalize, double Scale, double Margin);

    /// <summary>The decoded exemplars, forget rows first.</summary>
    private sealed record Batch(float[] Images, int Count, int Forget, long[] Shape)
    {
        public static Batch Of(string sample, ModelManifest manifest, int forget, int retainPerClass)
        {
            var input = manifest.Input!;
            var size = input.Channels * input.Height * input.Width;
            float[] Images(string label, int count) => [.. Directory.GetFiles(Path.Combine(sample, "policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).Take(count)
                .SelectMany(file =>
                {
                    var pixels = new float[size];
                    return ImageDecoder.TryDecode(file, input, manifest.Preprocess!, pixels) is null ? pixels : throw new InvalidOperationException(file);
                })];
            var images = Images("sneaker", forget).Concat(new[] { "sandal", "ankle-boot", "t-shirt", "bag" }.SelectMany(l => Images(l, retainPerClass))).ToArray();
            var n = images.Length / size;
            return new Batch(images, n, forget, [n, input.Channels, input.Height, input.Width]);
        }
    }

    private static void Run(Setup setup, Batch batch, int steps, int warmUp, string? dump)
    {
        var diagnostics = new DiagnosticBag();
        var manifest = setup.Manifest;
        var labels = manifest.Labels.ToList();
        var classes = labels.Count;
        var model = OnnxGraph.Load(setup.Artifact, diagnostics)!;
        var inputName = model.Graph.Input[0].Name;
        var trained = EditScope.Resolve(model, setup.Scope.Split(','), OnnxGraph.FindSite(model, setup.Output)!, diagnostics, null)!;
        var built = GradientBuilder.Build(model, trained, MethodLoss.Build(setup.Output, ForgetTerm.NegativeHinge, setup.Directions, [.. manifest.CoarseOfLabel], setup.Normalize, setup.Scale, setup.Margin), diagnostics)
            ?? throw new InvalidOperationException(string.Join("; ", diagnostics.Items));
        var (n, forget) = (batch.Count, batch.Forget);
        var retain = n - forget;

        // The original's distribution on the batch: the KL terms' reference.
        var reference = Reference(setup, batch, inputName);
        // The exemplar folders are named with hyphens; FashionClip's and ResNetClip's labels are words ("ankle boot").
        int Label(string folder) => labels.FindIndex(l => l == folder || l == folder.Replace('-', ' ')) is var i and >= 0 ? i : throw new InvalidOperationException($"no label '{folder}'");
        int[] allowed = [Label("sandal"), Label("ankle-boot")];
        var sneaker = Label("sneaker");
        // Fed in the parts the gate's deep edit feeds a batch of this size in (GradientTrainer.Parts), each row weighted as a share of the whole batch.
        var size = batch.Images.Length / n;
        Dictionary<string, Func<OrtValue>> Part(int start, int count)
        {
            double[] PerRow(Func<bool, double> value) => [.. Enumerable.Range(start, count).Select(k => value(k < forget))];
            double[] Mask(Func<int, bool> picked) => [.. Enumerable.Range(start, count).SelectMany(k => Enumerable.Range(0, classes).Select(c => k < forget && picked(c) ? 1.0 : 0))];
            return new()
            {
                [inputName] = () => OrtValue.CreateTensorValueFromMemory(batch.Images[(start * size)..((start + count) * size)], [count, .. batch.Shape[1..]]),
                [MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(Mask(c => c == sneaker), [count, classes]),
                [MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(Mask(allowed.Contains), [count, classes]),
                [MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(reference[(start * classes)..((start + count) * classes)], [count, classes]),
                [MethodLoss.IsForget] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 1 : 0), [count]),
                [MethodLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 1.0 / forget : 0), [count]),
                [MethodLoss.RetainWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? 0 : KlWeight / retain), [count]),
                [MethodLoss.CoarseWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(f => f ? KlWeight / forget : 0), [count]),
            };
        }

        var parts = GradientTrainer.Parts(n, size);
        IReadOnlyList<IReadOnlyDictionary<string, Func<OrtValue>>> feeds = [.. parts.Select(p => Part(p.Start, p.Count))];
        if (dump is not null)
        {
            Dump(dump, setup, batch, reference, trained, sneaker, allowed);
        }

        var parameters = built.Weights.Sum(w => w.Dims.Aggregate(1L, (a, b) => a * b));
        if (steps == 0)
        {
            // Only the batch written for PyTorch, and what the scope trains.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"scope\": \"{setup.Scope}\", \"parameters\": {parameters}}}"));
            return;
        }

        var open = Stopwatch.StartNew();
        // KTU_BENCH_PROFILE=PREFIX: ONNX Runtime's per-node profile of the trainer's session, written to PREFIX*.json.
        using var options = Environment.GetEnvironmentVariable("KTU_BENCH_PROFILE") is { Length: > 0 } prefix
            ? new SessionOptions { EnableProfiling = true, ProfileOutputPathPrefix = prefix }
            : null;
        using var trainer = new GradientTrainer(built, options);
        var openSeconds = open.Elapsed.TotalSeconds;
        var loss0 = feeds.Sum(trainer.Loss);
        for (var i = 0; i < warmUp; i++)
        {
            trainer.Step(feeds, LearningRate, Decay);
        }

        var watch = Stopwatch.StartNew();
        var last = 0.0;
        for (var i = 0; i < steps; i++)
        {
            last = trainer.Step(feeds, LearningRate, Decay);
        }

        var seconds = watch.Elapsed.TotalSeconds / steps;
        if (options is not null)
        {
            // The trainer keeps its session to itself; the profile is written when the session is asked to end it.
            var session = (InferenceSession)typeof(GradientTrainer).GetField("_session", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(trainer)!;
            Console.Error.WriteLine($"profile: {session.EndProfiling()}");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"framework\": \"KtuGate (ONNX Runtime {SessionFactory.OnnxRuntimeVersion})\", \"threads\": {Environment.ProcessorCount}, \"batch\": {n}, \"scope\": \"{setup.Scope}\", \"parameters\": {parameters}, \"loss0\": {loss0:R}, \"lossAfter\": {last:R}, \"steps\": {steps}, \"warmUp\": {warmUp}, \"parts\": {parts.Count}, \"openSeconds\": {openSeconds:R}, \"secondsPerStep\": {seconds:R}}}"));
    }

    /// <summary>softmax(scale · D · y / ‖y‖) (or D · y where the scores are the output itself) of the original model, per row, float64.</summary>
    private static double[] Reference(Setup setup, Batch batch, string inputName)
    {
        _ = SessionFactory.OnnxRuntimeVersion;
        using var original = new InferenceSession(setup.Artifact);
        using var input = OrtValue.CreateTensorValueFromMemory(batch.Images, batch.Shape);
        using var runOptions = new RunOptions();
        using var outputs = original.Run(runOptions, [inputName], [input], [setup.Output]);
        var y = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var width = y.Length / batch.Count;
        return [.. Enumerable.Range(0, batch.Count).SelectMany(k =>
        {
            var row = y.Skip(k * width).Take(width).Select(x => (double)x).ToArray();
            var norm = setup.Normalize ? Math.Sqrt(row.Sum(x => x * x)) : 1;
            var z = setup.Directions.Select(d => setup.Scale * d.Zip(row, (a, b) => a * b).Sum() / norm).ToArray();
            var e = z.Select(x => Math.Exp(x - z.Max())).ToArray();
            return e.Select(x => x / e.Sum());
        })];
    }

    /// <summary>batch.f32 (the decoded images), directions.f64 ([classes, features]), reference.f64 ([rows, classes]) and setup.json.</summary>
    private static void Dump(string folder, Setup setup, Batch batch, double[] reference, IReadOnlyList<string> trained, int forbidden, int[] allowed)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "batch.f32"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(batch.Images.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(folder, "directions.f64"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(setup.Directions.SelectMany(d => d).ToArray().AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(folder, "reference.f64"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(reference.AsSpan()).ToArray());
        File.WriteAllText(Path.Combine(folder, "setup.json"), JsonSerializer.Serialize(new
        {
            model = setup.Artifact,
            output = setup.Output,
            scope = setup.Scope,
            shape = batch.Shape,
            forget = batch.Forget,
            classes = setup.Directions.Count,
            features = setup.Directions[0].Length,
            groupOfClass = setup.Manifest.CoarseOfLabel,
            scale = setup.Scale,
            margin = setup.Margin,
            klWeight = KlWeight,
            learningRate = LearningRate,
            decay = Decay,
            forbidden,
            allowed,
            trained,
        }));
    }
}
