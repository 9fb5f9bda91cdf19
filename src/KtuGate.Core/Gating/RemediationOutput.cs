using System.Globalization;
using KtuGate.Reporting;

namespace KtuGate;

/// <summary>Where remediation writes: a staging folder per run, published by renames, and what killed runs left behind.</summary>
internal static class RemediationOutput
{
    /// <summary>The prefix of remediation's staging folders in the output folder, followed by the process id and a unique suffix.</summary>
    internal const string StagingPrefix = ".ktu-candidate.";

    /// <summary>What a remediation run may leave in its output folder if its process is killed: its staging folder, an older version's candidate, an atomic write's temporary file.</summary>
    internal static readonly System.Text.RegularExpressions.Regex s_leftover = new(
        @"^\.(?:ktu-candidate\.(?<pid>\d+)\.[0-9a-f]{32}|.+\.(?<pid>\d+)\.candidate\.onnx|.+\.(?<pid>\d+)\.[0-9a-f]{32}\.tmp)$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Moves the chosen artifact's external-data files from the staging folder into the output folder, each renamed whole, then writes
    /// the artifact atomically, last, so that no artifact appears without its data. On failure, files this run put there are removed.
    /// </summary>
    /// <returns>Null when written, or why it could not be.</returns>
    internal static string? Publish(string staging, IReadOnlyList<string> externals, string outputPath, byte[] bytes)
    {
        var outputDirectory = Path.GetDirectoryName(outputPath)!;
        var added = new List<string>();
        try
        {
            foreach (var external in externals)
            {
                var target = Path.Combine(outputDirectory, external);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var existed = File.Exists(target);
                File.Move(Path.Combine(staging, external), target, overwrite: true);
                if (!existed)
                {
                    added.Add(target);
                }
            }

            AtomicFile.Write(outputPath, bytes);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            foreach (var file in added)
            {
                File.Delete(file);
            }

            return e.Message;
        }
    }

    /// <summary>Removes what remediation runs of processes that no longer exist left in <paramref name="outputDirectory"/> (a run killed mid-way).</summary>
    internal static void RemoveLeftovers(string? outputDirectory)
    {
        if (outputDirectory is null || !Directory.Exists(outputDirectory))
        {
            return;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(outputDirectory, ".*"))
        {
            var match = s_leftover.Match(Path.GetFileName(entry));
            if (!match.Success || !int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            try
            {
                // A link is removed itself, never what it points to.
                if (new FileInfo(entry).LinkTarget is null && Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another run may be removing it too; what is left is found again next time.
            }
        }
    }

    internal static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
