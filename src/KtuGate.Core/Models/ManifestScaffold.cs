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

    /// <summary>Reads the model's first float image input and its first float <c>[batch, K]</c> output.</summary>
    /// <param name="modelPath">The ONNX model.</param>
    /// <param name="labels">Label names to use, or null for <c>label-0</c> … <c>label-(K-1)</c>.</param>
    /// <param name="diagnostics">Why no draft could be made.</param>
    /// <returns>The draft, or null.</returns>
    public static Draft? Create(string modelPath, IReadOnlyList<string>? labels, DiagnosticBag diagnostics)
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

        InferenceSession session;
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, new SourceLocation(modelPath), e.Message.ReplaceLineEndings(" "));
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

            var count = output.Value.Dimensions[1];
            labels ??= Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"label-{i}")).ToList();
            if (labels.Count != count)
            {
                diagnostics.Add(DiagnosticCodes.ManifestOutputMismatch, new SourceLocation(modelPath), $"Output '{output.Key}' has {count} scores, but {labels.Count} labels were given");
                return null;
            }

            var dims = input.Value.Dimensions;
            var nhwc = dims[1] is not (1 or 3) && dims[3] is 1 or 3;
            var channels = nhwc ? dims[3] : dims[1];
            var color = channels == 1 ? "grayscale" : "rgb";
            var shape = string.Join(", ", dims.Select((d, i) => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : Quote(input.Value.SymbolicDimensions.ElementAtOrDefault(i) is { Length: > 0 } s ? s : "batch")));
            var zeros = string.Join(", ", Enumerable.Repeat("0.0", channels));
            var ones = string.Join(", ", Enumerable.Repeat("1.0", channels));

            var manifest = new StringBuilder()
                .AppendLine("{")
                .AppendLine($"  // Drafted by 'ktu init' from {Path.GetFileName(modelPath)}. Check preprocess (mean/std), name the labels, group them under coarse concepts.")
                .AppendLine("  \"ktuManifest\": 1,")
                .AppendLine("  \"kind\": \"classifier\",")
                .AppendLine($"  \"input\": {{ \"name\": {Quote(input.Key)}, \"shape\": [{shape}], \"layout\": \"{(nhwc ? "NHWC" : "NCHW")}\" }},")
                .AppendLine($"  \"preprocess\": {{ \"color\": \"{color}\", \"scale\": 0.00392156862745098, \"mean\": [{zeros}], \"std\": [{ones}] }},")
                .AppendLine($"  \"output\": {{ \"name\": {Quote(output.Key)} }},")
                .AppendLine($"  \"labels\": [{string.Join(", ", labels.Select(Quote))}],")
                .AppendLine("  \"coarse\": {}")
                .AppendLine("}")
                .ToString();

            var policy = DraftPolicy(labels);
            return new Draft(manifest, policy, labels);
        }
    }

    /// <summary>A policy that forgets the first label and keeps the others, for the user to rewrite.</summary>
    private static string DraftPolicy(IReadOnlyList<string> labels)
    {
        var first = labels[0];
        var policy = new StringBuilder()
            .AppendLine("{")
            .AppendLine("  // Drafted by 'ktu init'. Name the concept to forget and those to keep, and put exemplar images under exemplars/.")
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
