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
            ("FashionClip", "artifacts/fashion-clip.onnx", "policies/retire-three.ktu.json"),
        };

        Console.WriteLine("# Remediation results");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Recorded {DateTime.UtcNow:yyyy-MM-dd} with `dotnet run -c Release --project bench/KtuGate.Bench -- remediation` on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, CPU execution provider."));
        Console.WriteLine("Rates are on each policy's exemplars (forget: the concepts it forgets; retain: the other concepts it keeps; general: the general probe set without the forgotten labels).");
        Console.WriteLine("Quality, utility and Q-U are against the original artifact (see the README for the formulas). Times are wall-clock for the whole gate run, in process: `verify` probes once; a method probes, collects the edit site's activations, tries its settings until every threshold holds (a setting that cannot meet a forget or retain clause on the site's inputs is screened out without a probe; the others are written and probed, exact and perturbed exemplars) and writes the edited artifact.");
        Console.WriteLine("A method whose settings all missed a threshold shows the best Q-U among the settings it probed; that one may have missed another threshold (a retain floor, the general accuracy drop).");
        Console.WriteLine();
        Console.WriteLine("| Sample | Policy | Method | Forget fine | Forget coarse | Retain fine | Retain coarse | General | Quality | Utility | Q-U | Settings tried | Time (s) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (sample, artifact, policy) in cases)
        {
            var folder = Path.Combine(root, "samples", sample);
            var output = Path.Combine(Path.GetTempPath(), "ktu-bench-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                GateResult Run(GateMode mode, string? method) => Gate.Run(new GateRequest([new GateModelInput(Path.Combine(folder, artifact))], [Path.Combine(folder, policy)], output)
                {
                    ExecutionProvider = ExecutionProviderPreference.Cpu,
                    Mode = mode,
                    BaseDirectory = folder,
                    RemedyMethods = method is null ? null : [method],
                });

                var watch = Stopwatch.StartNew();
                var verified = Run(GateMode.Verify, null);
                var verifySeconds = watch.Elapsed.TotalSeconds;
                var original = verified.Report.Models[0].Metrics[0];
                var id = Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(policy));
                Console.WriteLine($"| {sample} | {id} | original (verify) | {R(original.ForgetFine)} | {R(original.ForgetCoarse)} | {R(original.RetainFine)} | {R(original.RetainCoarse)} | {R(original.General)} | - | - | - | - | {verifySeconds:0.0} |");
                foreach (var method in new[] { "closed-form", "nhl-kl", "ga", "ga-kl", "npo-kl" })
                {
                    watch.Restart();
                    var remediated = Run(GateMode.Remediate, method);
                    var remediateSeconds = watch.Elapsed.TotalSeconds;
                    var remediation = remediated.Report.Models[0].Remediation!;

                    // When no setting met the thresholds, the row shows the best attempt's Q-U; its rates are those of the original.
                    var edited = remediated.Report.Models[0].Metrics[0];
                    var passed = remediation.Output is not null;
                    Console.WriteLine(passed
                        ? string.Create(CultureInfo.InvariantCulture, $"| {sample} | {id} | {method} | {R(edited.ForgetFine)} | {R(edited.ForgetCoarse)} | {R(edited.RetainFine)} | {R(edited.RetainCoarse)} | {R(edited.General)} | {P(edited.Quality)} | {P(edited.Utility)} | {P(edited.QualityUtility)} | {remediation.Tried.Count} | {remediateSeconds:0.0} |")
                        : string.Create(CultureInfo.InvariantCulture, $"| {sample} | {id} | {method} (no setting met every threshold) | | | | | | | | {Best(remediation)} | {remediation.Tried.Count} | {remediateSeconds:0.0} |"));
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
    }

    // Settings screened out on the edit site's inputs were never probed, so they have no Q-U.
    private static string Best(RemediationReport remediation)
    {
        var judged = remediation.Tried.Where(t => t.QualityUtility is not null).ToList();
        var screened = remediation.Tried.Count - judged.Count;
        return judged.Count == 0
            ? "all screened out"
            : $"best probed {P(judged.Max(t => t.QualityUtility))}" + (screened > 0 ? $"; {screened} screened out" : string.Empty);
    }

    private static string R(RateInfo? rate) => rate is null ? "-" : (rate.Rate * 100).ToString("0.00", CultureInfo.InvariantCulture);

    private static string P(double? value) => value is null ? "-" : (value.Value * 100).ToString("0.00", CultureInfo.InvariantCulture);
}
