using System.Text.Json;
using System.Text.Json.Serialization;

namespace KtuGate.Reporting;

/// <summary>Reads and writes <c>ktu-report.json</c>.</summary>
public static class ReportJson
{
    /// <summary>The report's file name in the report folder.</summary>
    public const string FileName = "ktu-report.json";

    private static readonly JsonSerializerOptions s_options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = InertJsonEncoder.Instance,
        NewLine = "\n",

        // A duplicated property would let the last of two values win silently (a "verdict" of "fail" then "pass"): refused, as in policies.
        AllowDuplicateProperties = false,
    };

    /// <summary>The report as indented UTF-8 JSON ending in a newline.</summary>
    public static byte[] Serialize(GateReport report)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(report, s_options);
        return [.. bytes, (byte)'\n'];
    }

    /// <summary>Reads a report written by <see cref="Serialize"/>.</summary>
    /// <exception cref="JsonException">The file is not a report, or it names a property twice in one object.</exception>
    public static GateReport Deserialize(ReadOnlySpan<byte> utf8)
        => JsonSerializer.Deserialize<GateReport>(utf8, s_options) ?? throw new JsonException("The report is empty.");
}
