using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate;
using KtuGate.Probing;
using KtuGate.Reporting;

/// <summary>A results table in the manner of the seed paper's Table 2: the original model and each remediation method, per sample policy.</summary>
internal static class RemediationTable
{
    public static void Print(string root)
    {
        var cases = new (string Sample, string Artifact, string Policy)[]
        {
            ("FashionGate", "artifacts/fashion-classifier.onnx", "policies/retire-sneaker.ktu.json"),
            ("FashionClip", "artifacts/fashion-clip.onnx", "policies/retire-sneaker.ktu.json"),
            ("FashionClip", "artifacts/fashion-clip.onnx", "policies/retire-shirt.ktu.json"),
            ("FashionClip", "artifacts/fashion-clip.onnx", "policies/forget-footwear.ktu.json"),
        };

        Console.WriteLine("# Remediation results");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Recorded {DateTime.UtcNow:yyyy-MM-dd} with `dotnet run -c Release --project bench/KtuGate.Bench -- remediation` on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, CPU execution provider."));
        Console.WriteLine("Rates are on each policy's exemplars (forget: the concepts it forgets; retain: the other concepts it keeps; general: the general probe set without the forgotten labels).");
        Console.WriteLine("Quality, utility and Q-U are against the original artifact (see the README for the formulas). Times are wall-clock for the whole gate run: `verify` probes once; `closed-form` probes, collects activations, tries settings until every threshold holds (each trial writes and probes the edited artifact) and writes it.");
        Console.WriteLine();
        Console.WriteLine("| Sample | Policy | Method | Forget fine | Forget coarse | Retain fine | Retain coarse | General | Quality | Utility | Q-U | Settings tried | Time (s) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (sample, artifact, policy) in cases)
        {
            var folder = Path.Combine(root, "samples", sample);
            var output = Path.Combine(Path.GetTempPath(), "ktu-bench-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                GateResult Run(GateMode mode) => Gate.Run(new GateRequest([new GateModelInput(Path.Combine(folder, artifact))], [Path.Combine(folder, policy)], output)
                {
                    ExecutionProvider = ExecutionProviderPreference.Cpu,
                    Mode = mode,
                    BaseDirectory = folder,
                });

                var watch = Stopwatch.StartNew();
                var verified = Run(GateMode.Verify);
                var verifySeconds = watch.Elapsed.TotalSeconds;
                watch.Restart();
                var remediated = Run(GateMode.Remediate);
                var remediateSeconds = watch.Elapsed.TotalSeconds;

                var original = verified.Report.Models[0].Metrics[0];
                var edited = remediated.Report.Models[0].Metrics[0];
                var remediation = remediated.Report.Models[0].Remediation;
                var id = Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(policy));
                Console.WriteLine($"| {sample} | {id} | original (verify) | {R(original.ForgetFine)} | {R(original.ForgetCoarse)} | {R(original.RetainFine)} | {R(original.RetainCoarse)} | {R(original.General)} | - | - | - | - | {verifySeconds:0.0} |");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {sample} | {id} | closed-form{(remediation?.Output is null ? " (failed)" : string.Empty)} | {R(edited.ForgetFine)} | {R(edited.ForgetCoarse)} | {R(edited.RetainFine)} | {R(edited.RetainCoarse)} | {R(edited.General)} | {P(edited.Quality)} | {P(edited.Utility)} | {P(edited.QualityUtility)} | {remediation?.Tried.Count} | {remediateSeconds:0.0} |"));
            }
            finally
            {
                if (Directory.Exists(output))
                {
                    Directory.Delete(output, recursive: true);
                }
            }
        }
    }

    private static string R(RateInfo? rate) => rate is null ? "-" : (rate.Rate * 100).ToString("0.00", CultureInfo.InvariantCulture);

    private static string P(double? value) => value is null ? "-" : (value.Value * 100).ToString("0.00", CultureInfo.InvariantCulture);
}
