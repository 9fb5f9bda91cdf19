using KtuGate.Diagnostics;
using KtuGate.Onnx;

namespace KtuGate.Reporting;

/// <summary>The digests a report records of the files a run read: by path relative to the base folder, each read once per run.</summary>
internal static class FileDigests
{
    /// <summary>The digest of <paramref name="path"/>, or null when it does not exist.</summary>
    public static FileDigest? Of(string baseDirectory, string path, DigestCache? cache = null)
        => File.Exists(path) ? new FileDigest(Digests.Relative(baseDirectory, path), cache?.OfFile(path) ?? Digests.OfFile(path)) : null;

    /// <summary>The digests of a model's external-data files (relative to <paramref name="modelPath"/>'s folder), each read under the external-data rules.</summary>
    public static IReadOnlyList<FileDigest>? External(string baseDirectory, string modelPath, IReadOnlyList<string> locations, DigestCache? cache, DiagnosticBag diagnostics)
    {
        if (locations.Count == 0)
        {
            return null;
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        var digests = new List<FileDigest>();
        foreach (var location in locations)
        {
            var file = Path.Combine(folder, location);
            try
            {
                digests.Add(new FileDigest(Digests.Relative(baseDirectory, file), (cache ?? new DigestCache()).OfFile(file, () => ExternalData.OpenFile(modelPath, location))));
            }
            catch (ExternalDataException e)
            {
                diagnostics.Add(e.Diagnostic);
            }
        }

        return digests;
    }
}
