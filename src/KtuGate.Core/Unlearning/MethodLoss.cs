using KtuGate.Gradients;
using Onnx;

namespace KtuGate.Unlearning;

/// <summary>The forget term of a gradient method.</summary>
public enum ForgetTerm
{
    /// <summary>nhl: max(0, z_forbidden − z_best-allowed + margin), the worst forbidden against the best allowed class.</summary>
    NegativeHinge,

    /// <summary>ga: log p(forbidden), minimised.</summary>
    Ascent,

    /// <summary>npo: (2/β)·log(1 + (p/p_ref)^β), β = 0.1.</summary>
    NegativePreference,
}

/// <summary>The gradient methods' losses as a loss sub-graph over a model's scores, so that <see cref="GradientBuilder"/> can train any of its weights with them.</summary>
/// <remarks>
/// The same definitions as <see cref="GradientEdit"/>'s analytic gradients. Scores z = D·y (a classifier, D = I) or z = s·D·y/‖y‖ (a dual encoder);
/// p = softmax(z). Per exemplar, with the weights fed per batch:
/// L = w_forget·forget(z) + w_retain·KL(p_ref ‖ p) + w_coarse·KL(p_ref,groups ‖ p_groups), where w_forget = 1/#forget on forget exemplars,
/// w_retain = λ/#retain on retain exemplars and w_coarse = λ/#forget on forget exemplars whose coarse parent is kept (λ the KL weight).
/// This is the seed paper's NHL+KL form (Tan &amp; Gong, 2025, "Lifting Data-Tracing Machine Unlearning to Knowledge-Tracing for Foundation
/// Models", the negative hinge loss on the forget set plus KL divergence to the original model on the retain set), with the coarse-group
/// KL that keeps a forgotten fine concept's parent. KL terms are written as cross-entropies (the reference's entropy, a constant, is left out).
/// The loss runs in float64 whatever the model's type.
/// </remarks>
public static class MethodLoss
{
    /// <summary>Per exemplar and class, 1 where the class is forbidden (a forget exemplar), else 0. Fed, [batch, classes].</summary>
    public const string Forbidden = "ktu_loss/forbidden";

    /// <summary>Per exemplar and class, 1 where the class is allowed instead, else 0. Fed, [batch, classes].</summary>
    public const string Allowed = "ktu_loss/allowed";

    /// <summary>The original model's class distribution per exemplar. Fed, [batch, classes].</summary>
    public const string Reference = "ktu_loss/p_ref";

    /// <summary>Per exemplar: 1 for a forget exemplar, 0 for a retain one. Fed, [batch].</summary>
    public const string IsForget = "ktu_loss/is_forget";

    /// <summary>Per exemplar, the forget term's weight. Fed, [batch].</summary>
    public const string ForgetWeight = "ktu_loss/forget_weight";

    /// <summary>Per exemplar, the retain KL term's weight. Fed, [batch].</summary>
    public const string RetainWeight = "ktu_loss/retain_weight";

    /// <summary>Per exemplar, the coarse KL term's weight. Fed, [batch].</summary>
    public const string CoarseWeight = "ktu_loss/coarse_weight";

    /// <summary>Per exemplar, the features the probe-point tensor is pulled towards (the feature-level term). Fed, [batch, features].</summary>
    public const string FeatureTarget = "ktu_loss/feature_target";

    /// <summary>Per exemplar, the feature-level term's weight. Fed, [batch].</summary>
    public const string FeatureWeight = "ktu_loss/feature_weight";

    /// <summary>The loss tensor.</summary>
    public const string Loss = "ktu_loss/loss";

    private const double Beta = ForgetLosses.Beta;

    /// <summary>The forget term of the gradient method named <paramref name="method"/>.</summary>
    /// <exception cref="ArgumentException">No gradient method has that name.</exception>
    public static ForgetTerm TermOf(string method) => UnlearningMethods.Gradient(method).Term;

    /// <summary>The loss sub-graph over the model tensor <paramref name="output"/> ([batch, features]).</summary>
    /// <param name="output">The tensor the scores are computed from.</param>
    /// <param name="term">The forget term.</param>
    /// <param name="directions">Per class, its direction in <paramref name="output"/>'s space.</param>
    /// <param name="groupOfClass">Per class, its coarse group (-1 for none).</param>
    /// <param name="normalize">Whether scores use the unit-length output.</param>
    /// <param name="scale">The score scale.</param>
    /// <param name="margin">The hinge margin, in score units.</param>
    /// <param name="probePoint">
    /// Where given, a model tensor (the linear probe's point) and its width: the loss adds the feature-level term
    /// w_feature·‖flatten(h) − target‖², with <see cref="FeatureTarget"/> and <see cref="FeatureWeight"/> fed per exemplar.
    /// </param>
    public static LossGraph Build(string output, ForgetTerm term, IReadOnlyList<double[]> directions, IReadOnlyList<int> groupOfClass, bool normalize, double scale, double margin,
        (string Tensor, int Width)? probePoint = null)
    {
        var classes = directions.Count;
        var features = directions[0].Length;
        var w = new LossGraphWriter("ktu_loss");
        string Op(string op, string[] inputs, params AttributeProto[] attributes) => w.Op(op, inputs, attributes);
        string Constant(string name, long[] dims, IEnumerable<double> values) => w.Double(name, dims, values);

        var y = Op("Cast", [output], GradientGraph.Attr("to", (long)TensorProto.Types.DataType.Double));
        if (normalize)
        {
            y = Op("Div", [y, Op("ReduceL2", [y], GradientGraph.Attr("axes", new long[] { 1 }), GradientGraph.Attr("keepdims", 1))]);
        }

        var transposed = Constant("directions", [features, classes], Enumerable.Range(0, features).SelectMany(f => directions.Select(d => d[f])));
        var z = Op("Mul", [Op("MatMul", [y, transposed]), Constant("scale", [], [scale])]);
        var (total, p, axis1) = ScoreTerms(w, z, term, margin);
        string SumOverClasses(string t) => Op("ReduceSum", [t, axis1], GradientGraph.Attr("keepdims", 0));
        var groups = groupOfClass.Count == 0 ? 0 : groupOfClass.Max() + 1;
        if (groups > 0)
        {
            // Coarse KL: the distribution over groups, p_g = Σ_{c ∈ g} p_c, kept close to the original's.
            var membership = Constant("groups", [classes, groups], Enumerable.Range(0, classes).SelectMany(c => Enumerable.Range(0, groups).Select(g => groupOfClass[c] == g ? 1.0 : 0.0)));
            var coarse = Op("Neg", [SumOverClasses(Op("Mul", [Op("MatMul", [Reference, membership]), Op("Log", [Op("MatMul", [p, membership])])]))]);
            total = Op("Add", [total, Op("Mul", [coarse, CoarseWeight])]);
        }

        if (probePoint is { } point)
        {
            // What a linear probe reads is trained too: each exemplar's features at the probe point pulled towards its target.
            var h = Op("Reshape", [Op("Cast", [point.Tensor], GradientGraph.Attr("to", (long)TensorProto.Types.DataType.Double)), w.Int64("flat", 0, -1)]);
            var difference = Op("Sub", [h, FeatureTarget]);
            total = Op("Add", [total, Op("Mul", [SumOverClasses(Op("Mul", [difference, difference])), FeatureWeight])]);
        }

        w.Final("ReduceSum", [total], Loss, GradientGraph.Attr("keepdims", 0));
        ValueInfoProto Input(string name, bool perClass, long? width = null)
            => perClass || width is not null ? LossGraphWriter.Input(name, "batch", width ?? classes) : LossGraphWriter.Input(name, "batch");

        List<ValueInfoProto> inputs = [Input(Forbidden, true), Input(Allowed, true), Input(Reference, true), Input(IsForget, false), Input(ForgetWeight, false), Input(RetainWeight, false), Input(CoarseWeight, false)];
        if (probePoint is { } fed)
        {
            inputs.AddRange([Input(FeatureTarget, false, fed.Width), Input(FeatureWeight, false)]);
        }

        return w.Graph(Loss, inputs);
    }

    /// <summary>
    /// Each row's loss over scores <paramref name="z"/> ([rows, classes]): w_forget·forget(z) + w_retain·KL(p_ref ‖ p), with the fed masks,
    /// reference and weights of this class (<see cref="Forbidden"/>, <see cref="Allowed"/>, <see cref="Reference"/>, <see cref="IsForget"/>,
    /// <see cref="ForgetWeight"/>, <see cref="RetainWeight"/>). Every loss over scores writes its terms here, whatever computes the scores.
    /// </summary>
    /// <returns>The rows' losses [rows], the softmax p and the int64 constant 1 that sums over classes.</returns>
    internal static (string Total, string P, string Axis1) ScoreTerms(LossGraphWriter w, string z, ForgetTerm term, double margin)
    {
        string Op(string op, string[] inputs, params AttributeProto[] attributes) => w.Op(op, inputs, attributes);
        string Constant(string name, IEnumerable<double> values) => w.Double(name, [], values);
        var axis1 = w.Int64("axis1", 1);
        string SumOverClasses(string t) => Op("ReduceSum", [t, axis1], GradientGraph.Attr("keepdims", 0));

        var logP = Op("LogSoftmax", [z], GradientGraph.Attr("axis", 1));
        var p = Op("Softmax", [z], GradientGraph.Attr("axis", 1));
        var notForget = Op("Sub", [Constant("one", [1]), IsForget]);

        // Retain: KL(p_ref ‖ p) = −Σ p_ref log p + const.
        var retain = Op("Neg", [SumOverClasses(Op("Mul", [Reference, logP]))]);

        string forget;
        if (term == ForgetTerm.NegativeHinge)
        {
            var low = Constant("low", [-1e30]);
            string MaxWhere(string mask) => Op("ReduceMax", [Op("Where", [Op("Greater", [mask, Constant("zero_" + w.Next, [0])]), z, low])],
                GradientGraph.Attr("axes", new long[] { 1 }), GradientGraph.Attr("keepdims", 0));
            forget = Op("Relu", [Op("Add", [Op("Sub", [MaxWhere(Forbidden), MaxWhere(Allowed)]), Constant("margin", [margin])])]);
        }
        else
        {
            // log p(forbidden); on retain rows (no forbidden class) log 1 = 0, so that their zero weight never meets log 0.
            var pForbidden = Op("Add", [SumOverClasses(Op("Mul", [p, Forbidden])), notForget]);
            if (term == ForgetTerm.Ascent)
            {
                forget = Op("Log", [pForbidden]);
            }
            else
            {
                var pForbiddenRef = Op("Add", [SumOverClasses(Op("Mul", [Reference, Forbidden])), notForget]);
                var ratio = Op("Pow", [Op("Div", [pForbidden, pForbiddenRef]), Constant("beta", [Beta])]);
                forget = Op("Mul", [Op("Log", [Op("Add", [Constant("one_npo", [1]), ratio])]), Constant("two_over_beta", [2 / Beta])]);
            }
        }

        return (Op("Add", [Op("Mul", [forget, ForgetWeight]), Op("Mul", [retain, RetainWeight])]), p, axis1);
    }
}
