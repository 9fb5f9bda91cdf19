using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate.Diagnostics;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Probing;

// Probing benchmark: exemplars per second by batch size, and whether memory grows with the
// number of exemplars (it must not: probes stream one batch at a time).
// Usage: dotnet run -c Release --project bench/KtuGate.Bench [-- --repeat N]
// (`-- remediation`: the remediation table; `-- deep-step [STEPS]`: one NHL+KL step, see bench/deep-step.sh; `-- deep-step-resnet STEPS FORGET RETAIN-PER-CLASS SCOPE DUMP-FOLDER`: the same on samples/ResNetClip (SCOPE: entries separated by commas; STEPS 0: only write the batch for PyTorch), see bench/deep-step-resnet.sh and bench/scale-remediation.sh; `-- scale [BATCH]`: samples/ResNetClip against raw ONNX Runtime, see bench/scale.sh; `-- large-model FOLDER [WIDTH]`: a model with over 2 GiB of external weights, see bench/large-model.sh; `-- tinylm`: unlearning inside the TinyLm decoder; `-- textfacts POLICY EDITED`: the original and an edited MiniLM on a TextFacts policy's facts, see bench/textfacts.sh)
var root = FindRepoRoot();
if (args.Length == 1 && args[0] == "remediation")
{
    RemediationTable.Print(root);
    return;
}

if (args.Length >= 1 && args[0] == "deep-step")
{
    DeepStep.Print(root, args.Length == 2 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 30);
    return;
}

if (args.Length == 6 && args[0] == "deep-step-resnet")
{
    int Count(int i) => int.Parse(args[i], CultureInfo.InvariantCulture);
    DeepStep.PrintResNetClip(root, Count(1), Count(2), Count(3), args[4], args[5]);
    return;
}

if (args.Length >= 2 && args[0] == "large-model")
{
    LargeModel.Write(root, args[1], args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 686_000);
    return;
}

if (args.Length == 1 && args[0] == "tinylm")
{
    TinyLmTable.Print(root);
    return;
}

if (args.Length == 3 && args[0] == "textfacts")
{
    TextFactsTable.Print(root, args[1], args[2]);
    return;
}

if (args.Length >= 1 && args[0] == "scale")
{
    ScaleTable.Print(root, args.Length == 2 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64);
    return;
}

var repeat = args.Length == 2 && args[0] == "--repeat" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var sample = Path.Combine(root, "samples", "FashionGate");
var diagnostics = new DiagnosticBag();
var manifest = ManifestParser.Load(Path.Combine(sample, "artifacts", "fashion-classifier.ktu.json"), diagnostics)!;
using var model = LoadedModel.Open(Path.Combine(sample, "artifacts", "fashion-classifier.onnx"), manifest, ExecutionProviderPreference.Auto, diagnostics)!;
var files = Directory.GetFiles(Path.Combine(sample, "policies", "exemplars"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

Console.WriteLine($"# Probe benchmark");
Console.WriteLine();
Console.WriteLine($"- machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
Console.WriteLine($"- model: samples/FashionGate (28x28 grayscale CNN), execution provider {model.ExecutionProvider}, ONNX Runtime {SessionFactory.OnnxRuntimeVersion}");
Console.WriteLine($"- exemplars: {files.Length} PNG files, decoded with SkiaSharp; best of {repeat} runs each");
Console.WriteLine();
Console.WriteLine("| batch size | exemplars/s | ms per pass over all exemplars |");
Console.WriteLine("| --- | --- | --- |");
new ClassifierProbe(model, 64).Probe(files.Take(128), diagnostics); // warm-up
foreach (var batch in new[] { 1, 16, 64, 256 })
{
    var best = double.MaxValue;
    for (var i = 0; i < repeat; i++)
    {
        var watch = Stopwatch.StartNew();
        var tally = new ClassifierProbe(model, batch).Probe(files, diagnostics);
        best = Math.Min(best, watch.Elapsed.TotalMilliseconds);
        if (tally.N != files.Length)
        {
            throw new InvalidOperationException("not every exemplar was probed");
        }
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {batch} | {files.Length / (best / 1000):0} | {best:0} |"));
}

Console.WriteLine();
Console.WriteLine("Memory while probing (batch 64): bytes allocated on the managed heap per pass and the live heap after it.");
Console.WriteLine("Streaming means the live heap does not grow with the number of exemplars; allocation grows linearly (decode buffers).");
Console.WriteLine();
Console.WriteLine("| exemplars | allocated per pass (MB) | live heap after (MB) | peak working set (MB) |");
Console.WriteLine("| --- | --- | --- | --- |");
foreach (var times in new[] { 1, 4, 16 })
{
    var many = Enumerable.Repeat(files, times).SelectMany(f => f);
    GC.Collect();
    GC.WaitForPendingFinalizers();
    GC.Collect();
    var before = GC.GetTotalAllocatedBytes(precise: true);
    var tally = new ClassifierProbe(model, 64).Probe(many, diagnostics);
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
    GC.Collect();
    var live = GC.GetTotalMemory(forceFullCollection: true);
    using var process = Process.GetCurrentProcess();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {tally.N} | {allocated / 1e6:0.0} | {live / 1e6:0.0} | {process.PeakWorkingSet64 / 1e6:0} |"));
}

// Dual encoder: zero-shot probing of the FashionClip image tower against MiniLM prompt embeddings.
var clip = Path.Combine(root, "samples", "FashionClip");
var clipManifest = ManifestParser.Load(Path.Combine(clip, "artifacts", "fashion-clip.ktu.json"), diagnostics);
if (clipManifest?.Section is not DualEncoderSection clipSection || !File.Exists(clipSection.TextTower.Model))
{
    Console.WriteLine();
    Console.WriteLine("(Dual encoder skipped: build samples/FashionClip first so that the MiniLM text tower is extracted.)");
    return;
}

using var imageTower = LoadedModel.Open(Path.Combine(clip, "artifacts", "fashion-clip.onnx"), clipManifest, ExecutionProviderPreference.Auto, diagnostics)!;
var clipFiles = Directory.GetFiles(Path.Combine(clip, "policies", "exemplars"), "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
var sneakerLabel = clipManifest.Labels.ToList().IndexOf("sneaker");
string[] wordings = ["a photo of a sneaker", "a photo of a trainer", "a photo of a running shoe"];
Console.WriteLine();
Console.WriteLine("## Dual encoder (samples/FashionClip: image tower + all-MiniLM-L6-v2 text tower)");
Console.WriteLine();
Console.WriteLine("| what | time (ms) | rate |");
Console.WriteLine("| --- | --- | --- |");
var first = Stopwatch.StartNew();
using (var text = TextTower.Open(clipSection.TextTower, ExecutionProviderPreference.Auto, diagnostics)!)
{
    var probe = new DualEncoderProbe(imageTower, text, 64);
    var setup = first.Elapsed.TotalMilliseconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| open text tower and embed the {text.Embedded} label and group prompts (once per run) | {setup:0} | {text.Embedded / (setup / 1000):0} prompts/s |"));
    var bestProbe = double.MaxValue;
    for (var i = 0; i < repeat; i++)
    {
        var watch = Stopwatch.StartNew();
        var tally = probe.Probe(Exemplar.Images(clipFiles), sneakerLabel, wordings, diagnostics);
        bestProbe = Math.Min(bestProbe, watch.Elapsed.TotalMilliseconds);
        if (tally.N != clipFiles.Length)
        {
            throw new InvalidOperationException("not every exemplar was probed");
        }
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| zero-shot probe of {clipFiles.Length} exemplars at fine and coarse level, with 3 wordings (best of {repeat}) | {bestProbe:0} | {clipFiles.Length / (bestProbe / 1000):0} exemplars/s |"));
    var cached = Stopwatch.StartNew();
    foreach (var w in wordings)
    {
        text.Embed(w);
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| the same 3 wordings again (cached: no text-tower run) | {cached.Elapsed.TotalMilliseconds:0.000} | |"));
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "KtuGate.sln")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("Run from inside the KtuGate repository.");
}
