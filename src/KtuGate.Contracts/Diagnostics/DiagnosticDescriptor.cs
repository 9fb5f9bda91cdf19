using System.Globalization;

namespace KtuGate.Diagnostics;

/// <summary>What a diagnostic is about; it decides how an error ends a gate run (see <c>GateOutcome</c>).</summary>
public enum DiagnosticCategory
{
    /// <summary>A policy file is wrong: the run has invalid input.</summary>
    Policy,

    /// <summary>A model, its manifest, baseline or exemplars are wrong: invalid input.</summary>
    Model,

    /// <summary>The model was judged and misses a threshold: a violation.</summary>
    Verdict,

    /// <summary>A threshold could not be decided, for too few exemplars or a missing baseline: insufficient evidence (never a pass).</summary>
    Evidence,

    /// <summary>Remediation could not be set up (its inputs or settings): invalid input.</summary>
    Unlearning,

    /// <summary>The machine, the settings or the engine: invalid input.</summary>
    Environment,

    /// <summary>Checking a report against what it names (<c>ktu verify</c>).</summary>
    Provenance,

    /// <summary>A bug in KtuGate.</summary>
    Internal,
}

/// <summary>The definition of one diagnostic code: its title, message format and help text.</summary>
/// <param name="Code">The stable code, <c>KTUnnnn</c>.</param>
/// <param name="Severity">The default severity.</param>
/// <param name="Title">A short title.</param>
/// <param name="MessageFormat">A composite format string for the message.</param>
/// <param name="Help">What it means and how to fix it.</param>
public sealed record DiagnosticDescriptor(string Code, DiagnosticSeverity Severity, string Title, string MessageFormat, string Help)
{
    /// <summary>What the diagnostic is about; by default the category its code's range documents, set explicitly where the meaning differs (KTU4001 is a verdict).</summary>
    public DiagnosticCategory Category { get; init; } = RangeCategory(Code);

    /// <summary>Makes a diagnostic with this code.</summary>
    public Diagnostic Create(SourceLocation? location, params object?[] args)
        => new(Code, Severity, string.Format(CultureInfo.InvariantCulture, MessageFormat, args), location);

    // The README's ranges: 1xxx policy, 2xxx model, 3xxx verdict, 4xxx unlearning, 5xxx environment, 6xxx provenance, 9xxx internal.
    private static DiagnosticCategory RangeCategory(string code) => code.Length == 7 ? code[3] switch
    {
        '1' => DiagnosticCategory.Policy,
        '2' => DiagnosticCategory.Model,
        '3' => DiagnosticCategory.Verdict,
        '4' => DiagnosticCategory.Unlearning,
        '5' => DiagnosticCategory.Environment,
        '6' => DiagnosticCategory.Provenance,
        _ => DiagnosticCategory.Internal,
    }
    : DiagnosticCategory.Internal;
}
