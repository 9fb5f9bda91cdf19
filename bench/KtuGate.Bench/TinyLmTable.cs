using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate;
using KtuGate.Diagnostics;
using KtuGate.Kinds.CausalLm;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;

/// <summary>
/// Unlearning inside the TinyLm decoder against issue #15's targets: the sample's Remediate run (time against a verify run), then the
/// original, the edited decoder and the retain model measured on the whole forget, retain and world sets, with forget quality.
/// </summary>
internal static class TinyLmTable
{
    public static void Print(string root)
    {
        var sample = Path.Combine(root, "samples", "TinyLm");
        var model = Path.Combine(sample, "artifacts", "tinylm.onnx");
        var manifestPath = Path.Combine(sample, "artifacts", "tinylm.ktu.json");
        var policy = Path.Combine(sample, "policies", "forget-five-people.ktu.json");
        var output = Path.Combine(Path.GetTempPath(), "ktu-bench-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            GateResult Run(GateMode mode) => Gate.Run(new GateRequest([new GateModelInput(model, manifestPath)], [policy], Path.Combine(output, mode.ToString()))
            {
                ExecutionProvider = ExecutionProviderPreference.Cpu,
                Mode = mode,
                OutputDirectory = Path.Combine(output, "out"),
            });

            // One untimed verify compiles the code; then a verify and a Remediate run, each timed once.
            Run(GateMode.Verify);
            var watch = Stopwatch.StartNew();
            Run(GateMode.Verify);
            var verify = watch.Elapsed.TotalSeconds;
            watch.Restart();
            var remediated = Run(GateMode.Remediate);
            var remediate = watch.Elapsed.TotalSeconds;
            var report = remediated.Report.Models.Single().Remediation;

            var diagnostics = new DiagnosticBag();
            var section = ManifestParser.Load(manifestPath, diagnostics)!.SectionAs<CausalLmSection>();
            var tokenizer = LmTokenizer.Open(section.Tokenizer, section.Location, diagnostics)!;
            var sets = new[] { "forget", "retain", "world" }.ToDictionary(s => s, s => QaSet.Load([Path.Combine(sample, "qa", s + ".jsonl")], diagnostics)!);
            var edited = Path.Combine(output, "out", "tinylm.onnx");
            var models = new[] { ("tinylm (original)", model), ("tinylm (edited)", edited), ("tinylm-retain", Path.Combine(sample, "artifacts", "tinylm-retain.onnx")) };
            var retainRatios = Ratios(section, tokenizer, sets["forget"], models[2].Item2, diagnostics);

            Console.WriteLine("# TinyLm: unlearning inside the decoder");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Recorded {DateTime.UtcNow:yyyy-MM-dd} with `dotnet run -c Release --project bench/KtuGate.Bench -- tinylm` on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, CPU execution provider."));
            Console.WriteLine("The gate runs are `samples/TinyLm` with `policies/forget-five-people.ktu.json` (in process; one untimed verify first). The table then measures the original, the edited decoder the Remediate run wrote, and the retain model (trained without the forget set) on the whole question/answer sets with `QaProbe`: greedy generation with the key/value cache, exact match, 95% Wilson intervals. Forget quality is TOFU's: the Kolmogorov-Smirnov p-value of the forget records' truth ratios against the retain model's.");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Remediate: verdict {remediated.Report.Verdict}, method {report?.Method}, kept setting `{(report is { Tried.Count: > 0 } r ? r.Tried[^1].Settings : "-")}`, {report?.Tried.Count} setting(s) tried, {report?.TrainedInitializers} initializers trained, {report?.ChangedParameters:N0} parameters changed. Verify {verify:0.0} s, Remediate {remediate:0.0} s: {remediate / verify:0.0}x a verify run."));
            Console.WriteLine();
            Console.WriteLine("| Model | Forget (fine) | Forget (coarse) | Retain people | World facts | Forget quality (p) |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
            foreach (var (name, path) in models)
            {
                using var options = SessionFactory.CreateOptions(ExecutionProviderPreference.Cpu, new DiagnosticBag(), out _)!;
                using var session = new InferenceSession(path, options);
                var probe = new QaProbe(Decoder.Open(session, section.Inputs, "logits", section.Location, diagnostics)!, tokenizer, section);
                var forget = probe.Probe(sets["forget"]);
                var quality = Fmt("{0:G3}", ForgetQuality.PValue([.. sets["forget"].Select(r => probe.TruthRatio(r)!.Value)], retainRatios));
                Console.WriteLine($"| {name} | {Cell(forget.Fine)} | {Cell(forget.Coarse!)} | {Cell(probe.Probe(sets["retain"]).Fine)} | {Cell(probe.Probe(sets["world"]).Fine)} | {quality} |");
            }
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static List<double> Ratios(CausalLmSection section, LmTokenizer tokenizer, IReadOnlyList<QaRecord> records, string path, DiagnosticBag diagnostics)
    {
        using var options = SessionFactory.CreateOptions(ExecutionProviderPreference.Cpu, new DiagnosticBag(), out _)!;
        using var session = new InferenceSession(path, options);
        var probe = new QaProbe(Decoder.Open(session, section.Inputs, "logits", section.Location, diagnostics)!, tokenizer, section);
        return [.. records.Select(r => probe.TruthRatio(r)!.Value)];
    }

    private static string Cell(Proportion p) => Fmt("{0} / {1} ({2:0.0}%, upper {3:0.0}%)", p.Successes, p.N, 100 * p.Rate, 100 * p.High);

    private static string Fmt(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
}
