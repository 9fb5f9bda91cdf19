using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Policies;

namespace KtuGate.Reporting;

/// <summary>The in-toto statement of a gate run, its optional DSSE signature, and the check that finds what no longer matches.</summary>
public static class Provenance
{
    /// <summary>The statement's file name in the report folder.</summary>
    public const string StatementFileName = "ktu-report.intoto.json";

    /// <summary>The signed envelope's file name in the report folder.</summary>
    public const string EnvelopeFileName = "ktu-report.intoto.dsse.json";

    /// <summary>The predicate type of KtuGate's statements.</summary>
    public const string PredicateType = "urn:ktugate:predicate:gate-report:v1";

    private const string PayloadType = "application/vnd.in-toto+json";

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        Encoder = InertJsonEncoder.Instance,
        NewLine = "\n",
    };

    // The statement and the envelope are read as strictly as the report: a property named twice in one object is an error, not a last-one-wins.
    private static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false };

    /// <summary>An in-toto Statement v1 whose subjects are the gated artifacts and the report.</summary>
    /// <param name="report">The report.</param>
    /// <param name="reportBytes">The bytes of <c>ktu-report.json</c> as written.</param>
    /// <param name="renderings">The other report files and their digests.</param>
    public static byte[] Statement(GateReport report, byte[] reportBytes, IEnumerable<FileDigest> renderings)
    {
        var subjects = new JsonArray();
        foreach (var model in report.Models)
        {
            subjects.Add(Subject(model.Artifact.Path, model.Artifact.Sha256));
        }

        subjects.Add(Subject(ReportJson.FileName, Sha256(reportBytes)));
        var statement = new JsonObject
        {
            ["_type"] = "https://in-toto.io/Statement/v1",
            ["subject"] = subjects,
            ["predicateType"] = PredicateType,
            ["predicate"] = new JsonObject
            {
                ["verdict"] = report.Verdict,
                ["mode"] = report.Mode,
                ["generatedAt"] = report.GeneratedAt,
                ["tool"] = new JsonObject { ["name"] = report.Tool.Name, ["version"] = report.Tool.Version },
                ["policies"] = new JsonArray(report.Policies.Select(p => (JsonNode)new JsonObject { ["id"] = p.Id, ["path"] = p.File.Path, ["sha256"] = p.File.Sha256 }).ToArray()),
                ["renderings"] = new JsonArray(renderings.Select(r => (JsonNode)Subject(r.Path, r.Sha256)).ToArray()),
            },
        };
        return [.. Encoding.UTF8.GetBytes(statement.ToJsonString(s_json)), (byte)'\n'];
    }

    /// <summary>Signs a statement as a DSSE envelope with an ECDSA P-256 key.</summary>
    public static byte[] Sign(byte[] statement, ECDsa key)
    {
        var signature = key.SignData(Pae(statement), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        var envelope = new JsonObject
        {
            ["payloadType"] = PayloadType,
            ["payload"] = Convert.ToBase64String(statement),
            ["signatures"] = new JsonArray(new JsonObject { ["keyid"] = KeyId(key), ["sig"] = Convert.ToBase64String(signature) }),
        };
        return [.. Encoding.UTF8.GetBytes(envelope.ToJsonString(s_json)), (byte)'\n'];
    }

    /// <summary>Reads an ECDSA P-256 private key from PEM text.</summary>
    /// <returns>The key, or null with the reason.</returns>
    public static ECDsa? ReadSigningKey(string pem, out string? problem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            problem = "not an EC private key in PEM form (" + e.Message.TrimEnd('.') + ")";
            return null;
        }

        if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            key.Dispose();
            problem = "the key is not on the P-256 curve";
            return null;
        }

        problem = null;
        return key;
    }

    /// <summary>The key id recorded in envelopes: the SHA-256 of the public key's SubjectPublicKeyInfo.</summary>
    public static string KeyId(ECDsa key) => Sha256(key.ExportSubjectPublicKeyInfo());

    /// <summary>Checks a report against its statement, signature and the files it names, reporting exactly what no longer matches.</summary>
    /// <param name="reportPath">The <c>ktu-report.json</c> to check.</param>
    /// <param name="baseDirectory">The folder the report's paths are relative to.</param>
    /// <param name="artifactOverride">The artifact to check in place of the one the report names (when the report has one model).</param>
    /// <param name="publicKeyPem">The trusted public key, or null to leave a signature unchecked (KTU6005).</param>
    /// <returns>Every mismatch (errors) and what could not be checked (warnings: KTU6005, KTU6008 for an unsigned report); empty when all matches and is signed.</returns>
    /// <remarks>Integrity only: a failing report that is intact verifies. <see cref="Check"/> also judges the verdict.</remarks>
    public static IReadOnlyList<Diagnostic> Verify(string reportPath, string baseDirectory, string? artifactOverride, string? publicKeyPem)
        => Check(reportPath, baseDirectory, artifactOverride, publicKeyPem, integrityOnly: true).Diagnostics;

    /// <summary>Checks a report as <see cref="Verify"/> does and, unless asked for integrity only, that its verdict is a pass (KTU6007 when it is not).</summary>
    /// <param name="reportPath">The <c>ktu-report.json</c> to check.</param>
    /// <param name="baseDirectory">The folder the report's paths are relative to.</param>
    /// <param name="artifactOverride">The artifact to check in place of the one the report names (when the report has one model).</param>
    /// <param name="publicKeyPem">The trusted public key, or null to leave a signature unchecked (KTU6005).</param>
    /// <param name="integrityOnly">Check only that nothing changed, whatever the verdict.</param>
    public static ReportVerification Check(string reportPath, string baseDirectory, string? artifactOverride, string? publicKeyPem, bool integrityOnly = false)
    {
        var diagnostics = new DiagnosticBag();
        byte[] reportBytes;
        GateReport report;
        try
        {
            reportBytes = ReadRegular(reportPath);
            report = ReportJson.Deserialize(reportBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            diagnostics.Add(DiagnosticCodes.ReportUnreadable, new SourceLocation(reportPath), reportPath, e.Message);
            return new ReportVerification(diagnostics.Items, null, false);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        CheckStatement(reportPath, reportBytes, report, folder, publicKeyPem, diagnostics);

        foreach (var model in report.Models)
        {
            var artifactPath = artifactOverride ?? Path.Combine(baseDirectory, model.Artifact.Path);
            CheckFile("artifact", model.Artifact, artifactPath, diagnostics);
            if (model.Manifest is not null)
            {
                CheckFile("manifest", model.Manifest, Path.Combine(baseDirectory, model.Manifest.Path), diagnostics);
            }

            if (model.Baseline is not null)
            {
                CheckFile("baseline", model.Baseline, Path.Combine(baseDirectory, model.Baseline.Path), diagnostics);
            }

            // External data lies beside the artifact (the one checked in its place too), read under the same rules as the gate reads it.
            var recordedFolder = Path.GetDirectoryName(Path.GetFullPath(Path.Combine(baseDirectory, model.Artifact.Path)))!;
            CheckExternalData(model.ExternalData, recordedFolder, Path.GetDirectoryName(Path.GetFullPath(artifactPath))!, baseDirectory, diagnostics);
            if (model.TextTower is not null)
            {
                var towerPath = Path.Combine(baseDirectory, model.TextTower.Path);
                CheckFile("text tower", model.TextTower, towerPath, diagnostics);
                var towerFolder = Path.GetDirectoryName(Path.GetFullPath(towerPath))!;
                CheckExternalData(model.TextTowerExternalData, towerFolder, towerFolder, baseDirectory, diagnostics);
            }

            if (model.TextTowerVocabulary is not null)
            {
                CheckFile("text tower vocabulary", model.TextTowerVocabulary, Path.Combine(baseDirectory, model.TextTowerVocabulary.Path), diagnostics);
            }

            // The reference a reported forget quality was measured against: another model there would make the number another's.
            if (model.ForgetQuality is { RetainModel: { } retain })
            {
                CheckFile("retain model", retain, Path.Combine(baseDirectory, retain.Path), diagnostics);
            }
        }

        foreach (var policy in report.Policies)
        {
            var policyPath = Path.Combine(baseDirectory, policy.File.Path);
            if (!CheckFile("policy", policy.File, policyPath, diagnostics))
            {
                continue;
            }

            var loaded = PolicyParser.Load(policyPath, new DiagnosticBag());
            foreach (var concept in report.Models.SelectMany(m => m.Concepts).Where(c => c.Policy == policy.Id).DistinctBy(c => c.Concept))
            {
                var files = loaded?.Concepts.FirstOrDefault(c => c.Name == concept.Concept)?.Files ?? [];
                string now;
                try
                {
                    now = Digests.OfFileSet(baseDirectory, files);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // An exemplar that is gone, unreadable or not a regular file (never read, so a FIFO cannot hang verify).
                    diagnostics.Add(DiagnosticCodes.RecordedFileMissing, null, $"exemplar set of '{concept.Concept}'", policy.Id, e.Message);
                    continue;
                }

                if (now != concept.Exemplars.Digest)
                {
                    diagnostics.Add(DiagnosticCodes.DigestMismatch, null, $"exemplar set of '{concept.Concept}' ({files.Count} files now, {concept.Exemplars.Count} recorded) in policy", policy.Id, concept.Exemplars.Digest, now);
                }
            }
        }

        // An intact report still has to have passed: a failing report that verifies must not read as a pass.
        var intact = !diagnostics.HasErrors;
        if (intact && !integrityOnly && report.Verdict != "pass")
        {
            diagnostics.Add(DiagnosticCodes.VerdictNotPass, new SourceLocation(reportPath), report.Verdict);
        }

        return new ReportVerification(diagnostics.Items, report.Verdict, intact);
    }

    private static void CheckStatement(string reportPath, byte[] reportBytes, GateReport report, string folder, string? publicKeyPem, DiagnosticBag diagnostics)
    {
        var statementPath = Path.Combine(folder, StatementFileName);
        byte[] statementBytes;
        JsonNode? statement;
        try
        {
            statementBytes = ReadRegular(statementPath);
            statement = JsonNode.Parse(statementBytes, documentOptions: s_strict);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticCodes.RecordedFileMissing, new SourceLocation(statementPath), "statement", statementPath, e.Message);
            return;
        }
        catch (JsonException e)
        {
            diagnostics.Add(DiagnosticCodes.ReportUnreadable, new SourceLocation(statementPath), statementPath, e.Message);
            return;
        }

        List<(string? Name, string? Digest)> subjects;
        try
        {
            subjects = statement?["subject"]?.AsArray().Select(s => (Name: (string?)s?["name"], Digest: (string?)s?["digest"]?["sha256"])).ToList() ?? [];
        }
        catch (InvalidOperationException e)
        {
            // A subject list that is not an array of names and digests (wrong JSON kinds) is unreadable, not a crash.
            diagnostics.Add(DiagnosticCodes.ReportUnreadable, new SourceLocation(statementPath), statementPath, e.Message);
            return;
        }

        var recorded = subjects.FirstOrDefault(s => s.Name == ReportJson.FileName).Digest;
        var actual = Sha256(reportBytes);
        if (recorded != actual)
        {
            diagnostics.Add(DiagnosticCodes.ReportModified, new SourceLocation(reportPath), ReportJson.FileName, recorded ?? "none", actual);
        }

        foreach (var model in report.Models.Where(m => !subjects.Contains((m.Artifact.Path, m.Artifact.Sha256))))
        {
            diagnostics.Add(DiagnosticCodes.ReportModified, new SourceLocation(reportPath), model.Artifact.Path + " in the report", "the statement's subject", model.Artifact.Sha256);
        }

        var envelopePath = Path.Combine(folder, EnvelopeFileName);
        if (!File.Exists(envelopePath))
        {
            if (publicKeyPem is not null)
            {
                diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(reportPath), "A public key was given, but the report is not signed (no " + EnvelopeFileName + ")");
            }
            else
            {
                // Without a signature the statement only ties the report to its files: a rewritten report with a rewritten statement also matches.
                diagnostics.Add(DiagnosticCodes.ReportUnsigned, new SourceLocation(reportPath), EnvelopeFileName);
            }

            return;
        }

        JsonNode? envelope;
        try
        {
            envelope = JsonNode.Parse(ReadRegular(envelopePath), documentOptions: s_strict);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), "The envelope cannot be read: " + e.Message);
            return;
        }

        byte[] payload;
        byte[] sig;
        string keyId;
        try
        {
            payload = Convert.FromBase64String((string?)envelope?["payload"] ?? string.Empty);
            var signature = envelope?["signatures"]?.AsArray().FirstOrDefault();
            keyId = (string?)signature?["keyid"] ?? "none";
            sig = Convert.FromBase64String((string?)signature?["sig"] ?? string.Empty);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // Wrong JSON kinds or text that is not base64: the envelope cannot be read, which is a failed signature, not a crash.
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), "The envelope cannot be read: " + e.Message);
            return;
        }

        if (!payload.AsSpan().SequenceEqual(statementBytes))
        {
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), "The signed statement differs from " + StatementFileName);
        }

        if (publicKeyPem is null)
        {
            diagnostics.Add(DiagnosticCodes.SignatureNotChecked, new SourceLocation(envelopePath), keyId);
            return;
        }

        using var key = ECDsa.Create();
        key.ImportFromPem(publicKeyPem);
        if (!key.VerifyData(Pae(payload), sig, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
        {
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), $"The signature (key id {keyId}) does not verify with the given public key (key id {KeyId(key)})");
        }
    }

    private static bool CheckFile(string role, FileDigest recorded, string path, DiagnosticBag diagnostics)
    {
        string now;
        try
        {
            now = Digests.OfFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticCodes.RecordedFileMissing, new SourceLocation(path), role, recorded.Path, e.Message);
            return false;
        }

        if (now != recorded.Sha256)
        {
            diagnostics.Add(DiagnosticCodes.DigestMismatch, new SourceLocation(path), role, recorded.Path, recorded.Sha256, now);
            return false;
        }

        return true;
    }

    private static void CheckExternalData(IReadOnlyList<FileDigest>? files, string recordedFolder, string folder, string baseDirectory, DiagnosticBag diagnostics)
    {
        foreach (var recorded in files ?? [])
        {
            var location = Path.GetRelativePath(recordedFolder, Path.GetFullPath(Path.Combine(baseDirectory, recorded.Path))).Replace('\\', '/');
            string now;
            using (var stream = ContainedFile.Open(folder, location, out var problem))
            {
                if (stream is null)
                {
                    diagnostics.Add(DiagnosticCodes.RecordedFileMissing, new SourceLocation(Path.Combine(folder, location)), "external data", recorded.Path, problem);
                    continue;
                }

                now = Convert.ToHexStringLower(SHA256.HashData(stream));
            }

            if (now != recorded.Sha256)
            {
                diagnostics.Add(DiagnosticCodes.DigestMismatch, new SourceLocation(Path.Combine(folder, location)), "external data", recorded.Path, recorded.Sha256, now);
            }
        }
    }

    /// <summary>The largest report, statement or envelope read: 256 MiB, far above what a gate run writes; the bound keeps a wrong path from exhausting memory.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    /// <summary>A report file's bytes, read only from a regular file no longer than <see cref="MaxFileBytes"/>: a FIFO or device put in its place is refused, never read or waited on.</summary>
    /// <exception cref="IOException">The file is missing, unreadable, not a regular file or too long.</exception>
    private static byte[] ReadRegular(string path)
    {
        using var stream = ContainedFile.OpenRegular(path, MaxFileBytes, out var problem) ?? throw new IOException($"'{path}' cannot be read: {problem}");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    // DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body.
    private static byte[] Pae(byte[] body)
        => [.. Encoding.UTF8.GetBytes($"DSSEv1 {PayloadType.Length} {PayloadType} {body.Length} "), .. body];

    private static JsonObject Subject(string name, string sha256) => new() { ["name"] = name, ["digest"] = new JsonObject { ["sha256"] = sha256 } };

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>What <c>ktu verify</c> found.</summary>
/// <param name="Diagnostics">Every mismatch (errors), what could not be checked (warnings) and, unless integrity only was asked, KTU6007 for a verdict that is not a pass.</param>
/// <param name="Verdict">The report's verdict ("pass", "fail", "insufficient-evidence", "error"), or null when it cannot be read.</param>
/// <param name="Intact">Whether the report, its statement, its signature (when checked) and every file it names match.</param>
public sealed record ReportVerification(IReadOnlyList<Diagnostic> Diagnostics, string? Verdict, bool Intact);
