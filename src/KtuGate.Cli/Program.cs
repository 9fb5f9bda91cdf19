using System.CommandLine;
using System.Globalization;
using KtuGate;
using KtuGate.Cli;
using KtuGate.Diagnostics;
using KtuGate.Probing;
using KtuGate.Reporting;

var policyOption = new Option<string[]>("--policy", "-p") { Description = "A policy file (repeat for more).", Required = true, Arity = ArgumentArity.OneOrMore };
var modelOption = new Option<string[]>("--model", "-m") { Description = "An ONNX model artifact (repeat for more).", Required = true, Arity = ArgumentArity.OneOrMore };
var manifestOption = new Option<string[]>("--manifest") { Description = "The manifest of the model in the same position; default: MODEL.ktu.json beside it.", Arity = ArgumentArity.ZeroOrMore };
var baselineOption = new Option<string[]>("--baseline") { Description = "A baseline artifact for the model in the same position, for maxDrop thresholds.", Arity = ArgumentArity.ZeroOrMore };
var reportDirOption = new Option<string>("--report-dir") { Description = "Where ktu-report.json is written.", DefaultValueFactory = _ => "ktu" };
var baseDirOption = new Option<string?>("--base-dir") { Description = "The folder report paths are relative to; default: the current folder." };
var providerOption = new Option<ExecutionProviderPreference>("--execution-provider") { Description = "auto (CUDA when it loads, else CPU), cpu or cuda.", DefaultValueFactory = _ => ExecutionProviderPreference.Auto };
var batchOption = new Option<int>("--batch-size") { Description = "Exemplars per inference call.", DefaultValueFactory = _ => 64 };
var formatOption = new Option<string>("--format") { Description = "text, or json (the report on standard output).", DefaultValueFactory = _ => "text" };
formatOption.AcceptOnlyFromAmong("text", "json");

var check = new Command("check", "Probe models against must-not-know policies and print the verdict.")
{
    policyOption, modelOption, manifestOption, baselineOption, reportDirOption, baseDirOption, providerOption, batchOption, formatOption,
};
check.SetAction((parse, cancellationToken) =>
{
    var models = parse.GetValue(modelOption)!;
    var manifests = parse.GetValue(manifestOption) ?? [];
    var baselines = parse.GetValue(baselineOption) ?? [];
    var inputs = models.Select((m, i) => new GateModelInput(m, i < manifests.Length && manifests[i].Length > 0 ? manifests[i] : null, i < baselines.Length && baselines[i].Length > 0 ? baselines[i] : null)).ToList();
    var request = new GateRequest(inputs, parse.GetValue(policyOption)!, parse.GetValue(reportDirOption))
    {
        ExecutionProvider = parse.GetValue(providerOption),
        BatchSize = Math.Max(1, parse.GetValue(batchOption)),
        BaseDirectory = parse.GetValue(baseDirOption),
    };
    return Task.FromResult((int)Cli.Run(() => Cli.Check(request, parse.GetValue(formatOption) == "json", cancellationToken)));
});

var validate = new Command("validate", "Check policies and manifests without running any model.");
var validatePolicies = new Option<string[]>("--policy", "-p") { Description = "A policy file (repeat for more).", Arity = ArgumentArity.ZeroOrMore };
var validateManifests = new Option<string[]>("--manifest") { Description = "A manifest file (repeat for more).", Arity = ArgumentArity.ZeroOrMore };
validate.Options.Add(validatePolicies);
validate.Options.Add(validateManifests);
validate.SetAction(parse =>
{
    var diagnostics = Gate.Validate(parse.GetValue(validatePolicies) ?? [], parse.GetValue(validateManifests) ?? []);
    Cli.Print(diagnostics);
    var failed = diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
    Console.WriteLine(failed ? "Invalid." : "Valid.");
    return (int)(failed ? ExitCode.InvalidInput : ExitCode.Pass);
});

var codeArgument = new Argument<string>("code") { Description = "A diagnostic code, e.g. KTU3001." };
var explain = new Command("explain", "Say what a diagnostic code means and how to fix it.") { codeArgument };
explain.SetAction(parse =>
{
    var code = parse.GetValue(codeArgument)!;
    if (!DiagnosticCodes.All.TryGetValue(code, out var descriptor))
    {
        Console.Error.WriteLine($"Unknown code '{code}'. Codes: {string.Join(", ", DiagnosticCodes.All.Keys.Order())}");
        return (int)ExitCode.InvalidInput;
    }

    Console.WriteLine($"{descriptor.Code} ({descriptor.Severity.ToString().ToLowerInvariant()}): {descriptor.Title}");
    Console.WriteLine();
    Console.WriteLine(descriptor.Help);
    return (int)ExitCode.Pass;
});

var root = new RootCommand("ktu: prove that a model does not know what it must not know.") { check, validate, explain };
return await root.Parse(args).InvokeAsync();

namespace KtuGate.Cli
{
    internal static class Cli
    {
        public static ExitCode Run(Func<ExitCode> action)
        {
            try
            {
                return action();
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("Cancelled; no report was written.");
                return ExitCode.InternalError;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(DiagnosticCodes.InternalError.Create(null, e.ToString()));
                return ExitCode.InternalError;
            }
        }

        public static ExitCode Check(GateRequest request, bool json, CancellationToken cancellationToken)
        {
            var result = Gate.Run(request, cancellationToken);
            if (json)
            {
                using var stdout = Console.OpenStandardOutput();
                stdout.Write(ReportJson.Serialize(result.Report));
                return (ExitCode)result.Outcome;
            }

            Print(result.Diagnostics);
            foreach (var model in result.Report.Models)
            {
                Console.WriteLine();
                Console.WriteLine($"{model.Artifact.Path} (sha256 {model.Artifact.Sha256[..12]}) on {result.Report.Environment.ExecutionProvider}");
                foreach (var clause in model.Clauses)
                {
                    var threshold = clause.Kind == "forget"
                        ? $"upper bound <= {F(clause.MaxAccuracy)}"
                        : string.Join(", ", new[] { clause.MinAccuracy is null ? null : $">= {F(clause.MinAccuracy)}", clause.MaxDrop is null ? null : $"drop <= {F(clause.MaxDrop)}" }.OfType<string>());
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {(clause.Passed ? "PASS" : "FAIL")}  {clause.Policy}: {clause.Kind} {clause.Concept} ({clause.Level}) {clause.Measured.Rate:0.000} [{clause.Measured.CiLow:0.000}, {clause.Measured.CiHigh:0.000}] n={clause.Measured.N}; {threshold}"));
                }
            }

            Console.WriteLine();
            Console.WriteLine($"Verdict: {result.Report.Verdict.ToUpperInvariant()} ({result.Report.Summary.Passed}/{result.Report.Summary.Clauses} clauses hold). Report: {result.ReportPath}");
            return (ExitCode)result.Outcome;
        }

        public static void Print(IEnumerable<Diagnostic> diagnostics)
        {
            foreach (var diagnostic in diagnostics)
            {
                (diagnostic.Severity == DiagnosticSeverity.Error ? Console.Error : Console.Out).WriteLine(diagnostic);
            }
        }

        private static string F(double? value) => value?.ToString(CultureInfo.InvariantCulture) ?? "-";
    }
}
