using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using KtuGate.Diagnostics;
using KtuGate.Reporting;

namespace KtuGate.Tasks;

/// <summary>What the engine's child process left: the report it printed or wrote, whether an exit code of 0 is a pass, and its coded lines on standard error.</summary>
internal static partial class EngineReport
{
    /// <summary>
    /// Why an exit code of 0 does not make this run a pass, or null when it does: the verdict is pass, the report file is there with the
    /// same verdict, and the report covers every model item (as its artifact or as the original a remediation replaced).
    /// </summary>
    /// <param name="printed">The report the engine printed.</param>
    /// <param name="reportFile">Where it was to write the report.</param>
    /// <param name="models">The model items' full paths.</param>
    /// <param name="full">A path as the engine sees it.</param>
    internal static string? WhyNotAPass(GateReport printed, string? reportFile, IEnumerable<string> models, Func<string, string> full)
    {
        if (printed.Verdict != "pass")
        {
            return $"its verdict is '{printed.Verdict}'";
        }

        if (reportFile is null || !File.Exists(reportFile))
        {
            return $"it wrote no report to '{reportFile}'";
        }

        try
        {
            if (ReportJson.Deserialize(File.ReadAllBytes(reportFile)).Verdict != "pass")
            {
                return $"the report it wrote to '{reportFile}' is not the pass it printed";
            }
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return $"the report it wrote to '{reportFile}' cannot be read: {e.Message}";
        }

        var covered = printed.Models
            .SelectMany(m => new[] { m.Artifact.Path, m.Remediation?.Original.Path })
            .OfType<string>()
            .Select(full)
            .ToHashSet(StringComparer.Ordinal);
        return models.FirstOrDefault(m => !covered.Contains(m)) is { } missing
            ? $"its report does not cover the model '{missing}'"
            : null;
    }

    /// <summary>The report this run printed on standard output, or else the one it wrote.</summary>
    /// <param name="printed">What the engine printed on standard output.</param>
    /// <param name="reportFile">Where it was to write the report.</param>
    /// <param name="unreadable">Why the written report could not be read, or null.</param>
    internal static GateReport? Read(string printed, string? reportFile, out string? unreadable)
    {
        unreadable = null;
        if (printed.TrimStart().StartsWith('{'))
        {
            try
            {
                return ReportJson.Deserialize(Encoding.UTF8.GetBytes(printed));
            }
            catch (JsonException)
            {
                // Fall back to the file the engine wrote.
            }
        }

        if (reportFile is null || !File.Exists(reportFile))
        {
            return null;
        }

        try
        {
            return ReportJson.Deserialize(File.ReadAllBytes(reportFile));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            unreadable = $"unreadable report: {e.Message}";
            return null;
        }
    }

    /// <summary>A line the engine wrote on standard error with a code (a key it could not read, an inputs list it could not write, an internal error), as a diagnostic; null for any other line.</summary>
    internal static Diagnostic? Coded(string line)
    {
        if (EngineDiagnostic().Match(line) is not { Success: true } m)
        {
            return null;
        }

        var severity = m.Groups["severity"].Value switch { "error" => DiagnosticSeverity.Error, "warning" => DiagnosticSeverity.Warning, _ => DiagnosticSeverity.Info };
        var location = m.Groups["file"].Success
            ? new SourceLocation(m.Groups["file"].Value, m.Groups["line"].Success ? int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture) : 0,
                m.Groups["column"].Success ? int.Parse(m.Groups["column"].Value, CultureInfo.InvariantCulture) : 0)
            : null;
        return new Diagnostic(m.Groups["code"].Value, severity, m.Groups["message"].Value, location);
    }

    [GeneratedRegex(@"^(?:(?<file>.+?)(?:\((?<line>\d+),(?<column>\d+)\))?: )?(?<severity>error|warning|info) (?<code>KTU\d{4}): (?<message>.*)$")]
    private static partial Regex EngineDiagnostic();
}
