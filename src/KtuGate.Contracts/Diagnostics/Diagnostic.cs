using KtuGate.Reporting;

namespace KtuGate.Diagnostics;

/// <summary>How serious a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Informational; never fails a build.</summary>
    Info,

    /// <summary>Worth attention; fails a build only where warnings are errors.</summary>
    Warning,

    /// <summary>Fails the gate.</summary>
    Error,
}

/// <summary>A position in a text file, 1-based.</summary>
/// <param name="File">The file's path as the user gave it (or relative to the working folder).</param>
/// <param name="Line">1-based line, or 0 when unknown.</param>
/// <param name="Column">1-based column in characters, or 0 when unknown.</param>
public sealed record SourceLocation(string File, int Line = 0, int Column = 0)
{
    /// <inheritdoc />
    /// <remarks>A file name is untrusted text too (it may hold line breaks or terminal escapes), so it is made printable here.</remarks>
    public override string ToString() => Line > 0 ? $"{TextSafety.Printable(File)}({Line},{Column})" : TextSafety.Printable(File);
}

/// <summary>One message for the user, with a stable code and, where known, the place it is about.</summary>
/// <param name="Code">The stable code, <c>KTUnnnn</c>.</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="Message">The message, formatted; control, bidirectional and invisible characters in it are shown as visible escapes.</param>
/// <param name="Location">Where it points, or null.</param>
public sealed record Diagnostic(string Code, DiagnosticSeverity Severity, string Message, SourceLocation? Location)
{
    // Messages quote policy strings, file names and exception text; sanitised once here, every front end and report gets safe text.
    private readonly string _message = TextSafety.Printable(Message);

    /// <summary>The message, safe to print on a terminal, in a log line or in any report (see <see cref="TextSafety.Printable"/>).</summary>
    public string Message
    {
        get => _message;
        init => _message = TextSafety.Printable(value);
    }

    /// <summary>Formats the diagnostic the way MSBuild and compilers print one.</summary>
    public override string ToString()
    {
        var severity = Severity switch
        {
            DiagnosticSeverity.Error => "error",
            DiagnosticSeverity.Warning => "warning",
            _ => "info",
        };
        return Location is null ? $"{severity} {Code}: {Message}" : $"{Location}: {severity} {Code}: {Message}";
    }
}

/// <summary>Collects diagnostics in the order they were found.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];

    /// <summary>The diagnostics so far.</summary>
    public IReadOnlyList<Diagnostic> Items => _items;

    /// <summary>Whether any error was reported.</summary>
    public bool HasErrors => _items.Any(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>Adds a diagnostic made from a descriptor.</summary>
    public void Add(DiagnosticDescriptor descriptor, SourceLocation? location, params object?[] args)
        => _items.Add(descriptor.Create(location, args));

    /// <summary>Adds a diagnostic.</summary>
    public void Add(Diagnostic diagnostic) => _items.Add(diagnostic);

    /// <summary>Adds many diagnostics.</summary>
    public void AddRange(IEnumerable<Diagnostic> diagnostics) => _items.AddRange(diagnostics);
}
