using KtuGate.Diagnostics;
using KtuGate.Reporting;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Logs KtuGate diagnostics to MSBuild with their code, file, line and column.</summary>
/// <remarks>
/// Messages, codes and paths carry text from policies, models and file names: control characters (ESC, BEL, NUL, CR, LF) and lone
/// surrogates are made inert, so that a policy or a file's name cannot forge log lines, rewrite a terminal or break a CI annotation.
/// Every string the tasks hand to MSBuild's logging goes through here or through <see cref="TextSafety.Printable"/>.
/// </remarks>
internal static class KtuLog
{
    /// <summary>Logs one diagnostic as an MSBuild error, warning or message.</summary>
    public static void Diagnostic(TaskLoggingHelper log, Diagnostic d)
    {
        // Every string MSBuild prints or turns into a CI annotation is made inert: the code and help keyword come from the engine's report too.
        var file = d.Location?.File is { } path ? TextSafety.Printable(path) : null;
        var line = d.Location?.Line ?? 0;
        var column = d.Location?.Column ?? 0;
        var code = TextSafety.Printable(d.Code);
        var message = TextSafety.Printable(d.Message);

        // The help keyword is the code (what IDEs search for); the link opens the code's section of the help page.
        var helpLink = DiagnosticCodes.All.ContainsKey(d.Code) ? DiagnosticHelp.Link(d.Code).AbsoluteUri : null;
        switch (d.Severity)
        {
            case DiagnosticSeverity.Error:
                log.LogError(null, code, code, helpLink, file, line, column, 0, 0, "{0}", message);
                break;
            case DiagnosticSeverity.Warning:
                log.LogWarning(null, code, code, helpLink, file, line, column, 0, 0, "{0}", message);
                break;
            default:
                log.LogMessage(null, code, code, file, line, column, 0, 0, MessageImportance.Normal, "{0}", message);
                break;
        }
    }

    /// <summary>Logs a plain message, with its arguments made inert.</summary>
    public static void Message(TaskLoggingHelper log, MessageImportance importance, string format, params object?[] args)
        => log.LogMessage(importance, format, args.Select(a => (object)TextSafety.Printable(a?.ToString())).ToArray());
}
