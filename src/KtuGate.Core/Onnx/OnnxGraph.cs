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

/// <summary>New values for one initializer of a model: what a candidate edit changes.</summary>
/// <param name="Name">The initializer's name.</param>
/// <param name="Values">Its values, float32, in the order the model stores them.</param>
/// <param name="Shape">Its shape, as the model declares it.</param>
public sealed record InitializerOverride(string Name, float[] Values, long[] Shape);

/// <summary>Reads, inspects and rewrites ONNX models (protobuf through OnnxSharp's generated classes).</summary>
public static class OnnxGraph
{
    /// <summary>Reads a model and checks its external data and declared sizes (see <see cref="ModelFile.Load"/>) before anything reads its bytes.</summary>
    /// <returns>The model, or null with a coded error (KTU2002, KTU4002, KTU2025–KTU2028).</returns>
    public static ModelProto? Load(string path, DiagnosticBag diagnostics, ModelLimits? limits = null)
        => ModelFile.Load(path, null, limits ?? ModelLimits.Default, diagnostics);

    /// <summary>The external-data files a model refers to, relative to its folder.</summary>
    public static IReadOnlyList<string> ExternalFiles(ModelProto model) => ExternalData.Files(model);

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
    public static byte[] WithOutput(ModelProto model, string tensor) => WithOutputs(model, [tensor]);

    /// <summary>The model with more graph outputs (float32 tensors), so that a run also returns each of <paramref name="tensors"/>.</summary>
    public static byte[] WithOutputs(ModelProto model, IEnumerable<string> tensors)
    {
        var copy = model.Clone();
        foreach (var tensor in tensors)
        {
            if (copy.Graph.Output.All(o => o.Name != tensor))
            {
                copy.Graph.Output.Add(new ValueInfoProto
                {
                    Name = tensor,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
                });
            }
        }

        return copy.ToByteArray();
    }

    /// <summary>Reads a site's weight as [out, in] and its bias (zeros where it has none); external data is read beside <paramref name="modelPath"/> under <see cref="ExternalData"/>'s rules.</summary>
    /// <exception cref="ExternalDataException">A tensor's external data is refused.</exception>
    public static (double[,] Weight, double[] Bias) ReadSite(ModelProto model, EditSite site, string modelPath)
    {
        var w = Floats(model.Graph.Initializer.Single(t => t.Name == site.Weight), modelPath);
        var weight = new double[site.Outputs, site.Inputs];
        for (var o = 0; o < site.Outputs; o++)
        {
            for (var i = 0; i < site.Inputs; i++)
            {
                weight[o, i] = site.WeightIsOutByIn ? w[o * site.Inputs + i] : w[i * site.Outputs + o];
            }
        }

        var bias = site.Bias is null ? new double[site.Outputs] : Floats(model.Graph.Initializer.Single(t => t.Name == site.Bias), modelPath).Select(f => (double)f).ToArray();
        return (weight, bias);
    }

    /// <summary>A copy of the model with the site's weight and bias replaced (stored inline), as bytes.</summary>
    public static byte[] WithSite(ModelProto model, EditSite site, double[,] weight, double[] bias) => WithInitializers(model, SiteInitializers(site, weight, bias));

    /// <summary>A copy of the model with each of <paramref name="initializers"/> replaced by its new float32 values (stored inline), as bytes; the model is not changed.</summary>
    /// <exception cref="InvalidOperationException">A name is not one initializer of the model, or its shape differs.</exception>
    public static byte[] WithInitializers(ModelProto model, IReadOnlyList<InitializerOverride> initializers)
    {
        var copy = model.Clone();
        foreach (var tensor in initializers)
        {
            if (!copy.Graph.Initializer.Single(t => t.Name == tensor.Name).Dims.SequenceEqual(tensor.Shape))
            {
                throw new InvalidOperationException($"The new values of '{tensor.Name}' do not have its shape.");
            }

            Replace(copy, tensor.Name, tensor.Values);
        }

        return copy.ToByteArray();
    }

    /// <summary>The site's new weight (in the layout the model stores it) and bias as float32 initializers, to write into a copy or to override in a session.</summary>
    /// <exception cref="InvalidOperationException">The bias changed, but the site has no bias initializer to hold it.</exception>
    public static IReadOnlyList<InitializerOverride> SiteInitializers(EditSite site, double[,] weight, double[] bias)
    {
        var values = new float[site.Outputs * site.Inputs];
        for (var o = 0; o < site.Outputs; o++)
        {
            for (var i = 0; i < site.Inputs; i++)
            {
                values[site.WeightIsOutByIn ? o * site.Inputs + i : i * site.Outputs + o] = (float)weight[o, i];
            }
        }

        var weightShape = site.WeightIsOutByIn ? new long[] { site.Outputs, site.Inputs } : [site.Inputs, site.Outputs];
        if (site.Bias is not null)
        {
            return [new(site.Weight, values, weightShape), new(site.Bias, bias.Select(b => (float)b).ToArray(), [site.Outputs])];
        }

        if (bias.Any(b => b != 0))
        {
            throw new InvalidOperationException("The edit site has no bias to hold a changed bias.");
        }

        return [new(site.Weight, values, weightShape)];
    }

    private static void Replace(ModelProto model, string name, float[] values)
    {
        var tensor = model.Graph.Initializer.Single(t => t.Name == name);
        tensor.DataType = (int)TensorProto.Types.DataType.Float;
        tensor.FloatData.Clear();
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        tensor.RawData = ByteString.CopyFrom(bytes);
    }

    private static float[] Floats(TensorProto tensor, string modelPath)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is not float32.");
        }

        if (tensor.FloatData.Count > 0)
        {
            return [.. tensor.FloatData];
        }

        var raw = tensor.DataLocation == TensorProto.Types.DataLocation.External ? ExternalData.Read(tensor, modelPath) : tensor.RawData.ToByteArray();
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
