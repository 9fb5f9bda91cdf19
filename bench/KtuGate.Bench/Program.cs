using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;

// Probing benchmark: exemplars per second by batch size, and whether memory grows with the
// number of exemplars (it must not: probes stream one batch at a time).
// Usage: dotnet run -c Release --project bench/KtuGate.Bench [-- --repeat N]
var repeat = args.Length == 2 && args[0] == "--repeat" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var root = FindRepoRoot();
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
