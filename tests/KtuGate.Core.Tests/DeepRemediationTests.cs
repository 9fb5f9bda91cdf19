using KtuGate.Diagnostics;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;
using KtuGate.Unlearning;
using Onnx;

namespace KtuGate.Core.Tests;

/// <summary>
/// Remediation over a scope deeper than the last layer (policy <c>remedy.scope</c>, <c>ktu unlearn --scope</c>), end to end through
/// <see cref="Gate.Run"/> on the real FashionGate classifier: trained through the network, judged by ONNX Runtime, written and probed.
/// </summary>
public sealed class DeepRemediationTests
{
    private static GateResult Remediate(string policy, string outputDirectory, string baseDirectory, string[]? scope = null, string[]? methods = null, List<ProbeProgress>? progress = null)
        => Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [policy], Path.Combine(outputDirectory, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = outputDirectory,
            BaseDirectory = baseDirectory,
            RemedyScope = scope,
            RemedyMethods = methods,
            Progress = progress is null ? null : new SyncProgress(progress.Add),
        });

    /// <summary>The sample's retire-sneaker policy, copied with its exemplars, its remedy replaced by <paramref name="remedy"/>.</summary>
    private static float[] Initializer(string model, string name)
    {
        var tensor = OnnxGraph.Load(model, new DiagnosticBag())!.Graph.Initializer.Single(t => t.Name == name);
        var raw = tensor.RawData.ToByteArray();
        var values = new float[raw.Length / 4];
        Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
        return tensor.FloatData.Count > 0 ? [.. tensor.FloatData] : values;
    }

    [Theory]
    [InlineData(null, new[] { "last" }, null)]
    [InlineData("\"all\"", new[] { "all" }, null)]
    [InlineData("[\"conv2\", \"/fc1/Gemm\"]", new[] { "conv2", "/fc1/Gemm" }, null)]
    [InlineData("[]", null, "KTU1004")]
    [InlineData("[\"conv2\", \"conv2\"]", null, "KTU1004")]
    [InlineData("[\" \"]", null, "KTU1004")]
    [InlineData("3", null, "KTU1004")]
    public void A_policy_names_its_scope_as_a_string_or_a_list(string? value, string[]? expected, string? code)
    {
        using var temp = new TempFolder();
        var scope = value is null ? "" : $", \"scope\": {value}";
        var path = temp.File("p.ktu.json", $$"""{ "ktuPolicy": 1, "id": "p", "concepts": {}, "remedy": { "allowed": true{{scope}} } }""");
        var diagnostics = new DiagnosticBag();

        var policy = PolicyParser.Load(path, diagnostics);

        if (code is null)
        {
            Assert.Empty(diagnostics.Items);
            Assert.Equal(expected, policy!.Remedy.Scope);
            Assert.Equal(value is null, policy!.Remedy.ScopeLocation is null);
        }
        else
        {
            var d = Assert.Single(diagnostics.Items);
            Assert.Equal((code, 1), (d.Code, d.Location!.Line));
        }
    }

    [Fact]
    public void A_scope_below_the_last_layer_is_trained_through_the_network_and_only_a_probed_pass_is_written()
    {
        using var temp = new TempFolder();
        var policy = temp.SamplePolicyWithRemedy("{ \"allowed\": true, \"methods\": [\"nhl-kl\"], \"scope\": [\"/fc1/Gemm\", \"conv2\"] }");
        var output = Path.Combine(temp.Path, "out");
        var progress = new List<ProbeProgress>();

        var result = Remediate(policy, output, temp.Path, progress: progress);

        Assert.True(result.Outcome == GateOutcome.Pass, string.Join("\n", result.Diagnostics));
        var remediation = result.Report.Models[0].Remediation!;
        Assert.Equal("nhl-kl", remediation.Method);
        Assert.Equal(["/fc1/Gemm", "conv2"], remediation.Scope);

        // Progress tells each checkpoint of the settings trained through the network, up to the kept one's passing step.
        var checkpoints = progress.Where(p => p.Detail.Length > 0).ToList();
        var keptSteps = remediation.Tried[^1].Settings.Split(' ').Single(s => s.StartsWith("steps=", StringComparison.Ordinal))["steps=".Length..];
        Assert.All(checkpoints, p => Assert.Equal((ProgressText.SearchingSettings, "nhl-kl"), (p.Phase, p.Concept)));
        Assert.Equal($"step {keptSteps} judged: passed", checkpoints[^1].Detail);
        Assert.All(checkpoints[..^1], p => Assert.Matches("^step [0-9]+0 judged: [0-9]+ clauses? missed: KTU[0-9]{4}(, KTU[0-9]{4})*$", p.Detail));
        var kept = int.Parse(keptSteps, System.Globalization.CultureInfo.InvariantCulture) / DeepEdit.CheckpointInterval;
        Assert.Equal(Enumerable.Range(1, kept).Select(k => $"step {k * DeepEdit.CheckpointInterval} judged:"), checkpoints.TakeLast(kept).Select(p => p.Detail[..p.Detail.IndexOf(':', StringComparison.Ordinal)] + ":"));
        Assert.Equal(4, remediation.TrainedInitializers); // fc1.weight, fc1.bias, conv2.weight, conv2.bias
        Assert.True(remediation.ChangedParameters > 0);

        // The last layer was not tried (the scope leaves it out): every setting trained the scope, each judged by running the model.
        Assert.All(remediation.Tried, t => Assert.StartsWith("scope=/fc1/Gemm, conv2 ", t.Settings, StringComparison.Ordinal));
        Assert.All(remediation.Tried, t => Assert.True(t.Probed));
        Assert.True(result.Report.Models[0].Metrics[0].QualityUtility >= 0.9);

        // The written artifact: the scope's weights moved, the last layer's and the first convolution's did not.
        var written = Path.Combine(output, "fashion-classifier.onnx");
        Assert.Equal(Initializer(TestPaths.SampleModel, "fc2.weight"), Initializer(written, "fc2.weight"));
        Assert.Equal(Initializer(TestPaths.SampleModel, "conv1.weight"), Initializer(written, "conv1.weight"));
        Assert.NotEqual(Initializer(TestPaths.SampleModel, "fc1.weight"), Initializer(written, "fc1.weight"));
        Assert.NotEqual(Initializer(TestPaths.SampleModel, "conv2.weight"), Initializer(written, "conv2.weight"));
        Assert.Equal(remediation.Output!.Sha256, TestPaths.Sha256(written));

        // The recovery profile: the sneaker-vs-siblings probe at each trained layer's output and at the last layer's input, before and after.
        var profile = remediation.RecoveryProfile!;
        Assert.Equal(["/conv2/Conv_output_0", "/fc1/Gemm_output_0", "/Relu_2_output_0"], profile.Select(d => d.Features));
        Assert.All(profile, d => Assert.Equal(("retire-sneaker", "sneaker", "siblings"), (d.Policy, d.Concept, d.Against)));
        Assert.Equal([false, false, true], profile.Select(d => d.SiteInput));
        Assert.All(profile, d => Assert.True(d.Before.Rate > 0.85 && d.After.N == d.Before.N, $"{d.Features}: {d.Before.Rate} → {d.After.Rate}"));
        var penultimate = profile[^1];

        // The clause's linear probe is the edited artifact's now (the features below the last layer moved), no longer the original's.
        Assert.Equal(penultimate.After, result.Report.Models[0].Clauses.Single(c => c.Kind == "forget").LinearProbe!.Accuracy);
        Assert.Contains("**Recovery profile** (linear probe, before → after): sneaker vs siblings at ", File.ReadAllText(Path.Combine(output, "report", "ktu-report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Scope_all_tries_the_last_layer_first_and_records_what_it_trained()
    {
        using var temp = new TempFolder();
        var policy = temp.SamplePolicyWithRemedy("{ \"allowed\": true, \"scope\": \"all\" }");

        var result = Remediate(policy, Path.Combine(temp.Path, "out"), temp.Path);

        Assert.True(result.Outcome == GateOutcome.Pass, string.Join("\n", result.Diagnostics));
        var remediation = result.Report.Models[0].Remediation!;
        Assert.Equal("closed-form", remediation.Method);
        Assert.Equal([RemedyOptions.LastScope], remediation.Scope);
        Assert.Equal(2, remediation.TrainedInitializers);
        Assert.InRange(remediation.ChangedParameters!.Value, 1, 10 * 129);

        // What a last-layer edit leaves below it, in its recovery profile: the same reading before and after at the last layer's input.
        Assert.Equal(["/Relu_2_output_0", "logits"], remediation.RecoveryProfile!.Select(d => d.Features));
        var penultimate = remediation.RecoveryProfile![0];
        Assert.True(penultimate.SiteInput);
        Assert.Equal(penultimate.Before, penultimate.After);
        Assert.True(penultimate.Before.Rate > 0.9);
    }

    [Fact]
    public void A_scope_entry_naming_nothing_is_KTU4012_at_the_policy_and_nothing_is_written()
    {
        using var temp = new TempFolder();
        var policy = temp.SamplePolicyWithRemedy("{ \"allowed\": true, \"scope\": [\"decoder.layers\"] }");
        var output = Path.Combine(temp.Path, "out");

        var result = Remediate(policy, output, temp.Path);

        // A policy that names what the model lacks is bad input, not a verdict on the model.
        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU4012");
        Assert.Equal(policy, d.Location!.File);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4001");
        Assert.False(File.Exists(Path.Combine(output, "fashion-classifier.onnx")));
    }

    [Fact]
    public void A_deep_scope_with_only_last_layer_methods_is_KTU4013()
    {
        using var temp = new TempFolder();
        var policy = temp.SamplePolicyWithRemedy("{ \"allowed\": true, \"methods\": [\"closed-form\"] }");

        var result = Remediate(policy, Path.Combine(temp.Path, "out"), temp.Path, scope: ["conv2"]);

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU4013");
        Assert.Contains("none of the methods tried (closed-form) trains through the network", d.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A model the gradient builder refuses (here: below opset 13, as ML.NET's ResNet-18 export is) is KTU4011 located at the artifact; it
    /// was located at the graph's name, which names no file.
    /// </summary>
    [Fact]
    public void A_model_the_gradient_builder_refuses_is_KTU4011_at_the_artifact_and_nothing_is_written()
    {
        using var temp = new TempFolder();
        var model = OnnxGraph.Load(TestPaths.SampleModel, new DiagnosticBag())!;
        model.OpsetImport.Single(o => o.Domain is "" or "ai.onnx").Version = 12;
        var artifact = temp.File("fashion-classifier.onnx");
        File.WriteAllBytes(artifact, Google.Protobuf.MessageExtensions.ToByteArray(model));
        var output = Path.Combine(temp.Path, "out");

        var result = Gate.Run(new GateRequest([new GateModelInput(artifact, TestPaths.SampleManifest)], [TestPaths.SamplePolicy], Path.Combine(output, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = output,
            BaseDirectory = TestPaths.Sample(),
            RemedyScope = ["conv2"],
            RemedyMethods = ["nhl-kl"],
        });

        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU4011");
        Assert.Equal(artifact, d.Location!.File);
        Assert.Contains("below 13", d.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, "fashion-classifier.onnx")));
    }
}
