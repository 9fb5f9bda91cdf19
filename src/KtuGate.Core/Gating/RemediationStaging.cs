using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;

namespace KtuGate;

/// <summary>
/// A remediation's folders: the staging folder inside the output folder (candidates, the external data they refer to, the manifest copy),
/// created before the search and removed on every way out, and the output folders the run created, removed again where nothing was published.
/// </summary>
internal sealed class RemediationStaging(RemediationRun.Context c)
{
    /// <summary>
    /// Where the request asks for it (<c>ktu unlearn</c>), the model's manifest for a copy beside the edited artifact, so that the
    /// output can be checked on its own; null bytes where the manifest already lies there. A conflict (KTU5050) where that path is
    /// another input of the run, which is never overwritten.
    /// </summary>
    internal (byte[]? Bytes, bool Conflict)? ManifestCopy(string outputPath)
    {
        if (!c.Request.ManifestBesideOutput)
        {
            return null;
        }

        var target = Path.GetFullPath(ManifestParser.DefaultPathFor(outputPath));
        var source = Path.GetFullPath(c.Input.Manifest ?? ManifestParser.DefaultPathFor(c.Input.Artifact));
        if (string.Equals(target, source, StringComparison.Ordinal))
        {
            return (null, false);
        }

        var inputs = c.Request.Models.SelectMany(m => new[] { m.Artifact, m.Manifest ?? ManifestParser.DefaultPathFor(m.Artifact), m.Baseline })
            .Concat(c.Request.Policies).OfType<string>().Select(Path.GetFullPath);
        if (inputs.Contains(target, StringComparer.Ordinal))
        {
            c.Diagnostics.Add(DiagnosticCodes.ManifestCopyOverwritesInput, new SourceLocation(target), target, c.Input.Artifact);
            return (null, true);
        }

        return (ManifestParser.Relocated(File.ReadAllBytes(source), Path.GetDirectoryName(source)!, Path.GetDirectoryName(target)!), false);
    }

    /// <summary>Writes the manifest copy into the staging folder, to be published with the external data, before the artifact; returns the files to publish.</summary>
    internal static List<string> StageManifest(string staging, IReadOnlyList<string> externals, string outputPath, byte[] manifest)
    {
        var name = Path.GetFileName(ManifestParser.DefaultPathFor(outputPath));
        File.WriteAllBytes(Path.Combine(staging, name), manifest);
        return [.. externals, name];
    }

    /// <summary>The folders from <paramref name="folder"/> up that do not exist yet, deepest first.</summary>
    internal static List<string> Missing(string folder)
    {
        var missing = new List<string>();
        for (var dir = Path.GetFullPath(folder); !string.IsNullOrEmpty(dir) && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            missing.Add(dir);
        }

        return missing;
    }

    /// <summary>Removes the folders this run created where they are still empty (nothing was published into them), deepest first.</summary>
    internal static void RemoveEmpty(List<string> created)
    {
        foreach (var dir in created)
        {
            try
            {
                if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another process put something there meanwhile; what it put there is not this run's to remove.
            }
        }
    }

    /// <summary>Creates the staging folder and copies the artifact's external-data files into it; false, with a coded error, when it cannot.</summary>
    internal bool Stage(string staging, IReadOnlyList<string> externals, string outputPath)
    {
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var external in externals)
            {
                // Tensors kept in external files stay there: the edited copy refers to the same files, copied (under the reader's rules) beside it.
                ExternalData.CopyFile(c.Input.Artifact, external, Path.Combine(staging, external));
            }

            return true;
        }
        catch (ExternalDataException e)
        {
            c.Diagnostics.Add(e.Diagnostic);
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            c.Diagnostics.Add(DiagnosticCodes.RemediationWriteFailed, new SourceLocation(c.Input.Artifact), outputPath, e.Message);
            return false;
        }
    }

    /// <summary>Removes the staging folder; candidates were read to judge them, but they are not inputs of the run.</summary>
    internal void RemoveStaging(string staging)
    {
        c.Options.Digests?.ForgetUnder(staging);
        try
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Never hide why the run ended; a later remediation removes the folder once this process is gone.
        }
    }
}
