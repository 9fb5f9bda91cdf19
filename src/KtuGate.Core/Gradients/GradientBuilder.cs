using KtuGate.Diagnostics;
using Onnx;

namespace KtuGate.Gradients;

/// <summary>The sub-graph that turns a model's outputs into the loss to minimise: nodes, the inputs it adds (targets, reference scores) and its constants.</summary>
/// <param name="Nodes">The loss's nodes; they read the model's tensors by name.</param>
/// <param name="Loss">The tensor that holds the loss (a scalar; a tensor's elements are summed).</param>
/// <param name="Inputs">Graph inputs the loss adds, fed at each step.</param>
/// <param name="Initializers">Constants the loss adds.</param>
public sealed record LossGraph(IReadOnlyList<NodeProto> Nodes, string Loss, IReadOnlyList<ValueInfoProto> Inputs, IReadOnlyList<TensorProto> Initializers);

/// <summary>A model that returns a loss and its gradient with respect to each trained weight, the weights being graph inputs.</summary>
/// <param name="Model">The model: its inputs are the original's, the loss's, and the trained weights; its outputs the loss and then the gradients.</param>
/// <param name="Loss">The loss output's name.</param>
/// <param name="Gradients">Per trained weight (by initializer name, in the order asked), its gradient output's name.</param>
/// <param name="Weights">The trained weights' original initializers, the values a first step feeds.</param>
public sealed record GradientModel(ModelProto Model, string Loss, IReadOnlyDictionary<string, string> Gradients, IReadOnlyList<TensorProto> Weights);

/// <summary>Differentiates an ONNX model in reverse mode, writing every gradient as standard ONNX ops that ONNX Runtime's inference build runs.</summary>
/// <remarks>
/// The forward graph is topologically sorted; the gradient of each tensor on the way from a trained weight to the loss is the sum of what its
/// consumers send back (fan-out), each input's share summed back over the axes it was broadcast along. Integer paths (shapes, indices, masks)
/// carry no gradient. A node on the way that no rule covers is refused (KTU4010), never skipped: a missing gradient would pass for zero.
/// </remarks>
public static class GradientBuilder
{
    /// <summary>The lowest default-domain opset whose op forms the rules are written for (axes as ReduceSum's input, single-axis Softmax).</summary>
    public const int MinimumOpset = 13;

    /// <summary>The opset the gradient model is raised to, for CastLike, LayerNormalization and ScatterElements' add reduction; 13 to 17 change no op a forward graph uses in a way the rules depend on.</summary>
    private const int GradientOpset = 17;

    /// <summary>Every op type a rule covers.</summary>
    public static IReadOnlyCollection<string> CoveredOps => GradientRules.OpTypes;

    /// <summary>Builds the model that returns <paramref name="loss"/> and its gradient with respect to each of <paramref name="trained"/>.</summary>
    /// <param name="model">The model; it is not changed.</param>
    /// <param name="trained">The initializers to train (float32 or float64, all of one type).</param>
    /// <param name="loss">The loss sub-graph over the model's tensors.</param>
    /// <param name="diagnostics">Receives KTU4010 for each node on the way that cannot be differentiated, KTU4011 for an unusable model, weight or loss.</param>
    /// <param name="modelPath">The model's file, where the diagnostics point.</param>
    /// <returns>The gradient model, or null with the diagnostics that say why.</returns>
    public static GradientModel? Build(ModelProto model, IReadOnlyList<string> trained, LossGraph loss, DiagnosticBag diagnostics, string? modelPath = null)
    {
        var location = new SourceLocation(modelPath ?? (model.Graph.Name.Length > 0 ? model.Graph.Name : "model"));
        var copy = model.Clone();
        var graph = copy.Graph;
        graph.Node.AddRange(loss.Nodes.Select(n => n.Clone()));
        graph.Input.AddRange(loss.Inputs.Select(i => i.Clone()));
        graph.Initializer.AddRange(loss.Initializers.Select(t => t.Clone()));

        var problem = Problem(copy, trained, loss.Loss, out var order, out var elementType);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticCodes.GradientModelInvalid, location, problem);
            return null;
        }

        var requires = Requires(order, trained);
        var path = PathToLoss(order, loss.Loss, requires);
        if (Refused(path, diagnostics, location))
        {
            return null;
        }

        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var weights = trained.Select(t => initializers[t]).ToList();
        var names = graph.Node.SelectMany(n => n.Output).Concat(graph.Input.Select(i => i.Name)).Concat(initializers.Keys);
        var g = new GradientGraph(names, requires, elementType, initializers.ToDictionary(i => i.Key, i => i.Value.Dims.Count));
        var gradients = new Dictionary<string, List<string>>
        {
            // The loss may be computed in another float type than the weights (float64 over a float32 model): the seed takes the loss's.
            [loss.Loss] = [g.Op("CastLike", [g.Op("ConstantOfShape", [g.ShapeOf(loss.Loss)], GradientGraph.Attr("value", g.ScalarTensor(1))), loss.Loss])],
        };

        if (!Backward(path, g, gradients, diagnostics, location))
        {
            return null;
        }

        // A trained weight the loss does not depend on has a gradient of exactly zero.
        var outputsByWeight = trained.ToDictionary(t => t, t => g.Op("Identity", [Total(g, gradients, t) ?? g.ZerosOfShape(g.ShapeOf(t))]));

        Rewire(copy, order, g, weights, loss.Loss, outputsByWeight, elementType);
        return new GradientModel(copy, loss.Loss, outputsByWeight, weights);
    }

    /// <summary>The tensors whose value depends on a trained weight through differentiable inputs.</summary>
    private static HashSet<string> Requires(List<NodeProto> order, IReadOnlyList<string> trained)
    {
        var requires = new HashSet<string>(trained);
        foreach (var node in order)
        {
            var rule = GradientRules.Find(node);
            if (node.Input.Select((t, i) => requires.Contains(t) && (rule is null || rule.Differentiable(node, i))).Any(x => x))
            {
                requires.UnionWith(node.Output.Where(o => o.Length > 0));
            }
        }

        return requires;
    }

    /// <summary>Whether some node on the way to the loss has no rule, or a rule that refuses it (KTU4010 for each).</summary>
    private static bool Refused(List<NodeProto> path, DiagnosticBag diagnostics, SourceLocation location)
    {
        var refused = false;
        foreach (var node in path)
        {
            var rule = GradientRules.Find(node);
            var reason = rule is null ? $"no gradient rule covers op '{Op(node)}'" : rule.Refusal?.Invoke(node);
            if (reason is not null)
            {
                diagnostics.Add(DiagnosticCodes.GradientRuleMissing, location, NodeName(node), Op(node), reason);
                refused = true;
            }
        }

        return refused;
    }

    /// <summary>Each node's rule, from the loss back, adding its inputs' gradient terms to <paramref name="gradients"/>; false (KTU4010) where the loss reads an output its rule does not differentiate.</summary>
    private static bool Backward(List<NodeProto> path, GradientGraph g, Dictionary<string, List<string>> gradients, DiagnosticBag diagnostics, SourceLocation location)
    {
        for (var k = path.Count - 1; k >= 0; k--)
        {
            var node = path[k];
            var rule = GradientRules.Find(node)!;
            var outputs = node.Output.Select(o => Total(g, gradients, o)).ToArray();
            if (outputs.All(o => o is null))
            {
                continue;
            }

            var late = Array.FindIndex(outputs, Math.Min(rule.Outputs, outputs.Length), o => o is not null);
            if (late >= 0)
            {
                diagnostics.Add(DiagnosticCodes.GradientRuleMissing, location, NodeName(node), Op(node), $"the loss depends on its output {late} ('{node.Output[late]}'), which its rule does not differentiate");
                return false;
            }

            var inputs = rule.Backward(g, node, outputs);
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (i < inputs.Length && inputs[i] is { } gradient && g.Needs(node.Input[i]) && rule.Differentiable(node, i))
                {
                    Add(gradients, node.Input[i], gradient);
                }
            }
        }

        return true;
    }

    /// <summary>The gradient model's graph: the trained weights become inputs, the forward nodes then the gradient nodes, the loss and each weight's gradient the outputs.</summary>
    private static void Rewire(ModelProto copy, List<NodeProto> order, GradientGraph g, List<TensorProto> weights, string loss, Dictionary<string, string> outputsByWeight, int elementType)
    {
        var graph = copy.Graph;
        foreach (var weight in weights)
        {
            graph.Initializer.Remove(weight);
            if (graph.Input.All(i => i.Name != weight.Name))
            {
                graph.Input.Add(ValueInfo(weight.Name, elementType, weight.Dims));
            }
        }

        graph.Node.Clear();
        graph.Node.AddRange(order);
        graph.Node.AddRange(g.Nodes);
        graph.Initializer.AddRange(g.Constants);
        graph.Output.Clear();
        graph.Output.Add(new ValueInfoProto { Name = loss });
        foreach (var weight in weights)
        {
            graph.Output.Add(ValueInfo(outputsByWeight[weight.Name], elementType, weight.Dims));
        }

        var opset = copy.OpsetImport.First(o => o.Domain is "" or "ai.onnx");
        opset.Version = Math.Max(opset.Version, GradientOpset);
        copy.IrVersion = Math.Max(copy.IrVersion, 8);
    }

    /// <summary>What makes the model, the weights or the loss unusable, or null; sorts the nodes and gives the weights' element type when usable.</summary>
    private static string? Problem(ModelProto model, IReadOnlyList<string> trained, string loss, out List<NodeProto> order, out int elementType)
    {
        order = [];
        elementType = 0;
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (opset is null || opset.Version < MinimumOpset)
        {
            return $"its default-domain opset is {opset?.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"}, below {MinimumOpset}";
        }

        if (trained.Count == 0 || trained.Distinct().Count() != trained.Count)
        {
            return "the weights to train must be named, each once";
        }

        var initializers = model.Graph.Initializer.GroupBy(t => t.Name).ToDictionary(t => t.Key, t => t.First());
        foreach (var name in trained)
        {
            if (!initializers.TryGetValue(name, out var tensor))
            {
                return $"'{name}' is not an initializer of the model";
            }

            if (tensor.DataType is not ((int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Double))
            {
                return $"initializer '{name}' is not float32 or float64";
            }

            if (elementType != 0 && tensor.DataType != elementType)
            {
                return "the weights to train mix float32 and float64";
            }

            elementType = tensor.DataType;
        }

        // Kahn's order: a node runs once every tensor it reads is produced.
        var available = new HashSet<string>(model.Graph.Input.Select(i => i.Name).Concat(initializers.Keys)) { string.Empty };
        var pending = model.Graph.Node.ToList();
        while (pending.Count > 0)
        {
            var ready = pending.Where(n => n.Input.All(available.Contains)).ToList();
            if (ready.Count == 0)
            {
                var stuck = pending[0];
                return $"node '{NodeName(stuck)}' reads '{stuck.Input.First(i => !available.Contains(i))}', which no node, input or initializer produces (or the graph has a cycle)";
            }

            foreach (var node in ready)
            {
                order.Add(node);
                available.UnionWith(node.Output);
                pending.Remove(node);
            }
        }

        return available.Contains(loss) ? null : $"the loss '{loss}' is not produced by the graph";
    }

    /// <summary>The nodes, in forward order, that read a tensor depending on a trained weight and that the loss depends on.</summary>
    private static List<NodeProto> PathToLoss(List<NodeProto> order, string loss, HashSet<string> requires)
    {
        var producer = new Dictionary<string, NodeProto>();
        foreach (var node in order)
        {
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                producer[output] = node;
            }
        }

        var ancestors = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([loss]);
        while (stack.Count > 0)
        {
            if (producer.TryGetValue(stack.Pop(), out var node) && ancestors.Add(node))
            {
                foreach (var input in node.Input.Where(i => i.Length > 0))
                {
                    stack.Push(input);
                }
            }
        }

        return [.. order.Where(n => ancestors.Contains(n) && n.Input.Any(requires.Contains))];
    }

    private static void Add(Dictionary<string, List<string>> gradients, string tensor, string gradient)
    {
        if (!gradients.TryGetValue(tensor, out var list))
        {
            gradients[tensor] = list = [];
        }

        list.Add(gradient);
    }

    /// <summary>A tensor's whole gradient: the sum of what each consumer sent back, or null when none did.</summary>
    private static string? Total(GradientGraph g, Dictionary<string, List<string>> gradients, string tensor)
    {
        if (!gradients.TryGetValue(tensor, out var parts) || parts.Count == 0)
        {
            return null;
        }

        if (parts.Count > 1)
        {
            var sum = g.Op("Sum", parts);
            parts.Clear();
            parts.Add(sum);
        }

        return parts[0];
    }

    private static ValueInfoProto ValueInfo(string name, int elementType, IEnumerable<long>? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = elementType };
        if (dims is not null)
        {
            tensor.Shape = new TensorShapeProto();
            tensor.Shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private static string NodeName(NodeProto node) => node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault() ?? "?";

    private static string Op(NodeProto node) => node.Domain.Length > 0 ? $"{node.Domain}.{node.OpType}" : node.OpType;
}
