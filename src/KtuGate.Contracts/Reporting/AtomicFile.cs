namespace KtuGate.Reporting;

/// <summary>Writes files so that readers see the old content or the new, never a partial file.</summary>
public static class AtomicFile
{
    /// <summary>Writes the bytes to a temporary file beside the target, then renames it over the target.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Writes the bytes only when the file does not already hold exactly them, so its timestamp moves only on change.</summary>
    /// <returns>Whether the file was written.</returns>
    public static bool WriteIfChanged(string path, ReadOnlySpan<byte> bytes)
    {
        if (File.Exists(path) && new FileInfo(path).Length == bytes.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
        {
            return false;
        }

        Write(path, bytes);
        return true;
    }
}
