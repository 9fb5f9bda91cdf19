using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
using KtuGate;
using KtuGate.Cli;
using KtuGate.Probing;
using KtuGate.Unlearning;

var formatOption = new Option<string>("--format") { Description = "text, or json (machine-readable, on standard output).", DefaultValueFactory = _ => "text" };
formatOption.AcceptOnlyFromAmong("text", "json");

var policyOption = new Option<string[]>("--policy", "-p") { Description = "A policy file (repeat for more).", Required = true, Arity = ArgumentArity.OneOrMore };
var modelOption = new Option<string[]>("--model", "-m") { Description = "An ONNX model artifact (repeat for more).", Required = true, Arity = ArgumentArity.OneOrMore };
var manifestOption = new Option<string[]>("--manifest") { Description = "The manifest of the model in the same position; default: MODEL.ktu.json beside it.", Arity = ArgumentArity.ZeroOrMore };
var baselineOption = new Option<string[]>("--baseline") { Description = "A baseline artifact for the model in the same position, for maxDrop thresholds (\"\" for none).", Arity = ArgumentArity.ZeroOrMore };
var reportDirOption = new Option<string>("--report-dir") { Description = "Where ktu-report.json is written.", DefaultValueFactory = _ => "ktu" };
var baseDirOption = new Option<string?>("--base-dir") { Description = "The folder report paths are relative to; default: the current folder." };
var providerOption = new Option<ExecutionProviderPreference>("--execution-provider") { Description = "auto (CUDA when it loads, else CPU), cpu or cuda.", DefaultValueFactory = _ => ExecutionProviderPreference.Auto };
var batchOption = new Option<int>("--batch-size") { Description = "Exemplars per inference call.", DefaultValueFactory = _ => 64 };
var modeOption = new Option<GateMode>("--mode") { Description = "verify (probe and judge) or remediate (also unlearn violated concepts where the policy allows, and judge the edited artifact).", DefaultValueFactory = _ => GateMode.Verify };
var outputDirOption = new Option<string?>("--output-dir") { Description = "Where remediate writes the edited artifact; default: the report folder." };
var methodOption = new Option<string[]>("--method")
{
    Description = "Remediation methods to try, in order, instead of the policies': " + string.Join("; ", UnlearningMethods.All.Select(m => $"{m.Name} ({m.Description})")) + ".",
    Arity = ArgumentArity.ZeroOrMore,
};
methodOption.AcceptOnlyFromAmong([.. UnlearningMethods.Names]);
var scopeOption = new Option<string[]>("--scope")
{
    Description = "What the edit may train, instead of the policies' remedy.scope: last (the last linear layer), all (every float weight; the last layer is tried first), feed-forward (every transformer block's feed-forward projections; feed-forward:K block K's, feed-forward:-1 the last block's), or node names and initializer-name prefixes (repeat, or separate with commas).",
    Arity = ArgumentArity.ZeroOrMore,
};
var signingKeyOption = new Option<string?>("--signing-key") { Description = "A PEM file with an ECDSA P-256 private key: sign the report's in-toto statement (DSSE)." };
var maxMemoryOption = new Option<string?>("--max-memory") { Description = "The most memory a model may declare (one tensor, or its initializers together), e.g. 8G; default: the machine's memory." };
var signingKeyEnvOption = new Option<string?>("--signing-key-env") { Description = "The name of an environment variable holding the PEM private key, instead of a file." };
var inputsFileOption = new Option<string?>("--inputs-file") { Description = "Also write, atomically, every file the run read with its SHA-256 and the settings it ran with (JSON; the MSBuild target's up-to-date check)." };

var check = new Command("check", "Probe models against must-not-know policies and print the verdict; writes ktu-report.json.")
{
    policyOption, modelOption, manifestOption, baselineOption, reportDirOption, baseDirOption, providerOption, batchOption, maxMemoryOption, signingKeyOption, signingKeyEnvOption, modeOption, outputDirOption, formatOption, inputsFileOption,
};
check.SetAction((parse, cancellationToken) => CheckAction(parse, parse.GetValue(modeOption), cancellationToken));

var unlearn = new Command("unlearn", "Remediate: probe, unlearn violated concepts by editing the artifact (the last layer, or the --scope / remedy.scope given), probe the edited artifact and write it; the same as check --mode remediate plus --method and --scope.")
{
    policyOption, modelOption, manifestOption, baselineOption, reportDirOption, baseDirOption, providerOption, batchOption, maxMemoryOption, signingKeyOption, signingKeyEnvOption, outputDirOption, methodOption, scopeOption, formatOption, inputsFileOption,
};
unlearn.SetAction((parse, cancellationToken) => CheckAction(parse, GateMode.Remediate, cancellationToken));

Task<int> CheckAction(ParseResult parse, GateMode mode, CancellationToken cancellationToken)
{
    var models = parse.GetValue(modelOption)!;
    var manifests = parse.GetValue(manifestOption) ?? [];
    var baselines = parse.GetValue(baselineOption) ?? [];
    var inputs = models.Select((m, i) => new GateModelInput(
        m,
        i < manifests.Length && manifests[i].Length > 0 ? manifests[i] : null,
        i < baselines.Length && baselines[i].Length > 0 ? baselines[i] : null)).ToList();
    long? maxMemory = null;
    if (parse.GetValue(maxMemoryOption) is { } maxMemoryText)
    {
        if (!KtuGate.Onnx.ModelLimits.TryParseSize(maxMemoryText, out var bytes))
        {
            Console.Error.WriteLine(KtuGate.Diagnostics.DiagnosticCodes.MemoryLimitInvalid.Create(null, maxMemoryText));
            return Task.FromResult((int)ExitCode.InvalidInput);
        }

        maxMemory = bytes;
    }

    var request = new GateRequest(inputs, parse.GetValue(policyOption)!, parse.GetValue(reportDirOption))
    {
        MaxMemoryBytes = maxMemory,
        ExecutionProvider = parse.GetValue(providerOption),
        BatchSize = Math.Max(1, parse.GetValue(batchOption)),
        BaseDirectory = parse.GetValue(baseDirOption),
        Mode = mode,
        OutputDirectory = parse.GetValue(outputDirOption),
        RemedyMethods = parse.GetValue(methodOption) is { Length: > 0 } methods ? methods : null,
        RemedyScope = parse.GetValue(scopeOption)?.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct().ToArray() is { Length: > 0 } scope ? scope : null,

        // The edited artifact is checked on its own next (ktu check on the output): its manifest goes beside it.
        ManifestBesideOutput = mode == GateMode.Remediate,
    };
    // Ctrl+C (SIGINT) and SIGTERM (what CI runners and container stops send) cancel the run instead of killing the process, so that it stops
    // between batches or training steps, says where, and leaves nothing behind: no staging folder in the output directory, no report.
    using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    void Cancel(PosixSignalContext context)
    {
        context.Cancel = true;
        stop.Cancel();
    }

    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
    return Task.FromResult((int)Verbs.Run(() => Verbs.Check(request, parse.GetValue(signingKeyOption), parse.GetValue(signingKeyEnvOption), parse.GetValue(formatOption) == "json", stop.Token, parse.GetValue(inputsFileOption))));
}

var validatePolicies = new Option<string[]>("--policy", "-p") { Description = "A policy file (repeat for more).", Arity = ArgumentArity.ZeroOrMore };
var validateManifests = new Option<string[]>("--manifest") { Description = "A manifest file (repeat for more).", Arity = ArgumentArity.ZeroOrMore };
var validate = new Command("validate", "Check policies and manifests without running any model.") { validatePolicies, validateManifests, formatOption };
validate.SetAction(parse => (int)Verbs.Run(() => Verbs.Validate(parse.GetValue(validatePolicies) ?? [], parse.GetValue(validateManifests) ?? [], parse.GetValue(formatOption) == "json")));

var initModel = new Argument<string>("model") { Description = "The ONNX model to draft a manifest and a policy for." };
var initLabels = new Option<string?>("--labels") { Description = "Comma-separated label names, in output order; default: label-0, label-1, ..." };
var initPolicyDir = new Option<string>("--policy-dir") { Description = "Where the drafted policy goes.", DefaultValueFactory = _ => "policies" };
var initForce = new Option<bool>("--force") { Description = "Overwrite files that exist." };
var initKind = new Option<string>("--kind") { Description = "The manifest kind to draft: " + string.Join(", ", KtuGate.Kinds.ManifestKinds.Supported.Select(KtuGate.Kinds.ManifestKinds.NameOf)) + " (a CLIP-style image tower).", DefaultValueFactory = _ => "classifier" };
initKind.AcceptOnlyFromAmong([.. KtuGate.Kinds.ManifestKinds.Supported.Select(KtuGate.Kinds.ManifestKinds.NameOf)]);
var initTextTower = new Option<string?>("--text-tower") { Description = "dual-encoder: the text tower's ONNX file (its output is read from it); default: a placeholder to fill in." };
var initVocab = new Option<string?>("--vocab") { Description = "dual-encoder: the text tower's WordPiece vocabulary; default: a placeholder to fill in." };
var init = new Command("init", "Draft a manifest (beside the model) and a policy, reading the model's inputs and outputs from the ONNX file; the JSON Schemas are copied beside the policy.")
{
    initModel, initLabels, initPolicyDir, initForce, initKind, initTextTower, initVocab,
};
init.SetAction(parse => (int)Verbs.Run(() => Verbs.Init(
    parse.GetValue(initModel)!, parse.GetValue(initLabels), parse.GetValue(initPolicyDir)!, parse.GetValue(initForce), parse.GetValue(initKind)!, parse.GetValue(initTextTower), parse.GetValue(initVocab))));

var codeArgument = new Argument<string>("code") { Description = "A diagnostic code, e.g. KTU3001." };
var explain = new Command("explain", "Say what a diagnostic code means and how to fix it.") { codeArgument };
explain.SetAction(parse => (int)Verbs.Explain(parse.GetValue(codeArgument)!));

var verifyReport = new Argument<string>("report") { Description = "The ktu-report.json to check; its statement (and signature) sit beside it." };
var verifyArtifact = new Option<string?>("--artifact") { Description = "The artifact to check in place of the one the report names (e.g. the file about to ship)." };
var verifyBaseDir = new Option<string?>("--base-dir") { Description = "The folder the report's paths are relative to; default: the current folder." };
var verifyPublicKey = new Option<string?>("--public-key") { Description = "A PEM file with the ECDSA P-256 public key to check the signature with." };
var verifyIntegrityOnly = new Option<bool>("--integrity-only") { Description = "Check only that nothing changed since the report was written; exit 0 for an intact report whatever its verdict." };
var verify = new Command("verify", "Check a report against its in-toto statement, its signature and the files it names, and that it passed; say exactly what no longer matches.")
{
    verifyReport, verifyArtifact, verifyBaseDir, verifyPublicKey, verifyIntegrityOnly, formatOption,
};
verify.SetAction(parse => (int)Verbs.Run(() => Verbs.Verify(parse.GetValue(verifyReport)!, parse.GetValue(verifyArtifact), parse.GetValue(verifyBaseDir), parse.GetValue(verifyPublicKey),
    parse.GetValue(verifyIntegrityOnly), parse.GetValue(formatOption) == "json")));

var root = new RootCommand("ktu: prove that a model does not know what it must not know.") { check, validate, init, explain, unlearn, verify };
var parsed = root.Parse(args);
if (parsed.Action is ParseErrorAction showErrors)
{
    // A wrong command line is not a violated policy: print the errors and help as usual, but exit with its own code.
    showErrors.Invoke(parsed);
    return (int)ExitCode.Usage;
}

return await parsed.InvokeAsync();
