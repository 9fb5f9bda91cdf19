using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate.Diagnostics;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;

/// <summary>
/// Probing at realistic size (samples/ResNetClip: ResNet-18 at 224x224 with MiniLM): the gate's zero-shot probe (decode, resize,
/// normalise, run, tally; the code `ktu check` runs) against raw ONNX Runtime on tensors decoded beforehand, on one session (same
/// batch size, same threads), in one process.
/// </summary>
internal static class ScaleTable
{
    /// <summary>Prints the table; the raw pass runs before and after the gate's so that a change in the machine's load shows.</summary>
    public static void Print(string root, int batchSize)
    {
        var sample = Path.Combine(root, "samples", "ResNetClip");
        var artifact = Path.Combine(root, "artifacts", "resnetclip", "resnet-clip.onnx");
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(Path.Combine(sample, "artifacts", "resnet-clip.ktu.json"), diagnostics);
        if (manifest?.Section is not DualEncoderSection section || !File.Exists(artifact) || !File.Exists(section.TextTower.Model))
        {
            Console.WriteLine("(Skipped: build samples/ResNetClip first, which composes the image tower and extracts the text tower.)");
            return;
        }

        using var model = LoadedModel.Open(artifact, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;
        using var text = TextTower.Open(section.TextTower, ExecutionProviderPreference.Cpu, diagnostics)!;
        var files = Directory.GetFiles(Path.Combine(sample, "policies", "exemplars"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var input = manifest.Input!;
        var perExemplar = input.Channels * input.Height * input.Width;
        var probe = new DualEncoderProbe(model, text, batchSize);
        var sneaker = manifest.Labels.ToList().IndexOf("sneaker");
        string[] wordings = ["a photo of a sneaker"];
        probe.Probe(Exemplar.Images(files.Take(batchSize)), sneaker, wordings, diagnostics); // warm-up: first-run allocations, prompts embedded

        var decode = Stopwatch.StartNew();
        var tensors = new float[files.Length * perExemplar];
        for (var i = 0; i < files.Length; i++)
        {
            ImageDecoder.TryDecode(files[i], input, manifest.Preprocess!, tensors.AsSpan(i * perExemplar, perExemplar));
        }

        var decodeSeconds = decode.Elapsed.TotalSeconds;
        var rawBefore = Raw(model, tensors, files.Length, perExemplar, batchSize);
        var gate = Stopwatch.StartNew();
        var tally = probe.Probe(Exemplar.Images(files), sneaker, wordings, diagnostics);
        var gateSeconds = gate.Elapsed.TotalSeconds;
        var rawAfter = Raw(model, tensors, files.Length, perExemplar, batchSize);
        if (tally.N != files.Length)
        {
            throw new InvalidOperationException("not every exemplar was probed");
        }

        var raw = (rawBefore + rawAfter) / 2;
        string Row(string what, double seconds, string ratio) => string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {seconds:0.00} | {files.Length / seconds:0.0} | {ratio} |");
        Console.WriteLine("## Probe throughput at realistic size (samples/ResNetClip)");
        Console.WriteLine();
        Console.WriteLine($"- machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}; load average before the run {LoadAverage()}");
        Console.WriteLine($"- model: ResNet-18 (224x224 RGB) + projection, {new FileInfo(artifact).Length / 1e6:0.0} MB; execution provider {model.ExecutionProvider}, ONNX Runtime {SessionFactory.OnnxRuntimeVersion}, one session for both passes (the gate's session options)");
        Console.WriteLine($"- exemplars: the sample's {files.Length} 28x28 PNG files, resized to 224x224 by the gate's decoder; batch size {batchSize}; one pass each");
        Console.WriteLine();
        Console.WriteLine("| pass | seconds | exemplars/s | gate / raw |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine(Row("decode + resize + normalise only (SkiaSharp, one thread)", decodeSeconds, string.Create(CultureInfo.InvariantCulture, $"{decodeSeconds / gateSeconds:P1} of the gate's pass")));
        Console.WriteLine(Row("raw ONNX Runtime on the decoded tensors, before the gate's pass", rawBefore, ""));
        Console.WriteLine(Row("the gate's probe (`DualEncoderProbe`: decode, run, zero-shot tally at fine and coarse level)", gateSeconds, string.Create(CultureInfo.InvariantCulture, $"{raw / gateSeconds:0.00}x")));
        Console.WriteLine(Row("raw ONNX Runtime on the decoded tensors, after the gate's pass", rawAfter, ""));
    }

    private static double Raw(LoadedModel model, float[] tensors, int count, int perExemplar, int batchSize)
    {
        var input = model.Manifest.Input!;
        var watch = Stopwatch.StartNew();
        using var runOptions = new RunOptions();
        for (var start = 0; start < count; start += batchSize)
        {
            var n = Math.Min(batchSize, count - start);
            using var tensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, tensors.AsMemory(start * perExemplar, n * perExemplar),
                [n, input.Channels, input.Height, input.Width]);
            using var outputs = model.Session.Run(runOptions, [input.Name], [tensor], [model.Manifest.Output.Name]);
        }

        return watch.Elapsed.TotalSeconds;
    }

    private static string LoadAverage()
        => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
