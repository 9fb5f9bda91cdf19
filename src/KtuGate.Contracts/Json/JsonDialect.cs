using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>Which diagnostics a file format reports for an unreadable file, bad JSON, bad text, duplicate properties, and unknown, missing, invalid and out-of-range values.</summary>
public sealed record JsonDialect(
    string FileKind,
    DiagnosticDescriptor Unreadable,
    DiagnosticDescriptor Syntax,
    DiagnosticDescriptor UnknownProperty,
    DiagnosticDescriptor MissingProperty,
    DiagnosticDescriptor InvalidValue,
    DiagnosticDescriptor OutOfRange,
    DiagnosticDescriptor DuplicateProperty,
    DiagnosticDescriptor InvalidText)
{
    /// <summary>The policy format's diagnostics (KTU1xxx).</summary>
    public static JsonDialect Policy { get; } = new(
        "policy", DiagnosticCodes.PolicyUnreadable, DiagnosticCodes.PolicyJsonInvalid,
        DiagnosticCodes.PolicyUnknownProperty, DiagnosticCodes.PolicyMissingProperty,
        DiagnosticCodes.PolicyInvalidValue, DiagnosticCodes.PolicyThresholdOutOfRange,
        DiagnosticCodes.PolicyDuplicateProperty, DiagnosticCodes.PolicyInvalidText);

    /// <summary>The manifest format's diagnostics (KTU2xxx).</summary>
    public static JsonDialect Manifest { get; } = new(
        "manifest", DiagnosticCodes.ManifestUnreadable, DiagnosticCodes.ManifestJsonInvalid,
        DiagnosticCodes.ManifestUnknownProperty, DiagnosticCodes.ManifestMissingProperty,
        DiagnosticCodes.ManifestInvalidValue, DiagnosticCodes.ManifestValueOutOfRange,
        DiagnosticCodes.ManifestDuplicateProperty, DiagnosticCodes.ManifestInvalidText);

    /// <summary>The largest policy or manifest file read: 16 MiB. Real ones are a few kilobytes; the bound keeps a wrong path (a model, a device such as /dev/zero) from exhausting memory.</summary>
    public const int MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>Reads a file of this format and checks that it holds one JSON object; every problem goes to <paramref name="diagnostics"/>.</summary>
    /// <param name="path">The file, as the user named it (locations use this spelling).</param>
    /// <param name="utf8">The file's bytes when already read; null to read <paramref name="path"/>.</param>
    /// <param name="diagnostics">Where problems go.</param>
    /// <param name="read">Turns the object into the format's record; returns null or reports errors when it cannot.</param>
    /// <returns>The record, or null when the file has errors.</returns>
    public T? Load<T>(string path, byte[]? utf8, DiagnosticBag diagnostics, Func<JsonTreeObject, DiagnosticBag, T?> read)
        where T : class
    {
        if (utf8 is null)
        {
            try
            {
                utf8 = ReadBounded(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(Unreadable, new SourceLocation(path), e.Message);
                return null;
            }

            if (utf8 is null)
            {
                diagnostics.Add(Unreadable, new SourceLocation(path),
                    $"it is larger than {MaxFileBytes / (1024 * 1024)} MiB (a {FileKind} is a few kilobytes; is this the right file?)");
                return null;
            }
        }

        var root = JsonTreeReader.Parse(utf8, path, out var readErrors);
        foreach (var error in readErrors)
        {
            var descriptor = error.Kind switch
            {
                JsonReadErrorKind.DuplicateProperty => DuplicateProperty,
                JsonReadErrorKind.InvalidText => InvalidText,
                _ => Syntax,
            };
            diagnostics.Add(descriptor, error.Location, error.Message);
        }

        if (root is null)
        {
            return null;
        }

        if (root is not JsonTreeObject rootObject)
        {
            diagnostics.Add(InvalidValue, root.Location, FileKind, "an object", root.KindName);
            return null;
        }

        // Collect this file's diagnostics apart, so that an error in it, and only in it, makes the result null.
        // A file with duplicate properties or invalid text is still read (the first of each name kept, bad text
        // replaced), so that all its errors show in one run; those errors keep the result null.
        var local = new DiagnosticBag();
        var result = read(rootObject, local);
        diagnostics.AddRange(local.Items);
        return local.HasErrors || readErrors.Count > 0 ? null : result;
    }

    /// <summary>The file's bytes, or null when it holds more than <see cref="MaxFileBytes"/>; reads no further than that, whatever the file claims its length is.</summary>
    private static byte[]? ReadBounded(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (buffer.Length + read > MaxFileBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
