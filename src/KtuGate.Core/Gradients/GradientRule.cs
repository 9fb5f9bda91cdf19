using Onnx;

namespace KtuGate.Gradients;

/// <summary>Writes the nodes that turn the gradients of a node's outputs into the gradients of its inputs.</summary>
/// <param name="g">Where the nodes go.</param>
/// <param name="node">The forward node.</param>
/// <param name="outputGradients">Per output, its gradient tensor, or null where no gradient reaches it (zero).</param>
/// <returns>Per input, its gradient tensor, or null where the input needs none.</returns>
internal delegate string?[] BackwardRule(GradientGraph g, NodeProto node, IReadOnlyList<string?> outputGradients);

/// <summary>How one op type is differentiated.</summary>
/// <param name="OpType">The op type (default ONNX domain).</param>
/// <param name="Differentiable">Whether a gradient flows to the input at an index (false for shapes, indices, conditions: integer paths carry none).</param>
/// <param name="Backward">The rule itself.</param>
/// <param name="Refusal">Why this node's form is not differentiated (an attribute the rule does not handle), or null when it is.</param>
/// <param name="Outputs">How many of the node's outputs (from the first) the rule reads a gradient for; a gradient reaching a later one is refused.</param>
internal sealed record GradientRule(string OpType, Func<NodeProto, int, bool> Differentiable, BackwardRule Backward, Func<NodeProto, string?>? Refusal = null, int Outputs = 1)
{
    /// <summary>A rule for an op none of whose inputs carries a gradient.</summary>
    public static GradientRule Constant(string opType) => new(opType, (_, _) => false, (_, node, _) => new string?[node.Input.Count]);
}

/// <summary>One family of rules (arithmetic, activations, linear algebra, ...), each rule small and tested alone against finite differences.</summary>
internal abstract class GradientRuleFamily
{
    /// <summary>The family's rules.</summary>
    public abstract IEnumerable<GradientRule> Rules();

    /// <summary>Only the first input carries a gradient.</summary>
    protected static bool FirstOnly(NodeProto node, int input) => input == 0;

    /// <summary>Every input carries a gradient.</summary>
    protected static bool All(NodeProto node, int input) => true;
}

/// <summary>The table of gradient rules, keyed by op type, as ONNX Runtime's training build keys its gradient builders.</summary>
internal static class GradientRules
{
    private static readonly Dictionary<string, GradientRule> s_rules = Load();

    /// <summary>Every op type that has a rule.</summary>
    public static IReadOnlyCollection<string> OpTypes => s_rules.Keys;

    /// <summary>The rule for a node, or null when its op type (or domain) has none.</summary>
    public static GradientRule? Find(NodeProto node)
        => node.Domain.Length == 0 || node.Domain == "ai.onnx" ? s_rules.GetValueOrDefault(node.OpType) : null;

    private static Dictionary<string, GradientRule> Load()
    {
        GradientRuleFamily[] families = [new ElementwiseRules(), new ActivationRules(), new LinearRules(), new DataMovementRules(), new ReductionRules(), new NormalizationRules(), new ConvolutionRules()];
        return families.SelectMany(f => f.Rules()).ToDictionary(r => r.OpType);
    }
}

/// <summary>Reads a node's attributes with the defaults the ONNX spec gives.</summary>
internal static class NodeAttributes
{
    public static long Int(this NodeProto node, string name, long fallback) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback;

    public static float Float(this NodeProto node, string name, float fallback) => node.Attribute.FirstOrDefault(a => a.Name == name)?.F ?? fallback;

    public static string Text(this NodeProto node, string name, string fallback) => node.Attribute.FirstOrDefault(a => a.Name == name)?.S.ToStringUtf8() ?? fallback;

    public static long[]? Ints(this NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : null;

    /// <summary>The input at <paramref name="index"/>, or null where the node omits it (absent or empty name).</summary>
    public static string? InputAt(this NodeProto node, int index) => index < node.Input.Count && node.Input[index].Length > 0 ? node.Input[index] : null;
}
