using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Unlearning;
using static KtuGate.Remediation;

namespace KtuGate;

/// <summary>Judges candidate edits against every threshold: what they would still miss.</summary>
internal interface ICandidateJudge
{
    /// <summary>Whether the judge runs the model with ONNX Runtime (as reports record in <c>tried[].probed</c>).</summary>
    bool Probes { get; }

    /// <summary>The gate's result for the edited model, and every threshold it misses.</summary>
    (Checked Result, List<string> Missed) Judge(CandidateEdit candidate);
}

/// <summary>Judges a single-site edit from the site's inputs recorded while the original was verified (exact for an edit of the layer the probes read).</summary>
/// <remarks>The last candidate's result is kept: a gradient method's accepted checkpoint is judged again as its candidate, at no cost.</remarks>
internal sealed class SiteJudge(Func<double[,], double[], DiagnosticBag, Checked> inMemory) : ICandidateJudge
{
    private (double[,] Weight, Checked Result, List<string> Missed)? _last;

    public bool Probes => false;

    public (Checked Result, List<string> Missed) Judge(CandidateEdit candidate)
    {
        var (_, weight, bias) = candidate.Sites.Single();
        if (_last is not { } last || !ReferenceEquals(last.Weight, weight))
        {
            var bag = new DiagnosticBag();
            var result = inMemory(weight, bias, bag);
            _last = last = (weight, result, Missed(bag, result));
        }

        return (last.Result, last.Missed);
    }
}

/// <summary>Judges an edit by probing the original artifact with ONNX Runtime, the edited initializers given to the session in place of the model's.</summary>
internal sealed class OnnxRuntimeJudge(Func<IReadOnlyList<InitializerOverride>, DiagnosticBag, Checked> probe) : ICandidateJudge
{
    public bool Probes => true;

    public (Checked Result, List<string> Missed) Judge(CandidateEdit candidate)
    {
        var bag = new DiagnosticBag();
        var result = probe(candidate.Overrides(), bag);
        return (result, Missed(bag, result));
    }
}
