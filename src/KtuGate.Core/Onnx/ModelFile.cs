using Google.Protobuf;
using KtuGate.Diagnostics;
using Onnx;

namespace KtuGate.Onnx;

/// <summary>Reads an ONNX model file and checks it before ONNX Runtime (or an edit) touches it: its external data and its declared sizes.</summary>
public static class ModelFile
{
    /// <summary>Parses and checks a model.</summary>
    /// <param name="path">The model file (its folder holds its external data).</param>
    /// <param name="bytes">The model's bytes when held in memory, or null to read <paramref name="path"/>.</param>
    /// <param name="limits">What the model may declare.</param>
    /// <param name="diagnostics">Receives KTU2002 (not a model), KTU4002 and KTU2025–KTU2027 (external data), KTU2028 (too large).</param>
    /// <returns>The model, or null with errors.</returns>
    public static ModelProto? Load(string path, byte[]? bytes, ModelLimits limits, DiagnosticBag diagnostics)
    {
        var location = new SourceLocation(path);
        ModelProto model;
        try
        {
            if (bytes is null)
            {
                if (ContainedFile.NotRegularFile(path) is { } problem)
                {
                    diagnostics.Add(DiagnosticCodes.ModelUnloadable, location, problem);
                    return null;
                }

                var length = new FileInfo(path).Length;
                if (length > Math.Min(limits.MaxMemoryBytes, int.MaxValue))
                {
                    diagnostics.Add(DiagnosticCodes.ModelTooLarge, location, "the model file", length, Math.Min(limits.MaxMemoryBytes, int.MaxValue));
                    return null;
                }

                bytes = File.ReadAllBytes(path);
            }

            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException or UnauthorizedAccessException)
        {
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, location, e.Message);
            return null;
        }

        if (model.Graph is null)
        {
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, location, "the file holds no graph");
            return null;
        }

        var before = diagnostics.Items.Count;
        var external = ExternalData.Check(model, path, diagnostics);
        CheckDeclaredSizes(model, path, limits, external, diagnostics);
        return diagnostics.Items.Skip(before).Any(d => d.Severity == DiagnosticSeverity.Error) ? null : model;
    }

    /// <summary>The bytes every tensor of the model (initializers, constants, subgraphs' tensors) declares: what its weights take in memory.</summary>
    public static double WeightBytes(ModelProto model) => ExternalData.Tensors(model).Sum(TensorBytes);

    private static double TensorBytes(TensorProto tensor) => (double)(ExternalData.ExpectedBytes(tensor) ?? tensor.StringData.Sum(s => (long)s.Length));

    /// <summary>Refuses a model whose tensors, as declared, would need more memory than the limit: initializers, inputs and outputs at the batch size, and constant shapes of Reshape, Expand and ConstantOfShape.</summary>
    public static void CheckDeclaredSizes(ModelProto model, string path, ModelLimits limits, IReadOnlyList<ExternalTensor>? external, DiagnosticBag diagnostics)
    {
        var location = new SourceLocation(path);
        var max = limits.MaxMemoryBytes;
        double total = 0;
        foreach (var tensor in ExternalData.Tensors(model))
        {
            var bytes = TensorBytes(tensor);
            total += bytes;
            if (bytes > max)
            {
                diagnostics.Add(DiagnosticCodes.ModelTooLarge, location, $"tensor '{tensor.Name}'", Bytes(bytes), max);
                return;
            }
        }

        if (total > max)
        {
            diagnostics.Add(DiagnosticCodes.ModelTooLarge, location, "the initializers together", Bytes(total), max);
            return;
        }

        foreach (var value in model.Graph.Input.Concat(model.Graph.Output).Concat(model.Graph.ValueInfo))
        {
            if (value.Type?.TensorType is not { } type || type.Shape is null)
            {
                continue;
            }

            // A symbolic dimension is counted at the batch size: what the probes will feed.
            var bytes = (double)(ExternalData.ElementSize(type.ElemType) ?? 1);
            foreach (var dim in type.Shape.Dim)
            {
                bytes *= dim.DimValue > 0 ? dim.DimValue : limits.BatchSize;
            }

            if (bytes > max)
            {
                diagnostics.Add(DiagnosticCodes.ModelTooLarge, location, $"tensor '{value.Name}' (at batch size {limits.BatchSize})", Bytes(bytes), max);
                return;
            }
        }

        var constants = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var node in model.Graph.Node.Where(n => n.OpType == "Constant"))
        {
            if (node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value && node.Output.Count > 0)
            {
                constants[node.Output[0]] = value;
            }
        }

        foreach (var node in model.Graph.Node)
        {
            var shapeInput = node.OpType switch
            {
                "Reshape" or "Expand" when node.Input.Count > 1 => node.Input[1],
                "ConstantOfShape" when node.Input.Count > 0 => node.Input[0],
                _ => null,
            };
            if (shapeInput is null || !constants.TryGetValue(shapeInput, out var shape) || shape.DataType != (int)TensorProto.Types.DataType.Int64
                || shape.DataLocation == TensorProto.Types.DataLocation.External)
            {
                continue;
            }

            // At least one byte per element (Reshape's 0 and -1 copy or infer a dimension: counted as 1).
            var elements = 1.0;
            foreach (var d in Int64s(shape))
            {
                elements *= d > 0 ? d : 1;
            }

            if (elements > max)
            {
                diagnostics.Add(DiagnosticCodes.ModelTooLarge, location, $"the output of {node.OpType} node '{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault())}'", Bytes(elements), max);
                return;
            }
        }
    }

    internal static string Bytes(double bytes) => bytes >= long.MaxValue ? "more than 9.2e18" : ((long)bytes).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static IEnumerable<long> Int64s(TensorProto tensor)
    {
        if (tensor.Int64Data.Count > 0)
        {
            return tensor.Int64Data;
        }

        var raw = tensor.RawData.Span;
        var values = new long[raw.Length / 8];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]);
        }

        return values;
    }
}
