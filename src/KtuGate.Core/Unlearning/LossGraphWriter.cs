using KtuGate.Gradients;
using Onnx;

namespace KtuGate.Unlearning;

/// <summary>
/// Writes a loss sub-graph in float64 for <see cref="GradientBuilder"/>: nodes, constants and fed inputs, each named under one prefix so
/// that they never meet a model's own names. <see cref="MethodLoss"/> (class scores) and a decoder's token loss (Kinds/CausalLm/TokenLoss.cs) write theirs here.
/// </summary>
internal sealed class LossGraphWriter(string prefix)
{
    private readonly List<NodeProto> _nodes = [];
    private readonly List<TensorProto> _constants = [];

    /// <summary>How many nodes have been written (each node's name and output are numbered by it).</summary>
    public int Next { get; private set; }

    /// <summary>Adds a node and returns its output's name.</summary>
    public string Op(string op, string[] inputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{prefix}/{op}/{Next}" };
        node.Input.AddRange(inputs);
        node.Output.Add($"{prefix}/{op}/{Next++}");
        node.Attribute.AddRange(attributes);
        _nodes.Add(node);
        return node.Output[0];
    }

    /// <summary>Adds the node that writes the loss tensor itself, named <paramref name="loss"/>.</summary>
    public void Final(string op, string[] inputs, string loss, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = loss };
        node.Input.AddRange(inputs);
        node.Output.Add(loss);
        node.Attribute.AddRange(attributes);
        _nodes.Add(node);
    }

    /// <summary>A float64 constant of shape <paramref name="dims"/> (none: a scalar).</summary>
    public string Double(string name, long[] dims, IEnumerable<double> values)
    {
        var tensor = new TensorProto { Name = $"{prefix}/{name}", DataType = (int)TensorProto.Types.DataType.Double };
        tensor.Dims.AddRange(dims);
        tensor.DoubleData.AddRange(values);
        _constants.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A one-dimensional int64 constant (axes, shapes).</summary>
    public string Int64(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = $"{prefix}/{name}", DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _constants.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A fed float64 input's description: each dimension a fixed size, or a symbolic name.</summary>
    public static ValueInfoProto Input(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(dim, System.Globalization.CultureInfo.InvariantCulture) });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Double, Shape = shape } } };
    }

    /// <summary>The loss sub-graph written so far.</summary>
    public LossGraph Graph(string loss, IReadOnlyList<ValueInfoProto> inputs) => new(_nodes, loss, inputs, _constants);
}
