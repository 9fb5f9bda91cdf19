using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Kinds.CausalLm;
using KtuGate.Probing;
using KtuGate.Onnx;
using KtuGate.Unlearning;
using KtuGate.Tests;
using Onnx;
using static KtuGate.Tests.Gradients.GradientCheck;

namespace KtuGate.Core.Tests;

/// <summary>The gradient rules the TinyLm decoder's graph needs, and its token losses built over it.</summary>
public sealed class CausalLmGradientTests
{
    private static readonly string[] s_tinyLmOps =
        ["Add", "And", "Cast", "Concat", "Constant", "Div", "Erf", "Gather", "Greater", "LessOrEqual", "MatMul", "Mul", "Pow", "Range", "ReduceMean", "Reshape",
         "Shape", "Softmax", "Split", "Sqrt", "Sub", "Transpose", "Unsqueeze", "Where"];

    /// <summary>The engine creates ONNX Runtime's environment (with its logging options) before any session here does, as in a gate run.</summary>
    public CausalLmGradientTests() => _ = SessionFactory.OnnxRuntimeVersion;

    [Fact]
    public void Split_gradient_matches_finite_differences_with_an_output_the_loss_does_not_read()
    {
        // The decoder splits one projection into q, k and v; here the second part never reaches the loss, so its gradient is zeros.
        var random = new Random(3);
        var model = Model(
            [Node("Split", ["a", "sizes"], ["p", "q", "r"], Attr("axis", 1L)), Node("Mul", ["p", "r"], ["pr"]), Node("Concat", ["pr", "r"], ["y"], Attr("axis", 1L))],
            [Random(Float64, "a", [2, 7, 3], random), Int64s("sizes", [3], [2, 3, 2])], "y");

        Check(Float64, model, "y", ["a"]);
    }

    [Fact]
    public void TinyLm_ops_are_pinned_and_every_float_initializer_trains_through_the_cache_signature()
    {
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(CausalLmTests.Model, diagnostics)!;
        var ops = model.Graph.Node.Select(n => n.OpType).Distinct().Order(StringComparer.Ordinal).ToArray();
        var trained = EditScope.Resolve(model, [EditScope.All], OnnxGraph.FindSite(model, "logits", null)!, diagnostics, null)!;

        var built = GradientBuilder.Build(model, trained, TokenLoss.Build("logits", ForgetTerm.NegativePreference), diagnostics);

        Assert.Equal(s_tinyLmOps, ops);
        Assert.True(built is not null, string.Join("\n", diagnostics.Items));
        Assert.Equal(model.Graph.Initializer.Count(t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Count > 0), built!.Gradients.Count);
    }


    [Theory]
    [InlineData(ForgetTerm.Ascent)]
    [InlineData(ForgetTerm.NegativePreference)]
    public void Token_loss_is_its_formula_over_the_decoder_s_own_answer_log_probabilities(ForgetTerm term)
    {
        // One forget answer and, on the same row, a retained position (the answer's first token at weight 0.5): the gradient model's loss
        // must be forget(s) + 0.5·(−log p(first token)), with s the answer's summed log-probability as the decoder scores it.
        var section = CausalLmTests.SampleManifest().SectionAs<CausalLmSection>();
        var tokenizer = CausalLmTests.SampleTokenizer(section);
        var record = CausalLmTests.Records("forget")[0];
        var prompt = tokenizer.Prompt(section.PromptFor(record.Fine.Question));
        var answer = tokenizer.Answer(section.PromptFor(record.Fine.Question), record.Fine.Answer);
        double s, first;
        using (var session = CausalLmTests.OpenSession(CausalLmTests.Model))
        {
            var decoder = Decoder.Open(session, section.Inputs, "logits", section.Location, new DiagnosticBag())!;
            s = decoder.AnswerLogLikelihood(prompt, answer) * answer.Length;
            first = decoder.AnswerLogLikelihood(prompt, answer[..1]);
        }

        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(CausalLmTests.Model, diagnostics)!;
        var head = OnnxGraph.FindSite(model, "logits", null)!;
        using var trainer = new GradientTrainer(GradientBuilder.Build(model, [head.Weight], TokenLoss.Build("logits", term), diagnostics)!);
        const int vocabulary = 640;
        var length = prompt.Length + answer.Length;
        var oneHot = new double[length * vocabulary];
        var retain = new double[length * vocabulary];
        for (var i = 0; i < answer.Length; i++)
        {
            oneHot[(prompt.Length - 1 + i) * vocabulary + answer[i]] = 1;
        }

        retain[(prompt.Length - 1) * vocabulary + answer[0]] = 0.5;
        var sRef = s + 3;
        var feeds = new Dictionary<string, Func<Microsoft.ML.OnnxRuntime.OrtValue>>
        {
            ["input_ids"] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(prompt.Concat(answer).Select(i => (long)i).ToArray(), [1, length]),
            ["attention_mask"] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, length).ToArray(), [1, length]),
            ["position_ids"] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, length).Select(i => (long)i).ToArray(), [1, length]),
            [TokenLoss.Answer] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(oneHot, [1, length, vocabulary]),
            [TokenLoss.RetainTarget] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(retain, [1, length, vocabulary]),
            [TokenLoss.ForgetWeight] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new[] { 1.0 }, [1]),
            [TokenLoss.Reference] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new[] { sRef }, [1]),
        };
        foreach (var past in new[] { "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value" })
        {
            feeds[past] = () => Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, 4, 0, 16]);
        }

        var forget = term == ForgetTerm.Ascent ? s : 2 / TokenLoss.Beta * Math.Log(1 + Math.Exp(TokenLoss.Beta * (s - sRef)));
        Assert.Equal(forget - 0.5 * first, trainer.Loss(feeds), 4);
    }
}

/// <summary>Unlearning inside the TinyLm decoder: a Remediate run of the sample, the edit it writes, and the methods the kind cannot run.</summary>
public sealed class CausalLmUnlearningTests(TinyLmRemediation run) : IClassFixture<TinyLmRemediation>
{
    [Fact]
    public void Remediating_the_sample_passes_and_writes_a_decoder_with_the_original_inputs_and_outputs()
    {
        var result = run.Result;
        Assert.True(result.Outcome == GateOutcome.Pass, string.Join("\n", result.Diagnostics));
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4021" && d.Severity == DiagnosticSeverity.Info);
        var remediation = result.Report.Models.Single().Remediation!;
        Assert.Equal("npo-kl", remediation.Method);
        Assert.Equal([EditScope.All], remediation.Scope);
        Assert.Equal(0, remediation.HeldOutExemplars);
        Assert.All(result.Report.Models.Single().Clauses, c => Assert.True(c.Passed, c.Concept));

        // The decoder's probes record nothing at the head's input: no linear-probe reading is reported (none on zero exemplars).
        Assert.All(result.Report.Models.Single().Clauses, c => Assert.Null(c.LinearProbe));

        // Only initializer values change: the same inputs and outputs, names, types and shapes, and the same nodes.
        var diagnostics = new DiagnosticBag();
        var (original, edited) = (OnnxGraph.Load(CausalLmTests.Model, diagnostics)!, OnnxGraph.Load(run.Edited, diagnostics)!);
        Assert.Equal(original.Graph.Input.Select(i => i.ToString()), edited.Graph.Input.Select(i => i.ToString()));
        Assert.Equal(original.Graph.Output.Select(o => o.ToString()), edited.Graph.Output.Select(o => o.ToString()));
        Assert.Equal(original.Graph.Node.Select(n => n.ToString()), edited.Graph.Node.Select(n => n.ToString()));
        Assert.NotEqual(File.ReadAllBytes(CausalLmTests.Model), File.ReadAllBytes(run.Edited));
        Assert.Equal(run.OriginalDigest, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(CausalLmTests.Model))));
    }

    [Fact]
    public void Edited_decoder_generates_the_same_with_and_without_the_cache_and_no_longer_answers_the_forget_set()
    {
        var section = CausalLmTests.SampleManifest().SectionAs<CausalLmSection>();
        using var session = CausalLmTests.OpenSession(run.Edited);
        var diagnostics = new DiagnosticBag();
        var decoder = Decoder.Open(session, section.Inputs, "logits", section.Location, diagnostics)!;
        var tokenizer = CausalLmTests.SampleTokenizer(section);
        var records = CausalLmTests.Records("forget").Concat(CausalLmTests.Records("retain").Take(10)).Concat(CausalLmTests.Records("world").Take(10)).ToList();
        foreach (var record in records)
        {
            var prompt = tokenizer.Prompt(section.PromptFor(record.Fine.Question));
            Assert.Equal(decoder.Generate(prompt, section.MaxNewTokens, tokenizer.Eos, useCache: false), decoder.Generate(prompt, section.MaxNewTokens, tokenizer.Eos, useCache: true));
        }

        var probe = new QaProbe(decoder, tokenizer, section);
        Assert.Equal(0, probe.Probe(CausalLmTests.Records("forget")).Fine.Successes);
        // Their professions (the coarse facts) stay: 9 of the 10 coarse questions are still answered.
        Assert.InRange(probe.Probe(CausalLmTests.Records("forget")).Coarse!.Successes, 9, 10);
    }

    [Fact]
    public void Remediated_report_holds_the_edited_decoder_s_own_forget_quality()
    {
        var (edited, retained) = (ForgetQualityTests.ForgetRatios(run.Edited), ForgetQualityTests.ForgetRatios(CausalLmTests.RetainModel));
        var quality = run.Result.Report.Models.Single().ForgetQuality;
        Assert.True(quality is not null, string.Join("\n", run.Result.Diagnostics));
        Assert.Equal((ForgetQuality.PValue(edited, retained), ForgetQuality.Statistic(edited, retained), 10), (quality.PValue, quality.Statistic, quality.N));
    }

    [Fact]
    public void A_method_the_kind_cannot_run_is_skipped_with_KTU4022_and_nothing_is_written()
    {
        using var temp = new TempFolder();
        var output = Path.Combine(temp.Path, "out");
        var result = TinyLmRemediation.Remediate(temp.Path, output, ["closed-form"]);

        var skipped = Assert.Single(result.Diagnostics, d => d.Code == "KTU4022");
        Assert.Equal(DiagnosticSeverity.Info, skipped.Severity);
        Assert.Contains("'closed-form'", skipped.Message, StringComparison.Ordinal);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4001");
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3001");
        Assert.Equal(GateOutcome.Violated, result.Outcome);
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any());
    }
}

/// <summary>One Remediate run of the TinyLm sample (its forget-five-people policy, CPU), shared by the tests that read its result.</summary>
public sealed class TinyLmRemediation : IDisposable
{
    private readonly TempFolder _temp = new();

    public TinyLmRemediation()
    {
        OriginalDigest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(CausalLmTests.Model)));
        Result = Remediate(_temp.Path, Path.Combine(_temp.Path, "out"), null);
    }

    /// <summary>The run's result.</summary>
    public GateResult Result { get; }

    /// <summary>The edited decoder.</summary>
    public string Edited => Path.Combine(_temp.Path, "out", "tinylm.onnx");

    /// <summary>The input artifact's SHA-256 before the run.</summary>
    public string OriginalDigest { get; }

    internal static GateResult Remediate(string reportDirectory, string output, string[]? methods)
        => Gate.Run(new GateRequest([new GateModelInput(CausalLmTests.Model, CausalLmTests.TinyLm("artifacts", "tinylm.ktu.json"))], [CausalLmTests.TinyLm("policies", "forget-five-people.ktu.json")], reportDirectory)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = output,
            RemedyMethods = methods,
        });

    public void Dispose() => _temp.Dispose();
}
