using System.Text.Json;
using KtuGate.Reporting;

namespace KtuGate.Tasks;

/// <summary>What the last passing gate run checked: its settings, every file it read and every artifact it wrote, each with its SHA-256.</summary>
/// <remarks>Kept in the project's intermediate folder, one per project, so that projects sharing a report folder never share a verdict.</remarks>
/// <param name="KtuGateStamp">The stamp format's version.</param>
/// <param name="Settings">The settings the run had, one per line, as the targets list them.</param>
/// <param name="Files">Every file whose bytes can change the verdict.</param>
/// <param name="Outputs">The remediated artifacts the run wrote.</param>
internal sealed record GateStamp(int KtuGateStamp, IReadOnlyList<string> Settings, IReadOnlyList<StampedFile> Files, IReadOnlyList<StampedOutput> Outputs)
{
    public const int CurrentVersion = 1;

    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Reads a stamp; null when it is missing or not one this version wrote.</summary>
    public static GateStamp? Read(string path)
    {
        try
        {
            var stamp = File.Exists(path) ? JsonSerializer.Deserialize<GateStamp>(File.ReadAllBytes(path), s_options) : null;
            return stamp is { KtuGateStamp: CurrentVersion, Settings: not null, Files: not null, Outputs: not null } ? stamp : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Writes the stamp atomically.</summary>
    public void Write(string path) => AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(this, s_options));

    /// <summary>Why the gate must run again, or null when every setting, file and output is as this stamp recorded.</summary>
    /// <param name="settings">The settings now.</param>
    /// <param name="inputs">The files the gate's items resolve to now; each must have been recorded (a new exemplar reruns the gate).</param>
    public string? WhyStale(IReadOnlyList<string> settings, IEnumerable<string> inputs)
    {
        if (!Settings.SequenceEqual(settings, StringComparer.Ordinal))
        {
            var changed = settings.Except(Settings, StringComparer.Ordinal).Concat(Settings.Except(settings, StringComparer.Ordinal)).FirstOrDefault();
            return $"a setting changed ({changed ?? "order"})";
        }

        var recorded = Files.ToDictionary(f => f.Path, f => f.Sha256, StringComparer.Ordinal);
        foreach (var input in inputs.Select(Path.GetFullPath))
        {
            if (!recorded.ContainsKey(input))
            {
                return $"'{input}' is new";
            }
        }

        foreach (var file in Files)
        {
            if (Changed(file.Path, file.Sha256) is { } why)
            {
                return why;
            }
        }

        foreach (var output in Outputs)
        {
            if (Changed(output.Path, output.Sha256) is { } why)
            {
                return $"remediated artifact {why}";
            }
        }

        return null;
    }

    private static string? Changed(string path, string sha256)
    {
        try
        {
            return !File.Exists(path) ? $"'{path}' is gone" : Digests.OfFile(path) != sha256 ? $"'{path}' changed" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"'{path}' cannot be read ({e.Message})";
        }
    }
}

/// <summary>A file a gate run read.</summary>
/// <param name="Path">Its full path.</param>
/// <param name="Sha256">Its lower-case hex SHA-256 when it was read.</param>
internal sealed record StampedFile(string Path, string Sha256);

/// <summary>A remediated artifact a gate run wrote.</summary>
/// <param name="Original">The full path of the artifact it replaces.</param>
/// <param name="Path">Its full path.</param>
/// <param name="Sha256">Its lower-case hex SHA-256.</param>
internal sealed record StampedOutput(string Original, string Path, string Sha256);
