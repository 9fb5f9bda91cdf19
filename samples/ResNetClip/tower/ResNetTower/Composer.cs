using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace ResNetTower;

/// <summary>Composes ML.NET's ResNet-18 preprocessing and network, a flatten and (optionally) the trained projection into one ONNX graph with a free batch dimension.</summary>
internal static class Composer
{
    /// <summary>ResNet-18's pooled feature width.</summary>
    public const int FeatureWidth = 512;

    /// <summary>The text tower's (all-MiniLM-L6-v2) embedding width, which the projection maps into.</summary>
    public const int EmbeddingWidth = 384;

    /// <summary>The backbone's output: ResNet-18's pooled features, flattened to [batch, 512].</summary>
    public const string FeaturesOutput = "features";

    private const string ImageInput = "image";
    private const string ResNetInput = "Input247";
    private const string ResNetOutput = "Pooling395_Output_0";
    private const string PreprocessInput = "OriginalInput";
    private const string PreprocessOutput = "PreprocessedInput";

    /// <summary>The default-domain opset the composed graph is written in: the lowest the gate's gradient builder differentiates (scope <c>all</c>).</summary>
    private const int Opset = 13;

    /// <summary>The IR version opset 13 needs.</summary>
    private const long IrVersion = 7;

    /// <summary>The op types of ML.NET's two graphs, whose forms are the same in opset 8 and 13 but for the ones <see cref="Raise"/> rewrites.</summary>
    private static readonly HashSet<string> s_sameInOpset13 = ["Conv", "BatchNormalization", "Relu", "Add", "Sub", "Split", "Concat", "MaxPool", "AveragePool"];

    /// <summary>Writes the backbone and, given a projection, the image tower; returns the exit code.</summary>
    public static int Run(string preprocessPath, string resnetPath, string outputFolder, string? projectionPath)
    {
        var preprocess = ModelProto.Parser.ParseFrom(File.ReadAllBytes(preprocessPath));
        var resnet = ModelProto.Parser.ParseFrom(File.ReadAllBytes(resnetPath));
        var problem = Expect(preprocess, PreprocessInput, PreprocessOutput) ?? Expect(resnet, ResNetInput, ResNetOutput);
        if (problem is not null)
        {
            Console.Error.WriteLine($"Not the ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1: {problem}");
            return 1;
        }

        Directory.CreateDirectory(outputFolder);
        var backbone = Backbone(preprocess, resnet, raise: true);
        var changed = FeaturesChanged(Backbone(preprocess, resnet, raise: false), backbone);
        if (changed is not null)
        {
            Console.Error.WriteLine($"The backbone raised to opset {Opset} does not compute ML.NET's opset-{resnet.OpsetImport.Single().Version} features: {changed}");
            return 1;
        }

        Write(backbone, Path.Combine(outputFolder, "resnet18-backbone.onnx"));
        if (projectionPath is null)
        {
            return 0;
        }

        var bytes = File.ReadAllBytes(projectionPath);
        const int expected = (EmbeddingWidth * FeatureWidth + EmbeddingWidth) * sizeof(float);
        if (bytes.Length != expected)
        {
            Console.Error.WriteLine($"{projectionPath}: {bytes.Length} bytes, but a {FeatureWidth}->{EmbeddingWidth} projection (float32 weight [out, in], then bias) has {expected}");
            return 1;
        }

        Write(WithProjection(backbone, bytes), Path.Combine(outputFolder, "resnet-clip.onnx"));
        return 0;
    }

    private static string? Expect(ModelProto model, string input, string output)
        => model.Graph.Input.Select(i => i.Name).SequenceEqual([input]) && model.Graph.Output.Select(o => o.Name).SequenceEqual([output])
            ? null
            : $"graph '{model.Graph.Name}' has inputs [{string.Join(", ", model.Graph.Input.Select(i => i.Name))}] and outputs [{string.Join(", ", model.Graph.Output.Select(o => o.Name))}], expected [{input}] and [{output}]";

    /// <summary>Image (RGB, 0-255) to ResNet-18's 512 pooled features: ML.NET's preprocessing graph feeds the network exactly as ML.NET's featurizer does.</summary>
    /// <param name="preprocess">ML.NET's preprocessing graph.</param>
    /// <param name="resnet">ML.NET's ResNet-18.</param>
    /// <param name="raise">Whether the nodes are raised to opset 13 (<see cref="Raise"/>), as the gate's gradient builder needs them; else ML.NET's opset-8 graph.</param>
    private static ModelProto Backbone(ModelProto preprocess, ModelProto resnet, bool raise)
    {
        var graph = new GraphProto { Name = "resnet18-backbone" };
        graph.Input.Add(Tensor(ImageInput, "batch", 3, 224, 224));
        foreach (var node in preprocess.Graph.Node)
        {
            var copy = raise ? Raise(node, graph) : node.Clone();
            Rename(copy.Input, PreprocessInput, ImageInput);
            Rename(copy.Output, PreprocessOutput, ResNetInput);
            if (copy.Name.Length == 0)
            {
                copy.Name = $"/preprocess/{copy.OpType}";
            }

            graph.Node.Add(copy);
        }

        // The shapes CNTK recorded for inner tensors say batch 1; ONNX Runtime infers them again for any batch.
        graph.Node.Add(resnet.Graph.Node.Select(n => raise ? Raise(n, graph) : n.Clone()));
        graph.Node.Add(Node("Flatten", "/backbone/Flatten", [ResNetOutput], FeaturesOutput, Int("axis", 1)));
        graph.Initializer.Add(preprocess.Graph.Initializer);
        graph.Initializer.Add(resnet.Graph.Initializer);
        graph.Output.Add(Tensor(FeaturesOutput, "batch", FeatureWidth));
        var duplicate = graph.Initializer.Select(i => i.Name).GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Initializer '{duplicate.Key}' is in both graphs.");
        }

        var model = new ModelProto
        {
            IrVersion = raise ? Math.Max(resnet.IrVersion, IrVersion) : resnet.IrVersion,
            ProducerName = "KtuGate samples/ResNetClip ResNetTower",
            DocString = "ResNet-18 (ImageNet) of NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 with ML.NET's ResNet preprocessing (RGB to BGR, minus the mean image); input RGB pixels 0-255.",
            Graph = graph,
        };
        model.OpsetImport.Add(raise ? [new OperatorSetIdProto { Domain = "", Version = Opset }] : resnet.OpsetImport);
        return model;
    }

    /// <summary>
    /// Runs both backbones on the same two images (a fixed pattern of pixels 0-255) with ONNX Runtime; null where their features agree
    /// (within 1e-5 of the largest feature: the same kernels run, so they agree to the bit in practice), else what differs. The projection
    /// was trained on the opset-8 graph's features, so a raised graph that computed others would not be the tower the sample describes.
    /// </summary>
    private static string? FeaturesChanged(ModelProto original, ModelProto raised)
    {
        var pixels = Enumerable.Range(0, 2 * 3 * 224 * 224).Select(i => (float)(i * 37 % 256)).ToArray();
        float[] Features(ModelProto model)
        {
            using var session = new InferenceSession(model.ToByteArray());
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [2, 3, 224, 224]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [ImageInput], [input], [FeaturesOutput]);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var (expected, actual) = (Features(original), Features(raised));
        if (expected.Length != actual.Length)
        {
            return $"{actual.Length} features, expected {expected.Length}";
        }

        var largest = expected.Max(Math.Abs);
        var difference = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"Checked: the opset-{Opset} backbone's features differ from the opset-8 graph's by at most {difference:G3} (largest feature {largest:G3}).");
        return difference <= 1e-5f * largest ? null : $"a feature differs by {difference:G3}, above 1e-5 of the largest ({largest:G3})";
    }

    /// <summary>
    /// A copy of one of ML.NET's opset-8 nodes in opset 13: Split's sizes become its second input (an initializer), BatchNormalization
    /// loses <c>spatial</c> (opset 9 made per-channel statistics, <c>spatial</c> 1, the only form). Any other op or form stops the composer:
    /// the outputs must be the opset-8 graph's, which the projection was trained on.
    /// </summary>
    private static NodeProto Raise(NodeProto node, GraphProto graph)
    {
        if (node.Domain is not ("" or "ai.onnx") || !s_sameInOpset13.Contains(node.OpType))
        {
            throw new InvalidOperationException($"Node '{node.Name}' ({node.Domain}:{node.OpType}) is not one the composer raises to opset {Opset}.");
        }

        var copy = node.Clone();
        if (copy.OpType == "Split" && copy.Attribute.FirstOrDefault(a => a.Name == "split") is { } split)
        {
            var sizes = new TensorProto { Name = $"{(copy.Name.Length > 0 ? copy.Name : copy.Output[0])}/split", DataType = (int)TensorProto.Types.DataType.Int64 };
            sizes.Dims.Add(split.Ints.Count);
            sizes.Int64Data.Add(split.Ints);
            graph.Initializer.Add(sizes);
            copy.Input.Add(sizes.Name);
            copy.Attribute.Remove(split);
        }

        if (copy.OpType == "BatchNormalization" && copy.Attribute.FirstOrDefault(a => a.Name == "spatial") is { } spatial)
        {
            if (spatial.I != 1)
            {
                throw new InvalidOperationException($"Node '{node.Name}': BatchNormalization with spatial {spatial.I} has no opset-{Opset} form.");
            }

            copy.Attribute.Remove(spatial);
        }

        return copy;
    }

    /// <summary>The backbone followed by the trained projection (<c>/proj/Gemm</c>, the edit site) and L2 normalisation, as a CLIP image tower ends.</summary>
    private static ModelProto WithProjection(ModelProto backbone, byte[] projection)
    {
        var model = backbone.Clone();
        var graph = model.Graph;
        graph.Name = "resnet-clip-image-tower";
        var weightBytes = EmbeddingWidth * FeatureWidth * sizeof(float);
        graph.Initializer.Add(Floats("proj.weight", projection.AsSpan(0, weightBytes), EmbeddingWidth, FeatureWidth));
        graph.Initializer.Add(Floats("proj.bias", projection.AsSpan(weightBytes), EmbeddingWidth));
        graph.Node.Add(Node("Gemm", "/proj/Gemm", [FeaturesOutput, "proj.weight", "proj.bias"], "/proj/Gemm_output_0", Int("transB", 1)));
        graph.Node.Add(Node("ReduceL2", "/norm/ReduceL2", ["/proj/Gemm_output_0"], "/norm/ReduceL2_output_0", Ints("axes", 1), Int("keepdims", 1)));
        graph.Initializer.Add(Floats("norm.min", BitConverter.GetBytes(1e-12f)));
        graph.Node.Add(Node("Clip", "/norm/Clip", ["/norm/ReduceL2_output_0", "norm.min"], "/norm/Clip_output_0"));
        graph.Node.Add(Node("Div", "/norm/Div", ["/proj/Gemm_output_0", "/norm/Clip_output_0"], "embedding"));
        graph.Output.Clear();
        graph.Output.Add(Tensor("embedding", "batch", EmbeddingWidth));
        model.DocString += " Then the ResNetClip projection (512 to 384, trained by samples/ResNetClip/train/train.py) and L2 normalisation: a unit-length embedding in all-MiniLM-L6-v2's space.";
        return model;
    }

    private static void Rename(Google.Protobuf.Collections.RepeatedField<string> names, string from, string to)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (names[i] == from)
            {
                names[i] = to;
            }
        }
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(output);
        node.Attribute.Add(attributes);
        return node;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.Add(values);
        return attribute;
    }

    private static TensorProto Floats(string name, ReadOnlySpan<byte> littleEndian, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(littleEndian) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    private static ValueInfoProto Tensor(string name, string batch, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        shape.Dim.Add(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    /// <summary>Writes atomically (temporary file, then rename), so a reader never sees half a model.</summary>
    private static void Write(ModelProto model, string path)
    {
        var bytes = model.ToByteArray();
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
        Console.WriteLine($"Wrote {path} ({bytes.Length} bytes)");
    }
}
