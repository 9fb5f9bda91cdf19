using Google.Protobuf;
using KtuGate.Diagnostics;
using Onnx;

namespace KtuGate.Onnx;

/// <summary>A linear layer whose weight is a constant of the graph: where unlearning edits a model.</summary>
/// <param name="Node">The MatMul or Gemm node's name (or its output when unnamed).</param>
/// <param name="Input">The activation tensor that feeds it.</param>
/// <param name="Weight">The weight initializer.</param>
/// <param name="Bias">The bias initializer, if the layer has one.</param>
/// <param name="Inputs">Input features.</param>
/// <param name="Outputs">Output features.</param>
/// <param name="WeightIsOutByIn">Whether the weight is stored [out, in] (Gemm with transB) rather than [in, out].</param>
public sealed record EditSite(string Node, string Input, string Weight, string? Bias, int Inputs, int Outputs, bool WeightIsOutByIn);

/// <summary>Reads, inspects and rewrites ONNX models (protobuf through OnnxSharp's generated classes).</summary>
public static class OnnxGraph
{
    /// <summary>Reads a model; external-data tensors are checked to stay inside the model's folder.</summary>
    /// <returns>The model, or null with KTU4002 (an escaping external-data path) or KTU2002.</returns>
    public static ModelProto? Load(string path, DiagnosticBag diagnostics)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or IOException)
        {
            diagnostics.Add(DiagnosticCodes.ModelUnloadable, new SourceLocation(path), e.Message);
            return null;
        }

        var folder = Path.GetFullPath(Path.GetDirectoryName(Path.GetFullPath(path))!) + Path.DirectorySeparatorChar;
        foreach (var tensor in model.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            var location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? string.Empty;
            var full = Path.GetFullPath(Path.Combine(folder, location));
            if (location.Length == 0 || Path.IsPathRooted(location) || !full.StartsWith(folder, StringComparison.Ordinal))
            {
                diagnostics.Add(DiagnosticCodes.ExternalDataEscapes, new SourceLocation(path), tensor.Name, location);
            }
        }

        return diagnostics.HasErrors ? null : model;
    }

    /// <summary>The external-data files a model refers to, relative to its folder.</summary>
    public static IReadOnlyList<string> ExternalFiles(ModelProto model)
        => model.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .Select(t => t.ExternalData.First(e => e.Key == "location").Value).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>The last linear layer with a constant weight on the way to <paramref name="output"/>, or the one named <paramref name="node"/>.</summary>
    public static EditSite? FindSite(ModelProto model, string output, string? node = null)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var producers = new Dictionary<string, NodeProto>();
        foreach (var n in model.Graph.Node)
        {
            foreach (var o in n.Output)
            {
                producers[o] = n;
            }
        }

        var queue = new Queue<string>([output]);
        var seen = new HashSet<string>();
        while (queue.Count > 0)
        {
            if (!producers.TryGetValue(queue.Dequeue(), out var n) || !seen.Add(n.Output[0]))
            {
                continue;
            }

            var name = n.Name.Length > 0 ? n.Name : n.Output[0];
            var site = n.OpType switch
            {
                "Gemm" => GemmSite(n, name, initializers),
                "MatMul" => MatMulSite(n, name, initializers, model.Graph.Node),
                _ => null,
            };
            if (site is not null && (node is null || node == site.Node))
            {
                return site;
            }

            foreach (var input in n.Input.Where(i => !initializers.ContainsKey(i)))
            {
                queue.Enqueue(input);
            }
        }

        return null;
    }

    /// <summary>The model with one more graph output, so that a run also returns <paramref name="tensor"/>.</summary>
    public static byte[] WithOutput(ModelProto model, string tensor)
    {
        var copy = model.Clone();
        if (copy.Graph.Output.All(o => o.Name != tensor))
        {
            copy.Graph.Output.Add(new ValueInfoProto
            {
                Name = tensor,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        return copy.ToByteArray();
    }

    /// <summary>Reads a site's weight as [out, in] and its bias (zeros where it has none).</summary>
    public static (double[,] Weight, double[] Bias) ReadSite(ModelProto model, EditSite site, string modelFolder)
    {
        var w = Floats(model.Graph.Initializer.Single(t => t.Name == site.Weight), modelFolder);
        var weight = new double[site.Outputs, site.Inputs];
        for (var o = 0; o < site.Outputs; o++)
        {
            for (var i = 0; i < site.Inputs; i++)
            {
                weight[o, i] = site.WeightIsOutByIn ? w[o * site.Inputs + i] : w[i * site.Outputs + o];
            }
        }

        var bias = site.Bias is null ? new double[site.Outputs] : Floats(model.Graph.Initializer.Single(t => t.Name == site.Bias), modelFolder).Select(f => (double)f).ToArray();
        return (weight, bias);
    }

    /// <summary>A copy of the model with the site's weight and bias replaced (stored inline), as bytes.</summary>
    public static byte[] WithSite(ModelProto model, EditSite site, double[,] weight, double[] bias)
    {
        var copy = model.Clone();
        var values = new float[site.Outputs * site.Inputs];
        for (var o = 0; o < site.Outputs; o++)
        {
            for (var i = 0; i < site.Inputs; i++)
            {
                values[site.WeightIsOutByIn ? o * site.Inputs + i : i * site.Outputs + o] = (float)weight[o, i];
            }
        }

        Replace(copy, site.Weight, values);
        if (site.Bias is not null)
        {
            Replace(copy, site.Bias, bias.Select(b => (float)b).ToArray());
        }
        else if (bias.Any(b => b != 0))
        {
            throw new InvalidOperationException("The edit site has no bias to hold a changed bias.");
        }

        return copy.ToByteArray();
    }

    private static void Replace(ModelProto model, string name, float[] values)
    {
        var tensor = model.Graph.Initializer.Single(t => t.Name == name);
        tensor.FloatData.Clear();
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        tensor.RawData = ByteString.CopyFrom(bytes);
    }

    private static float[] Floats(TensorProto tensor, string modelFolder)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is not float32.");
        }

        if (tensor.FloatData.Count > 0)
        {
            return [.. tensor.FloatData];
        }

        byte[] raw;
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            using var stream = File.OpenRead(Path.Combine(modelFolder, entries["location"]));
            var offset = entries.TryGetValue("offset", out var o) ? long.Parse(o, System.Globalization.CultureInfo.InvariantCulture) : 0;
            var length = entries.TryGetValue("length", out var l) ? long.Parse(l, System.Globalization.CultureInfo.InvariantCulture) : stream.Length - offset;
            raw = new byte[length];
            stream.Seek(offset, SeekOrigin.Begin);
            stream.ReadExactly(raw);
        }
        else
        {
            raw = tensor.RawData.ToByteArray();
        }

        var values = new float[raw.Length / 4];
        Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
        return values;
    }

    private static EditSite? GemmSite(NodeProto n, string name, Dictionary<string, TensorProto> initializers)
    {
        long Attr(string a, long fallback) => n.Attribute.FirstOrDefault(x => x.Name == a)?.I ?? fallback;
        float FAttr(string a) => n.Attribute.FirstOrDefault(x => x.Name == a)?.F ?? 1f;
        if (n.Input.Count < 2 || !initializers.TryGetValue(n.Input[1], out var w) || w.Dims.Count != 2 || Attr("transA", 0) != 0 || FAttr("alpha") != 1f || FAttr("beta") != 1f)
        {
            return null;
        }

        var transB = Attr("transB", 0) == 1;
        var bias = n.Input.Count > 2 && initializers.TryGetValue(n.Input[2], out var c) && c.Dims.Count == 1 ? c.Name : null;
        return new EditSite(name, n.Input[0], w.Name, bias, (int)(transB ? w.Dims[1] : w.Dims[0]), (int)(transB ? w.Dims[0] : w.Dims[1]), transB);
    }

    private static EditSite? MatMulSite(NodeProto n, string name, Dictionary<string, TensorProto> initializers, IEnumerable<NodeProto> nodes)
    {
        if (n.Input.Count != 2 || !initializers.TryGetValue(n.Input[1], out var w) || w.Dims.Count != 2)
        {
            return null;
        }

        // A following Add of a 1-D constant is the layer's bias.
        var add = nodes.FirstOrDefault(x => x.OpType == "Add" && x.Input.Contains(n.Output[0]));
        var bias = add?.Input.FirstOrDefault(i => i != n.Output[0] && initializers.TryGetValue(i, out var b) && b.Dims.Count == 1 && b.Dims[0] == w.Dims[1]);
        return new EditSite(name, n.Input[0], w.Name, bias, (int)w.Dims[0], (int)w.Dims[1], false);
    }
}
