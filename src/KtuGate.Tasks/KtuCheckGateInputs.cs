using KtuGate.Diagnostics;
using KtuGate.Reporting;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Decides whether the last passing gate run still holds: the same settings, and every file it read and wrote with the same SHA-256.</summary>
/// <remarks>
/// MSBuild's own up-to-date check compares timestamps only, and cannot see a deleted exemplar or a file it was never told about. This task
/// deletes the stamp whenever anything differs, so the gate target (whose output is the stamp) runs again.
/// </remarks>
public sealed class KtuCheckGateInputs : Microsoft.Build.Utilities.Task
{
    /// <summary>The stamp the last passing run wrote.</summary>
    [Required]
    public string StampFile { get; set; } = "";

    /// <summary>The gate's settings now, one per item.</summary>
    public string[] Settings { get; set; } = [];

    /// <summary>Every file the gate's items resolve to now (artifacts, manifests, baselines, policies, exemplars, text towers, the engine).</summary>
    public ITaskItem[] Inputs { get; set; } = [];

    /// <summary>The models gated now; in Remediate, each may have one recorded output, in <see cref="OutputDirectory"/> under its own name.</summary>
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The gate mode now: recorded outputs are accepted only in Remediate.</summary>
    public string Mode { get; set; } = "Verify";

    /// <summary>Where Remediate writes the remediated artifacts now.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>Where the report is written now; the last passing run must have recorded it there, unchanged.</summary>
    [Required]
    public string ReportDirectory { get; set; } = "";

    /// <summary>Whether the gate may be skipped.</summary>
    [Output]
    public bool UpToDate { get; private set; }

    /// <summary>The remediated artifacts the last passing run wrote (with <c>OriginalPath</c>), when it is up to date.</summary>
    [Output]
    public ITaskItem[] RecordedOutputs { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        var stamp = GateStamp.Read(StampFile);
        var why = stamp is null
            ? File.Exists(StampFile) ? "its stamp is unreadable" : "no passing run is recorded"
            : stamp.WhyStale(Settings, Inputs.Select(i => i.ItemSpec), ExpectedOutputs(), Path.GetFullPath(Path.Combine(ReportDirectory, ReportJson.FileName)));
        if (why is null)
        {
            UpToDate = true;
            RecordedOutputs = stamp!.Outputs.Select(o => (ITaskItem)new TaskItem(o.Path, new Dictionary<string, string> { ["OriginalPath"] = o.Original })).ToArray();
            return true;
        }

        Log.LogMessage(MessageImportance.Normal, "KtuGate: the gate runs: {0}.", TextSafety.Printable(why));
        try
        {
            if (File.Exists(StampFile))
            {
                File.Delete(StampFile);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.OutputNotWritable.Create(new SourceLocation(StampFile), "the gate's stamp", StampFile, e.Message));
        }

        return !Log.HasLoggedErrors;
    }

    /// <summary>The remediated artifact each model's Remediate run writes: <see cref="OutputDirectory"/>/NAME, by the model's full path.</summary>
    private Dictionary<string, string> ExpectedOutputs()
    {
        if (!string.Equals(Mode, "Remediate", StringComparison.OrdinalIgnoreCase) || string.IsNullOrEmpty(OutputDirectory))
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        return Models.DistinctBy(m => Path.GetFullPath(m.ItemSpec), StringComparer.Ordinal)
            .ToDictionary(m => Path.GetFullPath(m.ItemSpec), m => Path.GetFullPath(Path.Combine(OutputDirectory, Path.GetFileName(m.ItemSpec))), StringComparer.Ordinal);
    }
}
