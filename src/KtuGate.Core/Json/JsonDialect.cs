using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>Which diagnostics a file format reports for unknown, missing, invalid and out-of-range values.</summary>
public sealed record JsonDialect(
    DiagnosticDescriptor UnknownProperty,
    DiagnosticDescriptor MissingProperty,
    DiagnosticDescriptor InvalidValue,
    DiagnosticDescriptor OutOfRange)
{
    /// <summary>The policy format's diagnostics (KTU1xxx).</summary>
    public static JsonDialect Policy { get; } = new(
        DiagnosticCodes.PolicyUnknownProperty, DiagnosticCodes.PolicyMissingProperty,
        DiagnosticCodes.PolicyInvalidValue, DiagnosticCodes.PolicyThresholdOutOfRange);

    /// <summary>The manifest format's diagnostics (KTU2xxx).</summary>
    public static JsonDialect Manifest { get; } = new(
        DiagnosticCodes.ManifestUnknownProperty, DiagnosticCodes.ManifestMissingProperty,
        DiagnosticCodes.ManifestInvalidValue, DiagnosticCodes.ManifestValueOutOfRange);
}
