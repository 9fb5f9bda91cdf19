using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Policies;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks;

/// <summary>Lists every file a gate run reads, so that MSBuild can skip the gate when none changed.</summary>
/// <remarks>Light by design: it reads policy JSON and lists exemplar globs, and never loads ONNX Runtime. Policy errors are left to the engine, which reports them with the rest.</remarks>
public sealed class KtuResolveGateInputs : Microsoft.Build.Utilities.Task
{
    /// <summary>The policy files.</summary>
    [Required]
    public ITaskItem[] Policies { get; set; } = [];

    /// <summary>The model artifacts; <c>Manifest</c> metadata is filled in where it is missing.</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The models, each with its <c>Manifest</c> metadata set.</summary>
    [Output]
    public ITaskItem[] ResolvedModels { get; private set; } = [];

    /// <summary>Every exemplar file the policies' globs match.</summary>
    [Output]
    public ITaskItem[] Exemplars { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
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
        Exemplars = Policies
            .Select(p => PolicyParser.Load(p.ItemSpec, ignored))
            .OfType<Policy>()
            .SelectMany(p => p.Concepts.SelectMany(c => c.Files))
            .Distinct(StringComparer.Ordinal)
            .Select(f => (ITaskItem)new TaskItem(f))
            .ToArray();
        return !Log.HasLoggedErrors;
    }
}
