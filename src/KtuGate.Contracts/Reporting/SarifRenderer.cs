using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using KtuGate.Diagnostics;

namespace KtuGate.Reporting;

/// <summary>Renders a report as SARIF 2.1.0 for code-scanning dashboards: one rule per KTU code, one result per located diagnostic.</summary>
public static class SarifRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.sarif";

    /// <summary>The tool's information URI recorded in SARIF.</summary>
    public const string InformationUri = "urn:ktugate:tool";

    /// <summary>The base id that result locations are resolved against: the repository root, as code scanning expects.</summary>
    public const string BaseId = "REPOROOT";

    /// <summary>The SARIF log as UTF-8 JSON.</summary>
    /// <param name="report">The report; its paths are relative to <see cref="SourceRoots.Project"/>.</param>
    /// <param name="roots">The project and repository folders: result URIs are relative to the repository root, which <c>originalUriBaseIds</c> gives as an absolute URI.</param>
    /// <remarks>A diagnostic without a file, or whose file lies outside the repository, has no place to annotate and is left out (it is in every other rendering).</remarks>
    public static byte[] Render(GateReport report, SourceRoots roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        var located = report.Diagnostics
            .Select(d => (Diagnostic: d, Uri: d.File is null || Path.IsPathRooted(d.File) ? null : roots.InRepository(d.File)))
            .Where(x => x.Uri is not null)
            .ToList();
        var rules = DiagnosticCodes.All.Values.OrderBy(d => d.Code, StringComparer.Ordinal).ToList();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, NewLine = "\n" }))
        {
            w.WriteStartObject();
            w.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
            w.WriteString("version", "2.1.0");
            w.WriteStartArray("runs");
            w.WriteStartObject();

            w.WriteStartObject("tool");
            w.WriteStartObject("driver");
            w.WriteString("name", report.Tool.Name);
            w.WriteString("version", report.Tool.Version);
            w.WriteString("semanticVersion", report.Tool.Version.Split('+')[0]);
            w.WriteString("informationUri", InformationUri);
            w.WriteStartArray("rules");
            foreach (var rule in rules)
            {
                Rule(w, rule);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartObject("originalUriBaseIds");
            w.WriteStartObject(BaseId);
            w.WriteString("uri", roots.RepositoryUri.AbsoluteUri);
            Message(w, "description", "The repository root (the folder holding .git) that result URIs are relative to.");
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartArray("results");
            foreach (var (d, uri) in located)
            {
                Result(w, d, uri!, rules);
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }

        return [.. buffer.ToArray(), (byte)'\n'];
    }

    /// <summary>One diagnostic code as a SARIF rule.</summary>
    private static void Rule(Utf8JsonWriter w, DiagnosticDescriptor rule)
    {
        w.WriteStartObject();
        w.WriteString("id", rule.Code);
        w.WriteString("name", RuleName(rule.Title));
        Message(w, "shortDescription", rule.Title + ".");
        Message(w, "fullDescription", rule.Help);
        w.WriteString("helpUri", DiagnosticHelp.Link(rule.Code).AbsoluteUri);
        w.WriteStartObject("help");
        w.WriteString("text", rule.Help);
        w.WriteString("markdown", $"**{rule.Code}: {rule.Title}.** {rule.Help} Run `ktu explain {rule.Code}` for this text.");
        w.WriteEndObject();
        w.WriteStartObject("defaultConfiguration");
        w.WriteString("level", Level(rule.Severity.ToString().ToLowerInvariant()));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>One located diagnostic as a SARIF result.</summary>
    private static void Result(Utf8JsonWriter w, ReportDiagnostic d, string uri, List<DiagnosticDescriptor> rules)
    {
        w.WriteStartObject();
        w.WriteString("ruleId", d.Code);
        w.WriteNumber("ruleIndex", rules.FindIndex(r => r.Code == d.Code));
        w.WriteString("level", Level(d.Severity));
        Message(w, "message", TextSafety.Printable(d.Message));
        w.WriteStartArray("locations");
        w.WriteStartObject();
        w.WriteStartObject("physicalLocation");
        w.WriteStartObject("artifactLocation");
        w.WriteString("uri", Uri.EscapeDataString(uri).Replace("%2F", "/", StringComparison.Ordinal));
        w.WriteString("uriBaseId", BaseId);
        w.WriteEndObject();
        if (d.Line > 0)
        {
            w.WriteStartObject("region");
            w.WriteNumber("startLine", d.Line);
            w.WriteNumber("startColumn", Math.Max(1, d.Column));
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteStartObject("partialFingerprints");
        w.WriteString("ktuDiagnostic/v1", Fingerprint(d));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    // Stable across runs and unaffected by line moves: the code, the file, and the message without its numbers.
    private static string Fingerprint(ReportDiagnostic d)
    {
        var withoutNumbers = System.Text.RegularExpressions.Regex.Replace(d.Message, @"[0-9]+(\.[0-9]+)?", "#");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{d.Code}\n{d.File}\n{withoutNumbers}")))[..32];
    }

    private static string RuleName(string title)
        => string.Concat(title.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => char.ToUpperInvariant(w[0]) + w[1..]))
            .Replace("-", string.Empty, StringComparison.Ordinal);

    private static string Level(string severity) => severity switch
    {
        "error" => "error",
        "warning" => "warning",
        _ => "note",
    };

    private static void Message(Utf8JsonWriter w, string name, string text)
    {
        w.WriteStartObject(name);
        w.WriteString("text", text.EndsWith('.') ? text : text + ".");
        w.WriteEndObject();
    }
}
