using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Reporting;

namespace KtuGate.Cli;

/// <summary>Writes <c>check --inputs-file</c>: every file the run read, with its SHA-256, and the settings it ran with.</summary>
/// <remarks>The MSBuild target skips the gate only when every listed file still has its digest, so the list is written whole or not at all.</remarks>
internal static class InputsFile
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Writes the list atomically; a failure is reported as KTU5010 on standard error.</summary>
    /// <returns>Whether the list was written.</returns>
    public static bool TryWrite(string path, GateRequest request, GateResult result)
    {
        var payload = new
        {
            KtuInputs = 1,
            result.Report.Verdict,
            Settings = new
            {
                Mode = request.Mode.ToString().ToLowerInvariant(),
                ExecutionProvider = request.ExecutionProvider.ToString().ToLowerInvariant(),
                request.BatchSize,
                request.ReportDirectory,
                request.OutputDirectory,
                request.BaseDirectory,
                Models = request.Models.Select(m => new { m.Artifact, m.Manifest, m.Baseline }),
                request.Policies,
                request.RemedyMethods,
                request.RemedyScope,
                request.SigningKeySource,
            },
            Files = result.Inputs.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => new { Path = f.Key, Sha256 = f.Value }),
        };
        try
        {
            AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(payload, s_options));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine(DiagnosticCodes.OutputNotWritable.Create(null, "the inputs list", Path.GetFullPath(path), e.Message));
            return false;
        }
    }
}
