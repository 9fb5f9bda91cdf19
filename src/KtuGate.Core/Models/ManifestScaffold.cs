using System.Globalization;
using System.Text;
using KtuGate.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace KtuGate.Models;

/// <summary>Drafts a manifest and a policy for a model from the inputs and outputs ONNX Runtime reports, for a policy author to finish.</summary>
public static class ManifestScaffold
{
    /// <summary>A drafted manifest and policy.</summary>
    /// <param name="Manifest">The manifest's JSON text.</param>
    /// <param name="Policy">The policy's JSON text (with comments saying what to fill in).</param>
    /// <param name="Labels">The placeholder labels, one per model output score.</param>
    public sealed record Draft(string Manifest, string Policy, IReadOnlyList<string> Labels);

    /// <summary>What a dual encoder's draft says about its text tower.</summary>
    /// <param name="Model">The text tower's ONNX file, relative to the manifest (or a placeholder to replace).</param>
    /// <param name="Vocab">Its WordPiece vocabulary, relative to the manifest (or a placeholder).</param>
    /// <param name="Output">The tower output that holds token embeddings.</param>
    public sealed record TextTowerDraft(string Model, string Vocab, string Output);

    /// <summary>Reads the model's first float image input and its first float <c>[batch, K]</c> output.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="labels">Label names to use, or null for <c>label-0</c> … <c>label-(K-1)</c>.</param>
    /// <param name="diagnostics">Why no draft could be made.</param>
    /// <returns>The draft, or null.</returns>
    public static Draft? Create(string modelPath, IReadOnlyList<string>? labels, DiagnosticBag diagnostics) =>
        Create(modelPath, "classifier", labels, null, null, diagnostics);

    /// <summary>Drafts the manifest of a model of the given kind: a classifier (one score per label) or a dual encoder's image tower.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="kind">The name of the manifest kind to draft; one of <see cref="Kinds.ManifestKinds.Supported"/>.</param>
    /// <param name="labels">Label names; null for placeholders (a classifier's count comes from its output).</param>
    /// <param name="textTower">A dual encoder's text tower, or null for placeholders to fill in.</param>
    /// <param name="schemas">The <c>$schema</c> values to write (manifest, policy), or null for none.</param>
    /// <param name="diagnostics">Why no draft could be made.</param>
    /// <returns>The draft, or null.</returns>
    public static Draft? Create(
        string modelPath, string kind, IReadOnlyList<string>? labels, TextTowerDraft? textTower, (string Manifest, string Policy)? schemas, DiagnosticBag diagnostics)
    {
        if (OpenModel(modelPath, diagnostics) is not { } session)
        {
            return null;
        }

        using (session)
        {
            var input = session.InputMetadata.FirstOrDefault(i => i.Value.ElementDataType == TensorElementType.Float && i.Value.Dimensions.Length == 4);
            var output = session.OutputMetadata.FirstOrDefault(o => o.Value.ElementDataType == TensorElementType.Float && o.Value.Dimensions.Length == 2 && o.Value.Dimensions[1] > 0);
            if (input.Key is null)
            {
                diagnostics.Add(DiagnosticCodes.ManifestInputMismatch, new SourceLocation(modelPath), "The model has no float input of rank 4 (an image batch); KtuGate probes image classifiers");
                return null;
            }

            if (output.Key is null)
            {
                diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, new SourceLocation(modelPath), "The model has no float output of shape [batch, labels]; KtuGate probes image classifiers");
                return null;
            }

            var kindDraft = (Kinds.ModelKinds.Find(kind) ?? throw new ArgumentException($"'{kind}' is not a kind this KtuGate probes", nameof(kind)))
                .Draft((int)output.Value.Dimensions[1], labels, textTower);
            if (kindDraft.Problem is { } labelProblem)
            {
                diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, new SourceLocation(modelPath), $"Output '{output.Key}' {labelProblem}");
                return null;
            }

            labels = kindDraft.Labels;
            var manifest = ManifestText(modelPath, kind, input.Key, input.Value, output.Key, kindDraft, labels, schemas?.Manifest);
            var policy = DraftPolicy(labels, schemas?.Policy);
            return new Draft(manifest, policy, labels);
        }
    }

    /// <summary>The model opened by ONNX Runtime after the gate's own checks of the file and its external data; null, with a coded error, where it cannot be.</summary>
    private static InferenceSession? OpenModel(string modelPath, DiagnosticBag diagnostics)
    {
        if (!File.Exists(modelPath))
        {
            diagnostics.Add(DiagnosticCodes.ModelNotFound, new SourceLocation(modelPath), modelPath);
            return null;
        }

        // ONNX Runtime reads external data itself: the same checks as a gate run come first.
        if (Onnx.ModelFile.Load(modelPath, null, Onnx.ModelLimits.Default, diagnostics) is null)
        {
            return null;
        }

        Probing.OnnxRuntimeLibrary.EnsureSelected();
        if (Probing.OnnxRuntimeLibrary.Problem is { } problem)
        {
            diagnostics.Add(DiagnosticCodes.OnnxRuntimeDirectoryInvalid, null, Probing.OnnxRuntimeLibrary.Directory, problem);
            return null;
        }

        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            return new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, new SourceLocation(modelPath), e.Message.ReplaceLineEndings(" "));
            return null;
        }
    }

    /// <summary>The drafted manifest's text: the image input and its preprocessing as the input's shape suggests, the output, the kind's sections and the labels.</summary>
    private static string ManifestText(string modelPath, string kind, string inputName, NodeMetadata inputMetadata, string outputName, Kinds.KindDraft kindDraft, IReadOnlyList<string> labels, string? schema)
    {
        var dims = inputMetadata.Dimensions;
        var nhwc = dims[1] is not (1 or 3) && dims[3] is 1 or 3;
        var channels = nhwc ? dims[3] : dims[1];
        var color = channels == 1 ? "grayscale" : "rgb";
        var shape = string.Join(", ", dims.Select((d, i) => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : Quote(inputMetadata.SymbolicDimensions.ElementAtOrDefault(i) is { Length: > 0 } s ? s : "batch")));
        var zeros = string.Join(", ", Enumerable.Repeat("0.0", channels));
        var ones = string.Join(", ", Enumerable.Repeat("1.0", channels));

        var manifest = new StringBuilder()
            .AppendLine("{")
            .AppendLine($"  // Drafted by 'ktu init' from {Path.GetFileName(modelPath)}. {kindDraft.Note}");
        if (schema is not null)
        {
            manifest.AppendLine($"  \"$schema\": {Quote(schema)},");
        }

        manifest
            .AppendLine("  \"ktuManifest\": 1,")
            .AppendLine($"  \"kind\": {Quote(kind)},")
            .AppendLine($"  \"input\": {{ \"name\": {Quote(inputName)}, \"shape\": [{shape}], \"layout\": \"{(nhwc ? "NHWC" : "NCHW")}\" }},")
            .AppendLine($"  \"preprocess\": {{ \"color\": \"{color}\", \"scale\": 0.00392156862745098, \"mean\": [{zeros}], \"std\": [{ones}] }},")
            .AppendLine($"  \"output\": {{ \"name\": {Quote(outputName)} }},");
        foreach (var section in kindDraft.Sections)
        {
            manifest.AppendLine("  " + section);
        }

        manifest
            .AppendLine($"  \"labels\": [{string.Join(", ", labels.Select(Quote))}],")
            .AppendLine("  \"coarse\": {}")
            .AppendLine("}");

        return manifest.ToString();
    }

    /// <summary>The first float output of a text tower (its token embeddings), read from the ONNX file.</summary>
    /// <param name="towerPath">The text tower's ONNX file.</param>
    /// <param name="diagnostics">Why it could not be read.</param>
    /// <returns>The output's name, or null.</returns>
    public static string? TextTowerOutput(string towerPath, DiagnosticBag diagnostics)
    {
        using var session = OpenModel(towerPath, diagnostics);
        if (session is null)
        {
            return null;
        }

        var output = session.OutputMetadata.FirstOrDefault(o => o.Value.ElementDataType == TensorElementType.Float);
        if (output.Key is null)
        {
            diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, new SourceLocation(towerPath), "The text tower has no float output (token embeddings)");
        }

        return output.Key;
    }

    /// <summary>A policy that forgets the first label and keeps the others, for the user to rewrite.</summary>
    private static string DraftPolicy(IReadOnlyList<string> labels, string? schema)
    {
        var first = labels[0];
        var policy = new StringBuilder()
            .AppendLine("{")
            .AppendLine("  // Drafted by 'ktu init'. Name the concept to forget and those to keep, and put exemplar images under exemplars/.")
            .Append(schema is null ? "" : $"  \"$schema\": {Quote(schema)},{Environment.NewLine}")
            .AppendLine("  \"ktuPolicy\": 1,")
            .AppendLine($"  \"id\": {Quote("forget-" + first)},")
            .AppendLine("  \"request\": { \"requestedBy\": \"who asked\", \"reason\": \"why the model must not know it\" },")
            .AppendLine("  \"concepts\": {")
            .AppendLine(string.Join(",\n", labels.Select(l => $"    {Quote(l)}: {{ \"exemplars\": [{Quote($"exemplars/{l}/*.png")}] }}")))
            .AppendLine("  },")
            .AppendLine("  \"forget\": [")
            .AppendLine($"    {{ \"concept\": {Quote(first)}, \"level\": \"fine\", \"maxAccuracy\": 0.05 }}")
            .AppendLine("  ],")
            .AppendLine("  \"retain\": [")
            .AppendLine(string.Join(",\n", labels.Skip(1).Select(l => $"    {{ \"concept\": {Quote(l)}, \"level\": \"fine\", \"minAccuracy\": 0.8 }}")))
            .AppendLine("  ],")
            .AppendLine("  \"remedy\": { \"allowed\": false }")
            .AppendLine("}")
            .ToString();
        return policy;
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
