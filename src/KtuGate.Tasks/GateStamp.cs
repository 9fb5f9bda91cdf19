using System.Text.Json;
using KtuGate.Reporting;

namespace KtuGate.Tasks;

/// <summary>What the last passing gate run checked: its settings, every file it read and every artifact and report it wrote, each with its SHA-256.</summary>
/// <remarks>
/// Kept in the project's intermediate folder, one per project, so that projects sharing a report folder never share a verdict. A stamp
/// is never trusted for what the build is now: every file the items resolve to must be recorded, and every recorded output must be one
/// this gate writes for the models and folders it has now, so that a stamp edited by hand cannot skip the gate or ship another file.
/// </remarks>
/// <param name="KtuGateStamp">The stamp format's version.</param>
/// <param name="Settings">The settings the run had, one per line, as the targets list them.</param>
/// <param name="Files">Every file whose bytes can change the verdict.</param>
/// <param name="Outputs">The remediated artifacts the run wrote.</param>
/// <param name="Reports">The report files the run wrote.</param>
internal sealed record GateStamp(int KtuGateStamp, IReadOnlyList<string> Settings, IReadOnlyList<StampedFile> Files, IReadOnlyList<StampedOutput> Outputs, IReadOnlyList<StampedFile> Reports)
{
    /// <summary>2: reports are recorded; a version-1 stamp (no reports) reruns the gate.</summary>
    public const int CurrentVersion = 2;

    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Reads a stamp; null when it is missing or not one this version wrote.</summary>
    public static GateStamp? Read(string path)
    {
        try
        {
            var stamp = File.Exists(path) ? JsonSerializer.Deserialize<GateStamp>(File.ReadAllBytes(path), s_options) : null;
            return stamp is { KtuGateStamp: CurrentVersion, Settings: not null, Files: not null, Outputs: not null, Reports: not null } ? stamp : null;
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
    /// <param name="expectedOutputs">The remediated artifacts this gate may write now, by the full path of the model each replaces (none in Verify).</param>
    /// <param name="report">The full path of the report (<c>ktu-report.json</c>) a run writes now; it must have been recorded.</param>
    public string? WhyStale(IReadOnlyList<string> settings, IEnumerable<string> inputs, IReadOnlyDictionary<string, string> expectedOutputs, string report)
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
            // The build ships a recorded output in place of its original: only the file this gate writes for a model it gates now will do.
            if (!expectedOutputs.TryGetValue(Path.GetFullPath(output.Original), out var expected) || !string.Equals(Path.GetFullPath(output.Path), expected, StringComparison.Ordinal))
            {
                return $"the recorded output '{output.Path}' for '{output.Original}' is not one this gate writes";
            }

            if (Changed(output.Path, output.Sha256) is { } why)
            {
                return $"remediated artifact {why}";
            }
        }

        if (Outputs.DistinctBy(o => Path.GetFullPath(o.Original), StringComparer.Ordinal).Count() != Outputs.Count)
        {
            return "a model has more than one recorded output";
        }

        if (!Reports.Any(r => string.Equals(Path.GetFullPath(r.Path), report, StringComparison.Ordinal)))
        {
            return $"the report '{report}' is not recorded";
        }

        foreach (var written in Reports)
        {
            if (Changed(written.Path, written.Sha256) is { } why)
            {
                return $"report {why}";
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
