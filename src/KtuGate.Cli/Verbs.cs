using System.Globalization;
using System.Text;
using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Reporting;

namespace KtuGate.Cli;

/// <summary>What each <c>ktu</c> verb does, apart from parsing its arguments.</summary>
internal static class Verbs
{
    public static ExitCode Run(Func<ExitCode> action)
    {
        try
        {
            return action();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("Cancelled; nothing was written.");
            return ExitCode.Cancelled;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(DiagnosticCodes.InternalError.Create(null, e.ToString()));
            return ExitCode.InternalError;
        }
    }

    public static ExitCode Check(GateRequest request, string? signingKeyFile, string? signingKeyEnv, bool json, CancellationToken cancellationToken, string? inputsFile = null)
    {
        var outcome = CheckAndReport(request, signingKeyFile, signingKeyEnv, json, cancellationToken, out var result);

        // A run whose inputs list is missing cannot be trusted as up to date later: it fails rather than pass without one.
        return result is not null && inputsFile is not null && !InputsFile.TryWrite(inputsFile, request, result) ? ExitCode.InternalError : outcome;
    }

    private static ExitCode CheckAndReport(GateRequest request, string? signingKeyFile, string? signingKeyEnv, bool json, CancellationToken cancellationToken, out GateResult? result)
    {
        result = null;
        if (signingKeyFile is not null || signingKeyEnv is not null)
        {
            var pem = signingKeyFile is not null ? ReadText(signingKeyFile) : Environment.GetEnvironmentVariable(signingKeyEnv!);
            if (string.IsNullOrWhiteSpace(pem))
            {
                var source = signingKeyFile ?? $"environment variable {signingKeyEnv}";
                Console.Error.WriteLine(DiagnosticCodes.SigningKeyInvalid.Create(null, source, "it is missing or empty"));
                return ExitCode.InvalidInput;
            }

            request = request with { SigningKeyPem = pem, SigningKeySource = signingKeyFile ?? $"environment variable {signingKeyEnv}" };
        }

        result = WithProgress(request, r => Gate.Run(r, cancellationToken));
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
            // Paths, policy ids, concept and node names come from the user's files: each summary line is made inert, as the progress lines are.
            Console.WriteLine(TextSafety.Printable($"{model.Artifact.Path} (sha256 {model.Artifact.Sha256[..12]}) on {result.Report.Environment.ExecutionProvider}"));
            foreach (var clause in model.Clauses)
            {
                Console.WriteLine(TextSafety.Printable(string.Create(CultureInfo.InvariantCulture,
                    $"  {ReportText.Result(clause)}  {clause.Policy}: {ReportText.Clause(clause)} {ReportText.Measured(clause)}; {ReportText.Threshold(clause)}")));
            }

            PrintMetrics(model);
        }

        foreach (var remediation in result.Report.Models.Select(m => m.Remediation).OfType<RemediationReport>())
        {
            Console.WriteLine(TextSafety.Printable(remediation.Output is null
                ? $"  Remediation ({remediation.Method} {remediation.Where()}): {remediation.Tried.Count} settings tried, none met every threshold; nothing written."
                : $"  Remediated ({remediation.Method} {remediation.Where()}, {remediation.Tried[^1].Settings}, after {remediation.Tried.Count} setting(s)): wrote {remediation.Output.Path} (sha256 {remediation.Output.Sha256[..12]})."));
            if (remediation.Output is null)
            {
                // What each setting reached, judged against the original: the numbers a policy author tunes thresholds and methods by.
                foreach (var attempt in remediation.Tried)
                {
                    Console.WriteLine(TextSafety.Printable(
                        $"    {attempt.Method} {attempt.Settings}: {ReportText.QualityUtility(attempt.Quality, attempt.Utility, attempt.QualityUtility)} against the original; {attempt.Violations} threshold(s) missed"
                        + (attempt.Missed.Count > 0 ? $", first {attempt.Missed[0]}" : string.Empty)));
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine(TextSafety.Printable($"Verdict: {result.Report.Verdict.Replace('-', ' ').ToUpperInvariant()} ({result.Report.Summary.Passed}/{result.Report.Summary.Clauses} clauses hold). Report: {result.ReportPath}"));
        return (ExitCode)result.Outcome;
    }

    /// <summary>Each policy's Q, U and Q-U with the thresholds judged on them, and against what.</summary>
    private static void PrintMetrics(ModelReport model)
    {
        var against = model.Remediation?.Output is not null ? "against the original" : model.Baseline is not null ? "against the baseline" : "no baseline to compare with";
        foreach (var m in model.Metrics.Where(m => m.QualityUtility is not null || m.Thresholds is not null))
        {
            var status = m.Thresholds is null ? "-" : m.Status.Replace('-', ' ').ToUpperInvariant();
            Console.WriteLine(TextSafety.Printable(
                $"  {status}  {m.Policy}: {ReportText.QualityUtility(m.Quality, m.Utility, m.QualityUtility)} ({against}); {ReportText.MetricThresholds(m.Thresholds)}"));
        }
    }

    public static ExitCode Verify(string report, string? artifact, string? baseDirectory, string? publicKeyFile, bool integrityOnly, bool json)
    {
        string? publicKey = null;
        if (publicKeyFile is not null && (publicKey = ReadText(publicKeyFile)) is null)
        {
            Console.Error.WriteLine($"Public key '{publicKeyFile}' cannot be read.");
            return ExitCode.InvalidInput;
        }

        var result = Reporting.Provenance.Check(report, baseDirectory ?? Directory.GetCurrentDirectory(), artifact, publicKey, integrityOnly);
        var diagnostics = result.Diagnostics;

        // An intact report exits as its gate run did (fail 1, error 2, insufficient evidence 4), unless only integrity was asked for.
        var exit = diagnostics.Any(d => d.Code == DiagnosticCodes.ReportUnreadable.Code) ? ExitCode.InvalidInput
            : !result.Intact ? ExitCode.Violated
            : integrityOnly ? ExitCode.Pass
            : result.Verdict switch
            {
                "pass" => ExitCode.Pass,
                "insufficient-evidence" => ExitCode.InsufficientEvidence,
                "error" => ExitCode.InvalidInput,
                _ => ExitCode.Violated,
            };
        var verdict = (result.Verdict ?? "unknown").Replace('-', ' ').ToUpperInvariant();
        if (json)
        {
            var payload = new
            {
                verified = exit == ExitCode.Pass,
                intact = result.Intact,
                verdict = result.Verdict,
                diagnostics = diagnostics.Select(d => new { d.Code, Severity = d.Severity.ToString().ToLowerInvariant(), d.Message, d.Location?.File }),
            };
            Console.WriteLine(JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        }
        else
        {
            Print(diagnostics);
            Console.WriteLine(exit == ExitCode.InvalidInput && result.Verdict is null ? "Verification FAILED: the report cannot be read."
                : !result.Intact ? "Verification FAILED: the report no longer matches what it describes."
                : exit == ExitCode.Pass && !integrityOnly ? $"Verified: the report, its statement and every file it names match; verdict {verdict}."
                : integrityOnly ? $"Verified (integrity only): the report, its statement and every file it names match; verdict {verdict}, not judged."
                : $"Intact, but NOT PASSED: the report, its statement and every file it names match, and its verdict is {verdict}.");
        }

        return exit;
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static ExitCode Validate(IReadOnlyList<string> policies, IReadOnlyList<string> manifests, bool json)
    {
        var diagnostics = Gate.Validate(policies, manifests);
        var failed = diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
        if (json)
        {
            var payload = new
            {
                valid = !failed,
                diagnostics = diagnostics.Select(d => new { d.Code, Severity = d.Severity.ToString().ToLowerInvariant(), d.Message, d.Location?.File, d.Location?.Line, d.Location?.Column }),
            };
            Console.WriteLine(JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        }
        else
        {
            Print(diagnostics);
            Console.WriteLine(failed ? "Invalid." : $"Valid: {policies.Count} policies, {manifests.Count} manifests.");
        }

        return failed ? ExitCode.InvalidInput : ExitCode.Pass;
    }

    public static ExitCode Init(string model, string? labels, string policyDir, bool force, string kindName = "classifier", string? textTower = null, string? vocab = null)
    {
        var diagnostics = new DiagnosticBag();
        var names = labels?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var manifestPath = ManifestParser.DefaultPathFor(model);
        var policyPath = Path.Combine(policyDir, Path.GetFileNameWithoutExtension(model) + ".ktu.json");

        // The schemas ship beside ktu; the drafts name copies in the policy folder, so that editors find them in any checkout.
        var schemaDir = Path.Combine(policyDir, "schemas");
        var schemaFiles = new[] { "ktu-manifest.schema.json", "ktu-policy.schema.json" }
            .Select(name => (Shipped: Path.Combine(AppContext.BaseDirectory, "schemas", name), Copy: Path.Combine(schemaDir, name)))
            .ToList();
        if (schemaFiles.FirstOrDefault(f => !File.Exists(f.Shipped)) is { Shipped: not null } missing)
        {
            Console.Error.WriteLine(DiagnosticCodes.SchemaNotShipped.Create(null, missing.Shipped));
            return ExitCode.InvalidInput;
        }

        string RelativeTo(string from, string target) =>
            Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(from))!, Path.GetFullPath(target)).Replace('\\', '/');

        ManifestScaffold.TextTowerDraft? tower = null;
        if (textTower is not null)
        {
            if (ManifestScaffold.TextTowerOutput(textTower, diagnostics) is not { } output)
            {
                Print(diagnostics.Items);
                return ExitCode.InvalidInput;
            }

            tower = new ManifestScaffold.TextTowerDraft(RelativeTo(manifestPath, textTower), vocab is null ? "text-tower/vocab.txt" : RelativeTo(manifestPath, vocab), output);
        }

        var draft = ManifestScaffold.Create(model, kindName, names, tower,
            (RelativeTo(manifestPath, schemaFiles[0].Copy), RelativeTo(policyPath, schemaFiles[1].Copy)), diagnostics);
        Print(diagnostics.Items);
        if (draft is null)
        {
            return ExitCode.InvalidInput;
        }

        var existing = new[] { manifestPath, policyPath }.Where(File.Exists).ToList();
        if (existing.Count > 0 && !force)
        {
            Console.Error.WriteLine($"Not overwriting {string.Join(" and ", existing)}; use --force to replace.");
            return ExitCode.InvalidInput;
        }

        // A schema copy an author changed stays unless --force: it still resolves.
        foreach (var (shipped, copy) in schemaFiles.Where(f => !File.Exists(f.Copy) || force))
        {
            AtomicFile.Write(copy, File.ReadAllBytes(shipped));
        }

        AtomicFile.Write(manifestPath, Encoding.UTF8.GetBytes(draft.Manifest));
        AtomicFile.Write(policyPath, Encoding.UTF8.GetBytes(draft.Policy));
        Console.WriteLine($"Wrote {manifestPath} ({kindName}, {draft.Labels.Count} labels) and {policyPath}, with their schemas in {schemaDir}.");
        Console.WriteLine("Next: check what the manifest's opening comment asks, put exemplars under the policy's exemplars/ folder,");
        Console.WriteLine($"then run: ktu validate -p {policyPath} --manifest {manifestPath}");
        return ExitCode.Pass;
    }

    public static ExitCode Explain(string code)
    {
        if (!DiagnosticCodes.All.TryGetValue(code, out var descriptor))
        {
            // An unknown code is a wrong command line, not an invalid input file: it exits as every other usage error does.
            Console.Error.WriteLine(TextSafety.Printable($"Unknown code '{code}'. Codes: {string.Join(", ", DiagnosticCodes.All.Keys.Order(StringComparer.Ordinal))}"));
            return ExitCode.Usage;
        }

        // The same section as the help page, so the terminal and the page cannot drift apart.
        Console.Write(DiagnosticHelp.Text(descriptor));
        Console.WriteLine();
        Console.WriteLine($"Online: {DiagnosticHelp.Link(descriptor.Code)}");
        return ExitCode.Pass;
    }

    public static void Print(IEnumerable<Diagnostic> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            (diagnostic.Severity == DiagnosticSeverity.Error ? Console.Error : Console.Out).WriteLine(diagnostic);
        }
    }

    /// <summary>Runs the gate with one live progress line on a terminal, or one line per phase and concept in a log; a line says where Ctrl+C stopped it.</summary>
    private static GateResult WithProgress(GateRequest request, Func<GateRequest, GateResult> run)
    {
        // Redrawing a line is for a person watching: with either stream redirected (a log, CI) the plain lines are written instead.
        var live = !Console.IsErrorRedirected && !Console.IsOutputRedirected;
        var display = new ProgressDisplay(Console.Error, live, TerminalWidth);
        try
        {
            var result = run(request with { Progress = new Progress(display.Report) });
            display.Clear();
            return result;
        }
        catch (OperationCanceledException)
        {
            display.Stopped();
            throw;
        }
    }

    /// <summary>One less than the terminal's width (a full line would wrap on some terminals), or 79 where the terminal does not say.</summary>
    private static int TerminalWidth() => Console.WindowWidth is > 20 and var columns ? columns - 1 : 79;

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, so lines come out in order.</summary>
    private sealed class Progress(Action<ProbeProgress> report) : IProgress<ProbeProgress>
    {
        public void Report(ProbeProgress value) => report(value);
    }
}
