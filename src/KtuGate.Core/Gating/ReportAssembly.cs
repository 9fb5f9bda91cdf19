using System.Globalization;
using System.Runtime.InteropServices;
using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Verdicts;

namespace KtuGate;

/// <summary>Turns what a run measured and judged into the report's records: rates, clauses, diagnostics, policies, the inputs read.</summary>
internal static class ReportAssembly
{
    /// <summary>
    /// Every file whose bytes can change the verdict: what the run digested, and, so that none is missed where a stage does not digest
    /// what it reads, every policy, artifact, manifest, baseline, exemplar, general probe file, text tower file and external-data file.
    /// </summary>
    internal static Dictionary<string, string> InputsRead(
        GateRequest request, IReadOnlyList<Policy?> policies, IReadOnlyList<(GateModelInput Input, string ManifestPath)> inputs,
        IReadOnlyList<ModelManifest?> manifests, DigestCache digests, DiagnosticBag diagnostics)
    {
        var files = new List<string>(request.Policies);
        foreach (var policy in policies.OfType<Policy>())
        {
            files.AddRange(policy.Concepts.SelectMany(c => c.Files));
            files.AddRange(policy.GeneralFiles);
        }

        foreach (var (input, manifestPath) in inputs)
        {
            files.Add(manifestPath);
            foreach (var artifact in new[] { input.Artifact, input.Baseline }.OfType<string>())
            {
                files.Add(artifact);
                var folder = Path.GetDirectoryName(Path.GetFullPath(artifact))!;
                if (File.Exists(artifact) && OnnxGraph.Load(artifact, new DiagnosticBag()) is { } model)
                {
                    files.AddRange(OnnxGraph.ExternalFiles(model).Select(f => Path.Combine(folder, f)));
                }
            }
        }

        files.AddRange(manifests.OfType<ModelManifest>().SelectMany(m => m.Section.InputFiles));

        foreach (var file in files.Where(File.Exists))
        {
            try
            {
                digests.OfFile(file);
            }
            catch (UnreadableFileException e)
            {
                // A file no stage read (an exemplar of a concept no clause names) still may not make the list incomplete unnoticed.
                if (!diagnostics.Items.Any(d => d.Code == DiagnosticCodes.InputUnreadable.Code && d.Location?.File == e.FilePath))
                {
                    diagnostics.Add(DiagnosticCodes.InputUnreadable, new SourceLocation(e.FilePath), e.FilePath, e.Problem);
                }
            }
        }

        return new Dictionary<string, string>(digests.Known, StringComparer.Ordinal);
    }

    internal static System.Security.Cryptography.ECDsa? ReadSigningKey(GateRequest request, DiagnosticBag diagnostics)
    {
        if (request.SigningKeyPem is null)
        {
            return null;
        }

        var key = Provenance.ReadSigningKey(request.SigningKeyPem, out var problem);
        if (key is null)
        {
            diagnostics.Add(DiagnosticCodes.SigningKeyInvalid, null, request.SigningKeySource ?? "(given)", problem);
        }

        return key;
    }

    internal static RateInfo? Rate(Proportion? p)
        => p is null ? null : new RateInfo(Round(p.Rate), p.Successes, p.N, Round(p.Low), Round(p.High));

    internal static double Round(double value) => Math.Round(value, 6, MidpointRounding.ToEven);

    internal static ClauseReport ToReport(ClauseVerdict v, string baseDirectory) => new(
        v.Policy, v.Kind, v.Concept, ClauseJudge.LevelName(v.Level), v.Passed, Rate(v.Measured)!, Rate(v.Baseline),
        v.MaxAccuracy, v.MinAccuracy, v.MaxDrop,
        new ReportLocation(Digests.Relative(baseDirectory, v.Location.File), v.Location.Line, v.Location.Column),
        v.Diagnostics.Select(d => d.Code).ToList())
    {
        Status = ClauseStatuses.Name(v.Status),
        DropFrom = v.DropFrom?.Name,
        Drop = v.DropFrom is { } from ? Thresholds.Recorded(from.Rate.Rate - v.Measured.Rate, v.MaxDrop) : null,
    };

    internal static ReportDiagnostic ToReport(Diagnostic d, string baseDirectory) => new(
        d.Code, d.Severity.ToString().ToLowerInvariant(), d.Message,
        d.Location is null ? null : Digests.Relative(baseDirectory, d.Location.File), d.Location?.Line ?? 0, d.Location?.Column ?? 0);

    internal static PolicyInfo PolicyInfoOf(Policy p, string baseDirectory)
        => new(p.Id, p.Title, p.Request?.RequestedBy, p.Request?.Reason, p.Request?.Reference, FileDigests.Of(baseDirectory, p.Path)!, p.Remedy.Allowed);

    internal static string Timestamp(DateTimeOffset? requested)
    {
        var time = requested
            ?? (long.TryParse(Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
                ? DateTimeOffset.FromUnixTimeSeconds(epoch)
                : DateTimeOffset.UtcNow);
        return time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
    }

    /// <summary>The report of a run that ended with <paramref name="outcome"/>.</summary>
    internal static GateReport Assemble(ReportParts parts, GateOutcome outcome)
    {
        var (request, baseDirectory, provider, policies, modelReports, verdicts, diagnostics) = parts;
        return new GateReport(
            GateReport.CurrentSchemaVersion,
            new ToolInfo("KtuGate", Gate.ToolVersion),
            Timestamp(request.Timestamp),
            Gate.VerdictOf(outcome),
            request.Mode == GateMode.Remediate ? "remediate" : "verify",
            new EnvironmentInfo(SessionFactory.OnnxRuntimeVersion, provider, RuntimeInformation.FrameworkDescription,
                $"{RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}".Trim()),
            new OptionsInfo(request.ExecutionProvider.ToString().ToLowerInvariant(), request.BatchSize, null),
            policies.Where(p => p is not null).Select(p => PolicyInfoOf(p!, baseDirectory)).ToList(),
            modelReports,
            new SummaryInfo(verdicts.Count, verdicts.Count(v => v.Passed), verdicts.Count(v => !v.Passed),
                diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Error),
                diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Warning)),
            diagnostics.Items.Select(d => ToReport(d, baseDirectory)).ToList());
    }
}

/// <summary>What a run's report is made of.</summary>
/// <param name="Request">The request.</param>
/// <param name="BaseDirectory">The folder report paths are relative to.</param>
/// <param name="Provider">The execution provider that ran the models (null when none ran).</param>
/// <param name="Policies">The policies as read (null where one could not be).</param>
/// <param name="Models">Each model's report.</param>
/// <param name="Verdicts">Every clause's verdict.</param>
/// <param name="Diagnostics">Every diagnostic so far (writing the report may add one).</param>
internal sealed record ReportParts(
    GateRequest Request, string BaseDirectory, string? Provider, IReadOnlyList<Policy?> Policies, IReadOnlyList<ModelReport> Models,
    IReadOnlyList<ClauseVerdict> Verdicts, DiagnosticBag Diagnostics);
