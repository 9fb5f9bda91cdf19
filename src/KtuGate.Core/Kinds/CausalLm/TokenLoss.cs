using KtuGate.Gradients;
using KtuGate.Unlearning;
using Onnx;

namespace KtuGate.Kinds.CausalLm;

/// <summary>
/// A gradient method's loss over a language model's token logits, teacher-forced on question/answer sequences, as a loss sub-graph
/// (<see cref="GradientBuilder"/> differentiates it through the decoder).
/// </summary>
/// <remarks>
/// logp = log-softmax of the logits [batch, sequence, vocabulary] in float64. Per forget answer b, s_b = Σ of its answer tokens' log-probabilities
/// (teacher-forced: the logits at position t score the token at t + 1):
/// ga (<see cref="ForgetTerm.Ascent"/>): s_b / |answer|, minimised (the answer's NLL raised);
/// npo (<see cref="ForgetTerm.NegativePreference"/>, Zhang et al. 2024): −(2/β)·log σ(−β·(s_b − s_ref,b)) = (2/β)·log(1 + e^{β(s_b − s_ref,b)}), β = 0.1;
/// nhl (<see cref="ForgetTerm.NegativeHinge"/>, the seed paper's negative hinge on answer-token margins): Σ_t max(0, z_answer − max_{v ≠ answer} z_v + m) / |answer|.
/// Each forget answer weighs 1/#forget answers. The retain term is the KL divergence to the original model's next-token distributions at every
/// answer position (and end of answer) of the retain sequences, written as a cross-entropy −Σ p_ref·logp with the KL weight and 1/#positions
/// folded into the fed p_ref.
/// </remarks>
internal static class TokenLoss
{
    /// <summary>1 at [b, t, v] where v is the forget answer's token that the logits at t predict, else 0. Fed, [batch, sequence, vocabulary].</summary>
    public const string Answer = "ktu_lm/answer";

    /// <summary>Per sequence, the forget term's weight (0 on retain sequences). Fed, [batch].</summary>
    public const string ForgetWeight = "ktu_lm/forget_weight";

    /// <summary>Per sequence, the original model's s_b (npo's reference; 0 on retain sequences). Fed, [batch].</summary>
    public const string Reference = "ktu_lm/s_ref";

    /// <summary>The original's next-token distribution at each retained position, times the position's weight; 0 elsewhere. Fed, [batch, sequence, vocabulary].</summary>
    public const string RetainTarget = "ktu_lm/retain_target";

    /// <summary>The loss tensor.</summary>
    public const string Loss = "ktu_lm/loss";

    /// <summary>npo's β.</summary>
    public const double Beta = ForgetLosses.Beta;

    /// <summary>The hinge margin, in logits.</summary>
    public const double Margin = 1.0;

    /// <summary>The loss sub-graph over the model's logits tensor <paramref name="logits"/>.</summary>
    public static LossGraph Build(string logits, ForgetTerm term)
    {
        var w = new LossGraphWriter("ktu_lm");
        string Op(string op, string[] inputs, params AttributeProto[] attributes) => w.Op(op, inputs, attributes);
        string Scalar(string name, double value) => w.Double(name, [], [value]);

        var vocabularyAxis = w.Int64("axis2", 2);
        var sequenceAxis = w.Int64("axis1", 1);
        string Sum(string t, string axes) => Op("ReduceSum", [t, axes], GradientGraph.Attr("keepdims", 0));

        var z = Op("Cast", [logits], GradientGraph.Attr("to", (long)TensorProto.Types.DataType.Double));
        var logP = Op("LogSoftmax", [z], GradientGraph.Attr("axis", 2));

        string forget;
        if (term == ForgetTerm.NegativeHinge)
        {
            // Per answer token: its logit against the best other token's, plus the margin; positions without an answer token weigh 0.
            var target = Sum(Op("Mul", [z, Answer]), vocabularyAxis);
            var others = Op("Where", [Op("Greater", [Answer, Scalar("zero", 0)]), Scalar("low", -1e30), z]);
            var best = Op("ReduceMax", [others], GradientGraph.Attr("axes", new long[] { 2 }), GradientGraph.Attr("keepdims", 0));
            var hinge = Op("Relu", [Op("Add", [Op("Sub", [target, best]), Scalar("margin", Margin)])]);
            forget = Sum(Op("Mul", [hinge, Sum(Answer, vocabularyAxis)]), sequenceAxis);
        }
        else
        {
            var s = Sum(Sum(Op("Mul", [logP, Answer]), vocabularyAxis), sequenceAxis);
            forget = term == ForgetTerm.Ascent
                ? s
                : Op("Mul", [Op("Log", [Op("Add", [Scalar("one", 1), Op("Exp", [Op("Mul", [Op("Sub", [s, Reference]), Scalar("beta", Beta)])])])]), Scalar("two_over_beta", 2 / Beta)]);
        }

        var forgetTotal = Op("ReduceSum", [Op("Mul", [forget, ForgetWeight])], GradientGraph.Attr("keepdims", 0));
        var retain = Op("Neg", [Op("ReduceSum", [Op("Mul", [RetainTarget, logP])], GradientGraph.Attr("keepdims", 0))]);
        w.Final("Add", [forgetTotal, retain], Loss);
        string[] dims = ["ktu_lm_batch", "ktu_lm_sequence", "ktu_lm_vocabulary"];
        ValueInfoProto Input(string name, int rank) => LossGraphWriter.Input(name, [.. dims.Take(rank)]);
        return w.Graph(Loss, [Input(Answer, 3), Input(ForgetWeight, 1), Input(Reference, 1), Input(RetainTarget, 3)]);
    }
}
