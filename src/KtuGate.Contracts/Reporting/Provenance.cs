using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KtuGate.Diagnostics;
using KtuGate.Onnx;

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
    internal static readonly JsonDocumentOptions s_strict = new() { AllowDuplicateProperties = false };

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
        => ProvenanceCheck.Run(reportPath, baseDirectory, artifactOverride, publicKeyPem, integrityOnly);

    /// <summary>The largest report, statement or envelope read: 256 MiB, far above what a gate run writes; the bound keeps a wrong path from exhausting memory.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    /// <summary>A report file's bytes, read only from a regular file no longer than <see cref="MaxFileBytes"/>: a FIFO or device put in its place is refused, never read or waited on.</summary>
    /// <exception cref="IOException">The file is missing, unreadable, not a regular file or too long.</exception>
    internal static byte[] ReadRegular(string path)
    {
        using var stream = ContainedFile.OpenRegular(path, MaxFileBytes, out var problem) ?? throw new IOException($"'{path}' cannot be read: {problem}");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    // DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body.
    internal static byte[] Pae(byte[] body)
        => [.. Encoding.UTF8.GetBytes($"DSSEv1 {PayloadType.Length} {PayloadType} {body.Length} "), .. body];

    private static JsonObject Subject(string name, string sha256) => new() { ["name"] = name, ["digest"] = new JsonObject { ["sha256"] = sha256 } };

    internal static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>What <c>ktu verify</c> found.</summary>
/// <param name="Diagnostics">Every mismatch (errors), what could not be checked (warnings) and, unless integrity only was asked, KTU6007 for a verdict that is not a pass.</param>
/// <param name="Verdict">The report's verdict ("pass", "fail", "insufficient-evidence", "error"), or null when it cannot be read.</param>
/// <param name="Intact">Whether the report, its statement, its signature (when checked) and every file it names match.</param>
public sealed record ReportVerification(IReadOnlyList<Diagnostic> Diagnostics, string? Verdict, bool Intact);
