using KtuGate.Diagnostics;
using KtuGate.Kinds;
using KtuGate.Onnx;
using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace KtuGate.Models;

/// <summary>An ONNX model open in ONNX Runtime together with the manifest that says how to run it.</summary>
/// <remarks>Owns its <see cref="InferenceSession"/>; dispose it.</remarks>
public sealed class LoadedModel : IDisposable
{
    private LoadedModel(string artifactPath, ModelManifest manifest, InferenceSession session, string executionProvider, IReadOnlyList<string> externalFiles)
    {
        ExternalFiles = externalFiles;
        ArtifactPath = artifactPath;
        Manifest = manifest;
        Session = session;
        ExecutionProvider = executionProvider;
    }

    /// <summary>The artifact's path as given.</summary>
    public string ArtifactPath { get; }

    /// <summary>How to run it.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The open session.</summary>
    public InferenceSession Session { get; }

    /// <summary>The width of each output row: labels for a classifier, the embedding size for an image tower.</summary>
    public int OutputWidth => Session.OutputMetadata[Manifest.Output.Name].Dimensions[1];

    /// <summary>The execution provider the session runs on.</summary>
    public string ExecutionProvider { get; }

    /// <summary>The external-data files the model refers to, relative to its folder (checked before the session opened).</summary>
    public IReadOnlyList<string> ExternalFiles { get; }

    /// <summary>Opens the artifact and checks the manifest against the inputs and outputs ONNX Runtime reports.</summary>
    /// <returns>The model, or null with errors in <paramref name="diagnostics"/>.</returns>
    /// <remarks>The model's external data and declared sizes are checked (<see cref="ModelFile.Load"/>) before ONNX Runtime reads any of it.</remarks>
    public static LoadedModel? Open(string artifactPath, ModelManifest manifest, ExecutionProviderPreference preference, DiagnosticBag diagnostics, ModelLimits? limits = null)
        => Open(artifactPath, null, manifest, preference, diagnostics, limits);

    /// <summary>Opens a model held in memory (e.g. one instrumented to return an inner activation); external data resolves beside <paramref name="artifactPath"/>.</summary>
    /// <remarks>The model's external data and declared sizes are checked (<see cref="ModelFile.Load"/>) before ONNX Runtime reads any of it.</remarks>
    public static LoadedModel? Open(string artifactPath, byte[]? bytes, ModelManifest manifest, ExecutionProviderPreference preference, DiagnosticBag diagnostics, ModelLimits? limits = null)
        => Open(artifactPath, bytes, manifest, preference, diagnostics, limits, []);

    /// <summary>Opens a model with some initializers replaced (<see cref="SessionOptions.AddInitializer"/>): a candidate edit probed without writing a model.</summary>
    /// <remarks>The session reads the overrides' memory for as long as it is open; the model owns it and releases it on <see cref="Dispose"/>.</remarks>
    public static LoadedModel? Open(
        string artifactPath, byte[]? bytes, ModelManifest manifest, ExecutionProviderPreference preference, DiagnosticBag diagnostics, ModelLimits? limits,
        IReadOnlyList<InitializerOverride> overrides)
    {
        if (bytes is null && !File.Exists(artifactPath))
        {
            diagnostics.Add(DiagnosticCodes.ModelNotFound, new SourceLocation(artifactPath), artifactPath);
            return null;
        }

        if (ModelFile.Load(artifactPath, bytes, limits ?? ModelLimits.Default, diagnostics) is not { } checkedModel)
        {
            return null;
        }

        using var options = SessionFactory.CreateOptions(preference, diagnostics, out var provider);
        if (options is null)
        {
            return null;
        }

        HoldWeightsOnce(checkedModel, artifactPath, limits ?? ModelLimits.Default, options, diagnostics);
        var values = overrides.Select(o => OrtValue.CreateTensorValueFromMemory(o.Values, o.Shape)).ToList();
        InferenceSession session;
        try
        {
            for (var i = 0; i < overrides.Count; i++)
            {
                options.AddInitializer(overrides[i].Name, values[i]);
            }

            session = bytes is null ? new InferenceSession(artifactPath, options) : CreateFromBytes(bytes, artifactPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            values.ForEach(v => v.Dispose());
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, new SourceLocation(artifactPath), Shorten(e.Message));
            return null;
        }

        var model = new LoadedModel(artifactPath, manifest, session, provider!, ExternalData.Files(checkedModel)) { _overrides = values };
        if (!model.CheckAgainstModel(diagnostics))
        {
            model.Dispose();
            return null;
        }

        return model;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Session.Dispose();
        foreach (var value in _overrides)
        {
            value.Dispose();
        }
    }

    /// <summary>The initializer values the session was given in place of the model's; released after the session.</summary>
    private IReadOnlyList<OrtValue> _overrides = [];

    /// <summary>
    /// Turns ONNX Runtime's pre-packing off where its packed copy of the weights would not fit beside them: on the CPU it keeps a
    /// second, packed copy of every constant MatMul/Gemm weight (measured in bench/results/large-model.md: 2.0 GiB of weights,
    /// 4.2 GB peak with it, 2.4 GB without, at 1.6x the time per batch), so twice the weights is what a run needs.
    /// </summary>
    private static void HoldWeightsOnce(ModelProto model, string artifactPath, ModelLimits limits, SessionOptions options, DiagnosticBag diagnostics)
    {
        var weights = ModelFile.WeightBytes(model);
        if (2 * weights > limits.MaxMemoryBytes)
        {
            options.AddSessionConfigEntry("session.disable_prepacking", "1");
            diagnostics.Add(DiagnosticCodes.WeightsHeldOnce, new SourceLocation(artifactPath), ModelFile.Bytes(weights), limits.MaxMemoryBytes);
        }
    }

    private static InferenceSession CreateFromBytes(byte[] bytes, string artifactPath, SessionOptions options)
    {
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", Path.GetDirectoryName(Path.GetFullPath(artifactPath))!);
        return new InferenceSession(bytes, options);
    }

    private bool CheckAgainstModel(DiagnosticBag diagnostics)
    {
        // A kind whose model takes text names its inputs in its section and checks them when it opens its encoder.
        if (Manifest.Input is not { } imageInput)
        {
            return CheckOutput(diagnostics);
        }

        var ok = true;
        var inputLocation = imageInput.Location;
        if (!Session.InputMetadata.TryGetValue(imageInput.Name, out var input))
        {
            diagnostics.Add(DiagnosticCodes.ManifestInputMismatch, inputLocation,
                $"The model has no input '{imageInput.Name}'; its inputs are: {Describe(Session.InputMetadata)}");
            ok = false;
        }
        else
        {
            if (input.ElementDataType != TensorElementType.Float)
            {
                diagnostics.Add(DiagnosticCodes.ManifestInputMismatch, inputLocation,
                    $"Input '{imageInput.Name}' is {input.ElementDataType}; KtuGate feeds float32 images");
                ok = false;
            }
            else if (!ShapeMatches(input.Dimensions, imageInput.Shape))
            {
                diagnostics.Add(DiagnosticCodes.ManifestInputMismatch, inputLocation,
                    $"Input '{imageInput.Name}' has shape {Shape(input.Dimensions)} in the model, but the manifest says {Shape(imageInput.Shape)}");
                ok = false;
            }
        }

        return CheckOutput(diagnostics) && ok;
    }

    private bool CheckOutput(DiagnosticBag diagnostics)
    {
        var ok = true;
        var outputLocation = Manifest.Output.Location;
        if (!Session.OutputMetadata.TryGetValue(Manifest.Output.Name, out var output))
        {
            diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, outputLocation,
                $"The model has no output '{Manifest.Output.Name}'; its outputs are: {Describe(Session.OutputMetadata)}");
            ok = false;
        }
        else if (output.ElementDataType != TensorElementType.Float || !ModelKinds.Of(Manifest).OutputRanks.Contains(output.Dimensions.Length))
        {
            diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, outputLocation,
                $"Output '{Manifest.Output.Name}' is {output.ElementDataType} {Shape(output.Dimensions)}; {ModelKinds.Of(Manifest).OutputRule}");
            ok = false;
        }
        else if (ModelKinds.Of(Manifest).OutputWidthProblem(Manifest, output.Dimensions[1]) is { } widthProblem)
        {
            diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, outputLocation, $"Output '{Manifest.Output.Name}' {widthProblem}");
            ok = false;
        }

        return ok;
    }

    private static bool ShapeMatches(int[] model, IReadOnlyList<long> manifest)
    {
        if (model.Length != manifest.Count)
        {
            return false;
        }

        for (var i = 0; i < model.Length; i++)
        {
            // A symbolic or free dimension in either place matches anything.
            if (model[i] > 0 && manifest[i] > 0 && model[i] != manifest[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string Shape(IEnumerable<long> dims) => "[" + string.Join(", ", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    private static string Shape(IEnumerable<int> dims) => Shape(dims.Select(d => (long)d));

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes)
        => string.Join(", ", nodes.Select(n => $"'{n.Key}' {Shape(n.Value.Dimensions)}"));

    private static string Shorten(string message)
    {
        var line = message.ReplaceLineEndings(" ").Trim();
        return line.Length > 400 ? line[..400] + "..." : line;
    }
}
