using KtuGate.Diagnostics;
using KtuGate.Reporting;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Logs KtuGate diagnostics to MSBuild with their code, file, line and column.</summary>
/// <remarks>
/// Messages and paths carry text from policies and models: control characters (ESC, BEL, NUL, CR, LF) and lone surrogates are made
/// inert, so that a policy cannot forge log lines, rewrite a terminal or break a CI annotation.
/// </remarks>
internal static class KtuLog
{
    /// <summary>Logs one diagnostic as an MSBuild error, warning or message.</summary>
    public static void Diagnostic(TaskLoggingHelper log, Diagnostic d)
    {
        var file = d.Location?.File is { } path ? TextSafety.Printable(path) : null;
        var line = d.Location?.Line ?? 0;
        var column = d.Location?.Column ?? 0;
        var message = TextSafety.Printable(d.Message);
        switch (d.Severity)
        {
            case DiagnosticSeverity.Error:
                log.LogError(null, d.Code, d.Code, file, line, column, 0, 0, "{0}", message);
                break;
            case DiagnosticSeverity.Warning:
                log.LogWarning(null, d.Code, d.Code, file, line, column, 0, 0, "{0}", message);
                break;
            default:
                log.LogMessage(null, d.Code, d.Code, file, line, column, 0, 0, MessageImportance.Normal, "{0}", message);
                break;
        }
    }

    /// <summary>Logs a plain message, with its arguments made inert.</summary>
    public static void Message(TaskLoggingHelper log, MessageImportance importance, string format, params object?[] args)
        => log.LogMessage(importance, format, args.Select(a => (object)TextSafety.Printable(a?.ToString())).ToArray());
}
