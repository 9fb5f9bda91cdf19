using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Policies;

namespace KtuGate.Reporting;

/// <summary>
/// <c>ktu verify</c>'s check of a report (<see cref="Provenance.Check"/>): its statement and signature, every file it names (artifacts,
/// manifests, baselines, external data, text towers, retain models, policies and exemplar sets), and its verdict.
/// </summary>
internal static class ProvenanceCheck
{
    internal static ReportVerification Run(string reportPath, string baseDirectory, string? artifactOverride, string? publicKeyPem, bool integrityOnly)
    {
        var diagnostics = new DiagnosticBag();
        byte[] reportBytes;
        GateReport report;
        try
        {
            reportBytes = Provenance.ReadRegular(reportPath);
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
            CheckModelFiles(model, baseDirectory, artifactOverride, diagnostics);
        }

        foreach (var policy in report.Policies)
        {
            CheckPolicyFiles(policy, report, baseDirectory, diagnostics);
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
        var statementPath = Path.Combine(folder, Provenance.StatementFileName);
        byte[] statementBytes;
        JsonNode? statement;
        try
        {
            statementBytes = Provenance.ReadRegular(statementPath);
            statement = JsonNode.Parse(statementBytes, documentOptions: Provenance.s_strict);
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
        var actual = Provenance.Sha256(reportBytes);
        if (recorded != actual)
        {
            diagnostics.Add(DiagnosticCodes.ReportModified, new SourceLocation(reportPath), ReportJson.FileName, recorded ?? "none", actual);
        }

        foreach (var model in report.Models.Where(m => !subjects.Contains((m.Artifact.Path, m.Artifact.Sha256))))
        {
            diagnostics.Add(DiagnosticCodes.ReportModified, new SourceLocation(reportPath), model.Artifact.Path + " in the report", "the statement's subject", model.Artifact.Sha256);
        }

        CheckEnvelope(reportPath, folder, statementBytes, publicKeyPem, diagnostics);
    }

    /// <summary>The DSSE envelope beside the statement: that it signs the statement, and with the trusted key where one is given (KTU6005, KTU6008 where nothing was checked).</summary>
    private static void CheckEnvelope(string reportPath, string folder, byte[] statementBytes, string? publicKeyPem, DiagnosticBag diagnostics)
    {
        var envelopePath = Path.Combine(folder, Provenance.EnvelopeFileName);
        if (!File.Exists(envelopePath))
        {
            if (publicKeyPem is not null)
            {
                diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(reportPath), "A public key was given, but the report is not signed (no " + Provenance.EnvelopeFileName + ")");
            }
            else
            {
                // Without a signature the statement only ties the report to its files: a rewritten report with a rewritten statement also matches.
                diagnostics.Add(DiagnosticCodes.ReportUnsigned, new SourceLocation(reportPath), Provenance.EnvelopeFileName);
            }

            return;
        }

        JsonNode? envelope;
        try
        {
            envelope = JsonNode.Parse(Provenance.ReadRegular(envelopePath), documentOptions: Provenance.s_strict);
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
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), "The signed statement differs from " + Provenance.StatementFileName);
        }

        if (publicKeyPem is null)
        {
            diagnostics.Add(DiagnosticCodes.SignatureNotChecked, new SourceLocation(envelopePath), keyId);
            return;
        }

        using var key = ECDsa.Create();
        key.ImportFromPem(publicKeyPem);
        if (!key.VerifyData(Provenance.Pae(payload), sig, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
        {
            diagnostics.Add(DiagnosticCodes.SignatureInvalid, new SourceLocation(envelopePath), $"The signature (key id {keyId}) does not verify with the given public key (key id {Provenance.KeyId(key)})");
        }
    }

    /// <summary>A model's recorded files: its artifact (or the one checked in its place), manifest, baseline, external data, text tower and retain model.</summary>
    private static void CheckModelFiles(ModelReport model, string baseDirectory, string? artifactOverride, DiagnosticBag diagnostics)
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

    /// <summary>A policy's file and, where it still reads, each of its reported concepts' exemplar sets.</summary>
    private static void CheckPolicyFiles(PolicyInfo policy, GateReport report, string baseDirectory, DiagnosticBag diagnostics)
    {
        var policyPath = Path.Combine(baseDirectory, policy.File.Path);
        if (!CheckFile("policy", policy.File, policyPath, diagnostics))
        {
            return;
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
}
