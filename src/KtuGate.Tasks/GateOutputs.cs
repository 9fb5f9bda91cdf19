using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Reporting;

namespace KtuGate.Tasks;

/// <summary>
/// The files a gate run writes (reports, its stamp and inputs list, remediated artifacts): checked against the files it reads, an earlier
/// run's removed and their folders checked writable before the engine starts, and the stamp written after a pass.
/// </summary>
/// <param name="task">The task whose items and folders name them; its log receives the problems.</param>
internal sealed class GateOutputs(KtuRunGate task)
{
    /// <summary>
    /// Removes what an earlier run left (its stamp, inputs list, reports, remediated artifacts, interrupted remediation candidates) so that
    /// nothing of it can be mistaken for this run's, and checks that every folder this run writes can be written.
    /// </summary>
    internal bool Clear()
    {
        if (!OutputsSpareInputs())
        {
            return false;
        }

        var stale = new List<string>();
        stale.AddRange(new[] { task.StampFile, task.InputsFile }.OfType<string>());
        stale.AddRange(ReportWriter.FileNames.Select(n => Path.Combine(task.ReportDirectory, n)));
        var folders = new List<(string What, string Folder)> { ("the report folder", task.ReportDirectory) };
        if (task.StampFile is not null)
        {
            folders.Add(("the gate's stamp folder", Path.GetDirectoryName(Path.GetFullPath(task.StampFile))!));
        }

        if (task.InputsFile is not null)
        {
            folders.Add(("the gate's inputs list folder", Path.GetDirectoryName(Path.GetFullPath(task.InputsFile))!));
        }

        var outputDirectory = string.IsNullOrEmpty(task.OutputDirectory) ? task.ReportDirectory : task.OutputDirectory;
        var inputs = task.Models.Select(m => Path.GetFullPath(m.ItemSpec)).ToHashSet(StringComparer.Ordinal);
        foreach (var model in task.Models)
        {
            var name = Path.GetFileName(model.ItemSpec);
            if (Directory.Exists(outputDirectory))
            {
                // Interrupted remediations leave '.NAME.PID.candidate.onnx' (and atomic writes '.NAME.PID.GUID.tmp'); no later run would remove them.
                stale.AddRange(Directory.EnumerateFiles(outputDirectory, $".{name}.*.candidate.onnx"));
                stale.AddRange(Directory.EnumerateFiles(outputDirectory, $".{name}.*.tmp"));
            }

            // A remediated artifact from an earlier run must not outlive a run that passed the model unedited (or failed); never the input itself.
            var edited = Path.GetFullPath(Path.Combine(outputDirectory, name));
            if (task.Remediate && !inputs.Contains(edited))
            {
                stale.Add(edited);
            }
        }

        if (task.Remediate)
        {
            folders.Add(("the remediated artifact's folder", outputDirectory));
        }

        foreach (var (what, folder) in folders.DistinctBy(f => Path.GetFullPath(f.Folder)))
        {
            try
            {
                Directory.CreateDirectory(folder);
                var probe = Path.Combine(folder, $".ktu-write-probe.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                File.WriteAllBytes(probe, [0]);
                File.Delete(probe);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                KtuLog.Diagnostic(task.Log, DiagnosticCodes.OutputNotWritable.Create(new SourceLocation(Path.GetFullPath(folder)), what, Path.GetFullPath(folder), e.Message));
            }
        }

        foreach (var file in stale.Where(File.Exists))
        {
            try
            {
                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                KtuLog.Diagnostic(task.Log, DiagnosticCodes.OutputNotWritable.Create(new SourceLocation(file), "(to remove an earlier run's output)", file, e.Message));
            }
        }

        return !task.Log.HasLoggedErrors;
    }

    /// <summary>
    /// Checks, before anything is removed or written, that no file this run removes or writes (reports, stamp, inputs list, remediated
    /// artifacts) is one of the files it reads: a KtuReportDir or KtuOutputDir that holds a baseline, policy or exemplar of the same name
    /// would otherwise have it deleted as an earlier run's output and then overwritten.
    /// </summary>
    private bool OutputsSpareInputs()
    {
        var inputs = new Dictionary<string, string>(StringComparer.Ordinal);
        void AddInput(string? path, string what)
        {
            if (!string.IsNullOrEmpty(path))
            {
                inputs.TryAdd(task.Full(path), what);
            }
        }

        foreach (var model in task.Models)
        {
            AddInput(model.ItemSpec, "model");
            AddInput(model.GetMetadata("Manifest"), "manifest");
            AddInput(model.GetMetadata("Baseline"), "baseline");
        }

        foreach (var policy in task.Policies)
        {
            AddInput(policy.ItemSpec, "policy");
        }

        foreach (var input in task.Inputs)
        {
            AddInput(input.ItemSpec, "input");
        }

        var outputs = new List<(string What, string Path, string? Own)>();
        outputs.AddRange(ReportWriter.FileNames.Select(n => ("the report", task.Full(Path.Combine(task.ReportDirectory, n)), (string?)null)));
        outputs.AddRange(new[] { task.StampFile, task.InputsFile }.OfType<string>().Select(f => ("the gate's stamp or inputs list", task.Full(f), (string?)null)));
        if (task.Remediate)
        {
            var outputDirectory = string.IsNullOrEmpty(task.OutputDirectory) ? task.ReportDirectory : task.OutputDirectory;

            // The edited artifact landing on its own input is the engine's KTU4005; landing on any other input is this check's.
            outputs.AddRange(task.Models.Select(m => ("the remediated artifact", task.Full(Path.Combine(outputDirectory, Path.GetFileName(m.ItemSpec))), (string?)task.Full(m.ItemSpec))));
        }

        foreach (var (what, path, own) in outputs)
        {
            if (inputs.TryGetValue(path, out var kind) && !string.Equals(path, own, StringComparison.Ordinal))
            {
                KtuLog.Diagnostic(task.Log, DiagnosticCodes.OutputOverwritesInput.Create(new SourceLocation(path), what, path, kind));
            }
        }

        return !task.Log.HasLoggedErrors;
    }

    /// <summary>Writes the stamp of a pass: every input the engine read and the task names, the remediated artifacts and the reports, each with its digest.</summary>
    internal void WriteStamp()
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            if (task.InputsFile is not null)
            {
                using var list = JsonDocument.Parse(File.ReadAllBytes(task.InputsFile));
                foreach (var file in list.RootElement.GetProperty("files").EnumerateArray())
                {
                    files[file.GetProperty("path").GetString()!] = file.GetProperty("sha256").GetString()!;
                }
            }

            // Files the items name that the engine did not read (the engine itself, the task assembly) are recorded as they are now.
            foreach (var input in task.Inputs.Select(i => Path.GetFullPath(i.ItemSpec)).Where(f => !files.ContainsKey(f) && File.Exists(f)))
            {
                files[input] = Digests.OfFile(input);
            }

            var outputs = task.RemediatedModels.Select(m => new StampedOutput(m.GetMetadata("OriginalPath"), m.ItemSpec, Digests.OfFile(m.ItemSpec))).ToList();

            // The reports are what the build hands on: one deleted or edited since this pass reruns the gate.
            var reports = ReportWriter.FileNames.Select(n => task.Full(Path.Combine(task.ReportDirectory, n))).Where(File.Exists).Select(r => new StampedFile(r, Digests.OfFile(r))).ToList();
            new GateStamp(GateStamp.CurrentVersion, task.Settings, files.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => new StampedFile(f.Key, f.Value)).ToList(), outputs, reports)
                .Write(task.StampFile!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // Without a stamp the next build runs the gate again: nothing is skipped, but the build says why.
            KtuLog.Diagnostic(task.Log, DiagnosticCodes.OutputNotWritable.Create(new SourceLocation(task.StampFile!), "the gate's stamp", task.StampFile!, e.Message));
        }
    }
}
