using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Policies;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Lists every file a gate run reads, so that MSBuild can skip the gate only when none changed.</summary>
/// <remarks>
/// Light by design: it reads policy and manifest JSON and lists exemplar globs, and never loads ONNX Runtime. Policy errors are left to the
/// engine, which reports them with the rest; a file that cannot be read at all is a located KTU5012 here, never a task crash.
/// </remarks>
public sealed class KtuResolveGateInputs : Microsoft.Build.Utilities.Task
{
    /// <summary>The policy files.</summary>
    public ITaskItem[] Policies { get; set; } = [];

    /// <summary>The model artifacts; <c>Manifest</c> metadata is filled in where it is missing.</summary>
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The models, each with its <c>Manifest</c> metadata set.</summary>
    [Output]
    public ITaskItem[] ResolvedModels { get; private set; } = [];

    /// <summary>Every exemplar file the policies' globs match.</summary>
    [Output]
    public ITaskItem[] Exemplars { get; private set; } = [];

    /// <summary>
    /// Every file whose bytes can change the verdict, by full path: artifacts, manifests, baselines, policies, exemplars, general probe
    /// files and text towers (model and vocabulary).
    /// </summary>
    [Output]
    public ITaskItem[] Inputs { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        if (Models.Length == 0 && Policies.Length > 0)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.NoModels.Create(null, Policies.Length, Policies.Length == 1 ? "y" : "ies"));
        }

        if (Policies.Length == 0 && Models.Length > 0)
        {
            KtuLog.Diagnostic(Log, DiagnosticCodes.NoPolicies.Create(null, Models[0].ItemSpec));
        }

        if (Log.HasLoggedErrors)
        {
            return false;
        }

        ResolvedModels = Models.Select(m =>
        {
            var item = new TaskItem(m);
            if (string.IsNullOrEmpty(item.GetMetadata("Manifest")))
            {
                item.SetMetadata("Manifest", ManifestParser.DefaultPathFor(m.ItemSpec));
            }

            return (ITaskItem)item;
        }).ToArray();

        var ignored = new DiagnosticBag();
        var exemplars = new List<string>();
        var files = new List<string>();
        foreach (var model in ResolvedModels)
        {
            files.Add(model.ItemSpec);
            files.Add(model.GetMetadata("Manifest"));
            if (model.GetMetadata("Baseline") is { Length: > 0 } baseline)
            {
                files.Add(baseline);
            }

            if (Read(model.GetMetadata("Manifest"), path => ManifestParser.Load(path, ignored)) is { } manifest)
            {
                // The files the kind's manifest section names (a dual encoder's text tower and vocabulary).
                files.AddRange(manifest.Section.InputFiles);
            }
        }

        foreach (var item in Policies)
        {
            files.Add(item.ItemSpec);
            if (Read(item.ItemSpec, path => PolicyParser.Load(path, ignored)) is { } policy)
            {
                exemplars.AddRange(policy.Concepts.SelectMany(c => c.Files));
                files.AddRange(policy.GeneralFiles);
            }
        }

        Exemplars = exemplars.Distinct(StringComparer.Ordinal).Select(f => (ITaskItem)new TaskItem(f)).ToArray();
        Inputs = files.Concat(exemplars).Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).Select(f => (ITaskItem)new TaskItem(f)).ToArray();
        return !Log.HasLoggedErrors;
    }

    /// <summary>Parses a file, turning what a parser may throw on bytes it cannot decode into a located error.</summary>
    private T? Read<T>(string path, Func<string, T?> parse)
        where T : class
    {
        try
        {
            return parse(path);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            // ArgumentException covers DecoderFallbackException (invalid UTF-8); InvalidOperationException, a string the JSON reader cannot transcode.
            KtuLog.Diagnostic(Log, DiagnosticCodes.GateInputUnreadable.Create(new SourceLocation(path), path, e.Message));
            return null;
        }
    }
}
