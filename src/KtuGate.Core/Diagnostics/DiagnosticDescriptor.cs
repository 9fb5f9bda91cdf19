using System.Globalization;

namespace KtuGate.Diagnostics;

/// <summary>The definition of one diagnostic code: its title, message format and help text.</summary>
/// <param name="Code">The stable code, <c>KTUnnnn</c>.</param>
/// <param name="Severity">The default severity.</param>
/// <param name="Title">A short title.</param>
/// <param name="MessageFormat">A composite format string for the message.</param>
/// <param name="Help">What it means and how to fix it.</param>
public sealed record DiagnosticDescriptor(string Code, DiagnosticSeverity Severity, string Title, string MessageFormat, string Help)
{
    /// <summary>Makes a diagnostic with this code.</summary>
    public Diagnostic Create(SourceLocation? location, params object?[] args)
        => new(Code, Severity, string.Format(CultureInfo.InvariantCulture, MessageFormat, args), location);
}
