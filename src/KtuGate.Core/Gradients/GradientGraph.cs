using Google.Protobuf;
using Onnx;

namespace KtuGate.Gradients;

/// <summary>Where the gradient rules write their nodes: fresh tensor names, constants in the trained weights' element type, and the shape helpers every rule shares.</summary>
/// <remarks>Every node written is a standard ONNX op (default domain, opset 17), so that ONNX Runtime's inference build runs the result.</remarks>
internal sealed class GradientGraph
{
    private readonly HashSet<string> _taken;
    private readonly HashSet<string> _requiresGradient;
    private readonly Dictionary<string, string> _shapes = [];
    private readonly Dictionary<(long[] Values, bool Scalar), string> _int64s = new(Int64Key.Comparer);
    private readonly Dictionary<double, string> _scalars = [];
    private readonly Dictionary<(double, string), string> _typedScalars = [];
    private int _next;

    public GradientGraph(IEnumerable<string> taken, HashSet<string> requiresGradient, int elementType, IReadOnlyDictionary<string, int>? initializerRanks = null)
    {
        _taken = [.. taken];
        _requiresGradient = requiresGradient;
        ElementType = elementType;
        InitializerRanks = initializerRanks ?? new Dictionary<string, int>();
    }

    /// <summary>The model's initializers' ranks, by name: what a rule may know of a tensor's shape before the graph runs.</summary>
    public IReadOnlyDictionary<string, int> InitializerRanks { get; }

    /// <summary>The ONNX element type of the trained weights (float or double), in which every constant is written.</summary>
    public int ElementType { get; }

    /// <summary>The nodes written so far, in the order they run.</summary>
    public List<NodeProto> Nodes { get; } = [];

    /// <summary>The constants written so far.</summary>
    public List<TensorProto> Constants { get; } = [];

    /// <summary>Whether <paramref name="tensor"/> depends on a trained weight, so that a rule must give its gradient.</summary>
    public bool Needs(string tensor) => tensor.Length > 0 && _requiresGradient.Contains(tensor);

    /// <summary>A tensor name no node or initializer of the model uses.</summary>
    public string Fresh(string hint)
    {
        string name;
        do
        {
            name = $"ktu_grad/{hint}/{_next++}";
        }
        while (!_taken.Add(name));
        return name;
    }

    /// <summary>Writes one node with one output and returns that output.</summary>
    public string Op(string opType, IEnumerable<string> inputs, params AttributeProto[] attributes) => OpN(opType, inputs, 1, attributes)[0];

    /// <summary>Writes one node with <paramref name="outputs"/> outputs and returns them.</summary>
    public string[] OpN(string opType, IEnumerable<string> inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Fresh(opType) };
        node.Input.AddRange(inputs);
        for (var i = 0; i < outputs; i++)
        {
            node.Output.Add(Fresh(opType));
        }

        node.Attribute.AddRange(attributes);
        Nodes.Add(node);
        return [.. node.Output];
    }

    /// <summary>A constant int64 vector (or scalar) such as axes, shapes or indices.</summary>
    public string Int64s(long[] values, bool scalar = false)
    {
        if (_int64s.TryGetValue((values, scalar), out var name))
        {
            return name;
        }

        var tensor = new TensorProto { Name = Fresh("const"), DataType = (int)TensorProto.Types.DataType.Int64 };
        if (!scalar)
        {
            tensor.Dims.Add(values.Length);
        }

        tensor.Int64Data.AddRange(values);
        Constants.Add(tensor);
        _int64s[(values, scalar)] = tensor.Name;
        return tensor.Name;
    }

    /// <summary>A scalar constant of the element type of <paramref name="like"/> (a loss may run in float64 over a float32 model).</summary>
    public string Scalar(double value, string like)
    {
        if (!_scalars.TryGetValue(value, out var name))
        {
            var tensor = ScalarTensor(value);
            tensor.Dims.Clear();
            tensor.Name = name = Fresh("const");
            Constants.Add(tensor);
            _scalars[value] = name;
        }

        if (!_typedScalars.TryGetValue((value, like), out var typed))
        {
            typed = Op("CastLike", [name, like]);
            _typedScalars[(value, like)] = typed;
        }

        return typed;
    }

    /// <summary>A one-element tensor of the element type holding <paramref name="value"/> (ConstantOfShape's value attribute).</summary>
    public TensorProto ScalarTensor(double value)
    {
        var tensor = new TensorProto { DataType = ElementType };
        tensor.Dims.Add(1);
        if (ElementType == (int)TensorProto.Types.DataType.Double)
        {
            tensor.DoubleData.Add(value);
        }
        else
        {
            tensor.FloatData.Add((float)value);
        }

        return tensor;
    }

    /// <summary>The runtime shape of <paramref name="tensor"/> (one Shape node per tensor).</summary>
    public string ShapeOf(string tensor)
    {
        if (!_shapes.TryGetValue(tensor, out var shape))
        {
            shape = Op("Shape", [tensor]);
            _shapes[tensor] = shape;
        }

        return shape;
    }

    /// <summary>Zeros of the element type with the shape <paramref name="shape"/> (an int64 vector tensor).</summary>
    public string ZerosOfShape(string shape) => Op("ConstantOfShape", [shape], Attr("value", ScalarTensor(0)));

    /// <summary>Sums <paramref name="gradient"/> over the axes along which <paramref name="target"/> was broadcast, then gives it <paramref name="target"/>'s shape.</summary>
    public string ReduceTo(string gradient, string target) => ReduceToShape(gradient, ShapeOf(target));

    /// <summary>Sums <paramref name="gradient"/> down to <paramref name="shape"/> under numpy broadcasting: the axes it lacks (leading) or holds as 1.</summary>
    /// <remarks>The axes are found at run time (NonZero of "padded shape == 1"), so no static shape is needed; summing an axis of length 1 changes nothing.</remarks>
    public string ReduceToShape(string gradient, string shape)
    {
        var rankDifference = Op("Sub", [Op("Shape", [ShapeOf(gradient)]), Op("Shape", [shape])]);
        var ones = Op("ConstantOfShape", [rankDifference], Attr("value", new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 1 } }));
        var padded = Op("Concat", [ones, shape], Attr("axis", 0));
        var axes = Op("Reshape", [Op("NonZero", [Op("Equal", [padded, Int64s([1], scalar: true)])]), Int64s([-1])]);
        var summed = Op("ReduceSum", [gradient, axes], Attr("keepdims", 1), Attr("noop_with_empty_axes", 1));
        return Op("Reshape", [summed, shape]);
    }

    /// <summary>Gradient of a selection (Gather, Slice): the positions <paramref name="select"/> picks from <paramref name="source"/>, found by applying it to the flat index of every element, receive the output's gradient (summed where picked twice).</summary>
    public string ScatterBack(string source, string gradient, Func<string, string> select)
    {
        var shape = ShapeOf(source);
        var flatIndex = Op("Reshape", [Op("Range", [Int64s([0], scalar: true), Op("ReduceProd", [shape], Attr("keepdims", 0)), Int64s([1], scalar: true)]), shape]);
        return ScatterAdd(source, select(flatIndex), gradient);
    }

    /// <summary>A tensor shaped like <paramref name="source"/> holding, at each flat index in <paramref name="flatIndices"/>, the sum of the matching elements of <paramref name="gradient"/> (zero elsewhere).</summary>
    public string ScatterAdd(string source, string flatIndices, string gradient)
    {
        var shape = ShapeOf(source);
        var zeros = Op("CastLike", [ZerosOfShape(Op("Reshape", [Op("ReduceProd", [shape], Attr("keepdims", 0)), Int64s([1])])), gradient]);
        var scattered = Op("ScatterElements", [zeros, Op("Reshape", [flatIndices, Int64s([-1])]), Op("Reshape", [gradient, Int64s([-1])])], Attr("reduction", "add"));
        return Op("Reshape", [scattered, shape]);
    }

    /// <summary>The shape [C, 1, ..., 1] that lets a per-channel vector (shape [C]) broadcast against <paramref name="tensor"/> ([N, C, ...]).</summary>
    public string ChannelShape(string vector, string tensor)
    {
        var trailing = Op("Reshape", [Op("Sub", [Op("Size", [ShapeOf(tensor)]), Int64s([2], scalar: true)]), Int64s([1])]);
        var ones = Op("ConstantOfShape", [trailing], Attr("value", new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 1 }, Int64Data = { 1 } }));
        return Op("Concat", [ShapeOf(vector), ones], Attr("axis", 0));
    }

    /// <summary>Sums <paramref name="gradient"/> (shaped like <paramref name="tensor"/>) over every axis but the channel axis, shaped like <paramref name="vector"/>.</summary>
    public string SumPerChannel(string gradient, string vector, string tensor) => Op("Reshape", [ReduceToShape(gradient, ChannelShape(vector, tensor)), ShapeOf(vector)]);

    /// <summary>A constant of the element type, every element <paramref name="value"/>.</summary>
    public string Filled(double value, long[] dims)
    {
        var tensor = new TensorProto { Name = Fresh("const"), DataType = ElementType };
        tensor.Dims.AddRange(dims);
        var count = dims.Aggregate(1L, (a, b) => a * b);
        for (var i = 0; i < count; i++)
        {
            if (ElementType == (int)TensorProto.Types.DataType.Double)
            {
                tensor.DoubleData.Add(value);
            }
            else
            {
                tensor.FloatData.Add((float)value);
            }
        }

        Constants.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Makes the node return its output at <paramref name="index"/> (an optional output such as MaxPool's indices) and names it.</summary>
    public string OutputOf(NodeProto node, int index)
    {
        while (node.Output.Count <= index)
        {
            node.Output.Add(string.Empty);
        }

        if (node.Output[index].Length == 0)
        {
            node.Output[index] = Fresh(node.OpType);
        }

        return node.Output[index];
    }

    /// <summary>Swaps the last two axes, whatever the rank (Einsum with an ellipsis).</summary>
    public string SwapLastTwo(string tensor) => Op("Einsum", [tensor], Attr("equation", "...ij->...ji"));

    /// <summary>An int64 attribute.</summary>
    public static AttributeProto Attr(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Attr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto Attr(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>An int64 list attribute.</summary>
    public static AttributeProto Attr(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A tensor attribute.</summary>
    public static AttributeProto Attr(string name, TensorProto value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    private sealed class Int64Key : IEqualityComparer<(long[] Values, bool Scalar)>
    {
        public static readonly Int64Key Comparer = new();

        public bool Equals((long[] Values, bool Scalar) x, (long[] Values, bool Scalar) y) => x.Scalar == y.Scalar && x.Values.AsSpan().SequenceEqual(y.Values);

        public int GetHashCode((long[] Values, bool Scalar) obj)
        {
            var hash = new HashCode();
            hash.Add(obj.Scalar);
            foreach (var v in obj.Values)
            {
                hash.Add(v);
            }

            return hash.ToHashCode();
        }
    }
}
