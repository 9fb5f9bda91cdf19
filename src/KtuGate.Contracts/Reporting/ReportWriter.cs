using System.Security.Cryptography;

namespace KtuGate.Reporting;

/// <summary>Writes every rendering of a report, its in-toto statement and, with a key, its signature, each atomically.</summary>
public static class ReportWriter
{
    /// <summary>Writes the report files into <paramref name="directory"/>.</summary>
    /// <param name="report">The report.</param>
    /// <param name="directory">The report folder.</param>
    /// <param name="baseDirectory">The folder report paths are relative to (to read exemplar thumbnails).</param>
    /// <param name="signingKey">An ECDSA P-256 key to sign the statement with, or null.</param>
    /// <returns>The files written, with their digests, the JSON report first.</returns>
    /// <exception cref="IOException">A file could not be written (a full disk); no report file is then left in <paramref name="directory"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder cannot be written; no report file is then left in it.</exception>
    public static IReadOnlyList<FileDigest> WriteAll(GateReport report, string directory, string baseDirectory, ECDsa? signingKey)
    {
        try
        {
            return Write(report, directory, baseDirectory, signingKey);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Renderings of this run beside an older run's would tell two stories; leave none.
            foreach (var name in FileNames)
            {
                try
                {
                    File.Delete(Path.Combine(directory, name));
                }
                catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
                {
                    // The folder refuses changes; the write failure is what gets reported.
                }
            }

            throw;
        }
    }

    private static IReadOnlyList<FileDigest> Write(GateReport report, string directory, string baseDirectory, ECDsa? signingKey)
    {
        var json = ReportJson.Serialize(report);
        var renderings = new (string Name, byte[] Bytes)[]
        {
            (SarifRenderer.FileName, SarifRenderer.Render(report, SourceRoots.Find(baseDirectory))),
            (MarkdownRenderer.FileName, MarkdownRenderer.Render(report)),
            (HtmlRenderer.FileName, HtmlRenderer.Render(report, path => ReadExemplar(baseDirectory, path), signingKey is not null)),
            (JUnitRenderer.FileName, JUnitRenderer.Render(report)),
        };
        var digests = renderings.Select(r => new FileDigest(r.Name, Convert.ToHexStringLower(SHA256.HashData(r.Bytes)))).ToList();
        var statement = Provenance.Statement(report, json, digests);

        var written = new List<FileDigest> { new(ReportJson.FileName, Convert.ToHexStringLower(SHA256.HashData(json))) };
        written.AddRange(digests);
        AtomicFile.Write(Path.Combine(directory, ReportJson.FileName), json);
        foreach (var (name, bytes) in renderings)
        {
            AtomicFile.Write(Path.Combine(directory, name), bytes);
        }

        AtomicFile.Write(Path.Combine(directory, Provenance.StatementFileName), statement);
        written.Add(new FileDigest(Provenance.StatementFileName, Convert.ToHexStringLower(SHA256.HashData(statement))));
        var envelopePath = Path.Combine(directory, Provenance.EnvelopeFileName);
        if (signingKey is not null)
        {
            var envelope = Provenance.Sign(statement, signingKey);
            AtomicFile.Write(envelopePath, envelope);
            written.Add(new FileDigest(Provenance.EnvelopeFileName, Convert.ToHexStringLower(SHA256.HashData(envelope))));
        }
        else if (File.Exists(envelopePath))
        {
            // An envelope from an earlier signed run would vouch for a statement it no longer matches.
            File.Delete(envelopePath);
        }

        return written;
    }

    /// <summary>The file names every run writes (the signature only when signing).</summary>
    public static IReadOnlyList<string> FileNames { get; } =
    [
        ReportJson.FileName, SarifRenderer.FileName, MarkdownRenderer.FileName, HtmlRenderer.FileName, JUnitRenderer.FileName,
        Provenance.StatementFileName, Provenance.EnvelopeFileName,
    ];

    // Thumbnails come only from inside the base folder: a report path is data from a policy's globs, not a licence to read anywhere.
    private static byte[]? ReadExemplar(string baseDirectory, string path)
    {
        var root = Path.GetFullPath(baseDirectory).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(baseDirectory, path));
        if (!full.StartsWith(root, StringComparison.Ordinal) || !File.Exists(full) || new FileInfo(full).Length > 256 * 1024)
        {
            return null;
        }

        return File.ReadAllBytes(full);
    }
}
