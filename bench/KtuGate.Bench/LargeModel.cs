using System.Globalization;
using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Onnx;
using Onnx;

/// <summary>
/// Writes a synthetic model whose weights exceed 2 GiB, held as ONNX external data, for bench/large-model.sh (issue #14 item 3):
/// FashionGate's classifier behind a [784, width] MatMul whose weight is the identity in its first 784 columns and zero elsewhere,
/// followed by a Slice back to the first 784. The model classifies exactly as FashionGate does, while ONNX Runtime really multiplies
/// every image by the whole weight. Nothing here is committed: the script writes it to a scratch folder and removes it.
/// </summary>
internal static class LargeModel
{
    /// <summary>The wide weight's name; its bytes lie in <c>NAME.data</c> beside the model.</summary>
    private const string WideWeight = "wide.weight";

    public static void Write(string root, string folder, int width)
    {
        const int pixels = 28 * 28;
        if (width < pixels)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "the wide layer must keep every pixel");
        }

        var sample = Path.Combine(root, "samples", "FashionGate", "artifacts");
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(Path.Combine(sample, "fashion-classifier.onnx"), diagnostics) ?? throw new InvalidOperationException(string.Join("; ", diagnostics.Items));
        var graph = model.Graph;
        const string through = "image_through_wide";
        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == "image")
                {
                    node.Input[i] = through;
                }
            }
        }

        TensorProto Ints(string name, params long[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            return t;
        }

        var dataFile = "large-classifier.onnx.data";
        var wide = new TensorProto { Name = WideWeight, DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        wide.Dims.AddRange([pixels, width]);
        var bytes = (long)pixels * width * sizeof(float);
        wide.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFile });
        wide.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        wide.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.ToString(CultureInfo.InvariantCulture) });
        graph.Initializer.Add(wide);
        graph.Initializer.Add(Ints("flat.shape", -1, pixels));
        graph.Initializer.Add(Ints("image.shape", -1, 1, 28, 28));
        graph.Initializer.Add(Ints("keep.starts", 0));
        graph.Initializer.Add(Ints("keep.ends", pixels));
        graph.Initializer.Add(Ints("keep.axes", 1));
        NodeProto Node(string op, string name, string[] inputs, string output)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            return n;
        }

        NodeProto[] front =
        [
            Node("Reshape", "/wide/flatten", ["image", "flat.shape"], "/wide/flat"),
            Node("MatMul", "/wide/MatMul", ["/wide/flat", WideWeight], "/wide/out"),
            Node("Slice", "/wide/keep", ["/wide/out", "keep.starts", "keep.ends", "keep.axes"], "/wide/kept"),
            Node("Reshape", "/wide/unflatten", ["/wide/kept", "image.shape"], through),
        ];
        for (var i = front.Length - 1; i >= 0; i--)
        {
            graph.Node.Insert(0, front[i]);
        }

        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "large-classifier.onnx"), model.ToByteArray());
        File.Copy(Path.Combine(sample, "fashion-classifier.ktu.json"), Path.Combine(folder, "large-classifier.ktu.json"), overwrite: true);

        // Row r of the weight is one float 1 at column r: written a row at a time, never held whole.
        using var stream = new FileStream(Path.Combine(folder, dataFile), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var row = new byte[width * sizeof(float)];
        for (var r = 0; r < pixels; r++)
        {
            Array.Clear(row);
            BitConverter.TryWriteBytes(row.AsSpan(r * sizeof(float)), 1f);
            stream.Write(row);
        }

        Console.WriteLine($"{Path.Combine(folder, "large-classifier.onnx")}: weights {bytes / (1024.0 * 1024 * 1024):F2} GiB in {dataFile}");
    }
}
