using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Tests;
using KtuGate.Unlearning;
using Onnx;

namespace KtuGate.Core.Tests;

/// <summary>KtuGateMode=Remediate on the real sample models: the edited artifact forgets, keeps, runs, and the input is untouched.</summary>
public sealed class RemediationTests
{
    private static GateResult Remediate(string artifact, string manifest, string policy, string outputDirectory, string? baseDirectory = null, string[]? methods = null)
        => Gate.Run(new GateRequest([new GateModelInput(artifact, manifest)], [policy], Path.Combine(outputDirectory, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = outputDirectory,
            BaseDirectory = baseDirectory ?? Path.GetDirectoryName(Path.GetDirectoryName(artifact)),
            RemedyMethods = methods,
        });

    [Fact]
    public void Classifier_is_remediated_and_the_edited_artifact_forgets_sneakers_but_keeps_footwear()
    {
        using var temp = new TempFolder();
        var before = TestPaths.Sha256(TestPaths.SampleModel);

        var result = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, temp.Path);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        Assert.Equal("remediate", result.Report.Mode);
        var output = Path.Combine(temp.Path, "fashion-classifier.onnx");
        var model = Assert.Single(result.Report.Models);
        var remediation = model.Remediation!;
        Assert.Equal("closed-form", remediation.Method);
        Assert.Equal("/fc2/Gemm", remediation.Site.Node);
        Assert.Equal((128, 10), (remediation.Site.Inputs, remediation.Site.Outputs));
        Assert.Equal(TestPaths.Sha256(output), remediation.Output!.Sha256);
        Assert.Equal(before, remediation.Original.Sha256);
        Assert.Equal(before, model.Baseline!.Sha256);
        Assert.Equal(before, TestPaths.Sha256(TestPaths.SampleModel)); // the input is never modified
        Assert.True(remediation.Tried[^1].Passed);
        Assert.All(remediation.Tried.SkipLast(1), t => Assert.False(t.Passed));

        // Settings that miss a threshold are judged from the edit site's recorded inputs and never written; only the one kept is probed.
        Assert.True(remediation.JudgedInMemory);
        Assert.Contains(remediation.Tried, t => t.Missed.Any(m => m.StartsWith("KTU3001 'sneaker' is still known: fine accuracy", StringComparison.Ordinal)));
        Assert.All(remediation.Tried.SkipLast(1), t => Assert.False(t.Probed));
        Assert.True(remediation.Tried[^1].Probed);

        // Judged on the edited artifact: sneakers forgotten (upper bound under 5%), still footwear, siblings kept.
        var forget = model.Clauses.Single(c => c.Kind == "forget");
        Assert.True(forget.Passed);
        Assert.True(forget.Measured.CiHigh <= 0.05);
        Assert.True(model.Clauses.Single(c => c.Kind == "retain" && c.Concept == "sneaker").Measured.Rate >= 0.95);
        var metrics = Assert.Single(model.Metrics);
        Assert.True(metrics.QualityUtility >= 0.99, $"Q-U {metrics.QualityUtility}");

        // A linear probe below the edit still tells sneakers from sandals and ankle boots: a last-layer edit leaves those features, and the report says so.
        var probe = forget.LinearProbe!;
        Assert.Equal(("/Relu_2_output_0", "siblings"), (probe.Features, probe.Against));
        Assert.True(probe.Accuracy.Rate > 0.9, $"{probe.Accuracy.Rate}");
        Assert.Equal(450, probe.Accuracy.N); // the held-out half of 300 sneakers and 600 siblings

        // Robustness is reported: the concept is probed again on mirrored and noisy exemplars of the edited artifact.
        Assert.Equal(["flip", "noise"], forget.Perturbed.Select(p => p.Perturbation));
        Assert.All(forget.Perturbed, p => Assert.Equal(forget.Measured.N, p.Measured.N)); // the held-out part the edit is judged on

        // The edited artifact runs in ONNX Runtime with the same inputs and outputs as the original.
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        using var edited = LoadedModel.Open(output, manifest, ExecutionProviderPreference.Cpu, diagnostics);
        Assert.NotNull(edited);
        Assert.DoesNotContain(diagnostics.Items, d => d.Severity == DiagnosticSeverity.Error);
    }

    [Fact]
    public void Two_remediations_write_byte_identical_artifacts()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, a.Path);
        Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, b.Path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Path, "fashion-classifier.onnx")), File.ReadAllBytes(Path.Combine(b.Path, "fashion-classifier.onnx")));
    }

    [Fact]
    public void Thresholds_out_of_reach_of_the_held_out_exemplars_are_not_tried_and_write_nothing()
    {
        using var temp = new TempFolder();
        var policy = Path.Combine(temp.Path, "policies", "impossible.ktu.json");
        Directory.CreateDirectory(Path.GetDirectoryName(policy)!);
        temp.CopyExemplars("sneaker", "policies/exemplars/sneaker", 40);
        temp.CopyExemplars("sandal", "policies/exemplars/sandal", 40);

        // 0 of 40 still has an upper bound of 0.088: no edit can prove an accuracy of at most 0.01 on 40 exemplars, let alone on the part held out.
        File.WriteAllText(policy, """
            { "ktuPolicy": 1, "id": "impossible",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] }, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.01 } ],
              "retain": [ { "concept": "sandal", "minAccuracy": 0.9 } ],
              "remedy": { "allowed": true } }
            """);

        var result = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, policy, Path.Combine(temp.Path, "out"), temp.Path);

        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU4020");
        Assert.Equal(policy, error.Location!.File);
        Assert.Contains("an upper bound of 0.01 needs at least 381 with none recognised", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(temp.Path, "out", "fashion-classifier.onnx")));
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "out")) && Directory.GetFiles(Path.Combine(temp.Path, "out"), "*.onnx").Length > 0);
        Assert.Null(result.Report.Models[0].Remediation);
    }

    [Fact]
    public void A_policy_that_does_not_allow_remediation_is_left_alone()
    {
        using var temp = new TempFolder();
        foreach (var label in new[] { "sneaker", "sandal", "ankle-boot", "t-shirt", "bag" })
        {
            temp.CopyExemplars(label, Path.Combine("policies", "exemplars", label), 60);
        }

        var policy = temp.File(Path.Combine("policies", "not-allowed.ktu.json"),
            File.ReadAllText(TestPaths.SamplePolicy).Replace("\"allowed\": true", "\"allowed\": false", StringComparison.Ordinal));

        var result = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, policy, Path.Combine(temp.Path, "out"), temp.Path);

        Assert.Equal(GateOutcome.Violated, result.Outcome);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4004" && d.Severity == DiagnosticSeverity.Warning);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3001");
        Assert.Null(result.Report.Models[0].Remediation);
        Assert.False(File.Exists(Path.Combine(temp.Path, "out", "fashion-classifier.onnx")));
    }

    [Fact]
    public void Edit_sites_are_the_last_linear_layer_before_the_output()
    {
        var diagnostics = new DiagnosticBag();
        var classifier = OnnxGraph.Load(TestPaths.SampleModel, diagnostics)!;
        var site = OnnxGraph.FindSite(classifier, "logits")!;
        Assert.Equal(("/fc2/Gemm", "/Relu_2_output_0", "fc2.weight", "fc2.bias", 128, 10, true), (site.Node, site.Input, site.Weight, site.Bias, site.Inputs, site.Outputs, site.WeightIsOutByIn));
        Assert.Equal("/fc1/Gemm", OnnxGraph.FindSite(classifier, "logits", "/fc1/Gemm")!.Node);

        var clip = OnnxGraph.Load(Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip", "artifacts", "fashion-clip.onnx"), diagnostics)!;
        var clipSite = OnnxGraph.FindSite(clip, "embedding")!;
        Assert.Equal(("/proj/Gemm", 256, 384), (clipSite.Node, clipSite.Inputs, clipSite.Outputs));
        Assert.Empty(diagnostics.Items);
    }

    [Fact]
    public void Model_with_external_data_round_trips_and_an_escaping_location_is_refused()
    {
        using var temp = new TempFolder();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.SampleModel));

        // Move fc1's weight (the largest tensor, not the one edited) into an external file, as exporters do for large models.
        var fc1 = model.Graph.Initializer.Single(t => t.Name == "fc1.weight");
        File.WriteAllBytes(Path.Combine(temp.Path, "weights.bin"), fc1.RawData.ToByteArray());
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = fc1.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        fc1.DataLocation = TensorProto.Types.DataLocation.External;
        fc1.RawData = ByteString.Empty;
        var artifact = Path.Combine(temp.Path, "model", "fashion-classifier.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(artifact)!);
        File.Move(Path.Combine(temp.Path, "weights.bin"), Path.Combine(temp.Path, "model", "weights.bin"));
        File.WriteAllBytes(artifact, model.ToByteArray());

        var result = Remediate(artifact, TestPaths.SampleManifest, TestPaths.SamplePolicy, Path.Combine(temp.Path, "out"), temp.Path);
        Assert.Equal(GateOutcome.Pass, result.Outcome);
        Assert.True(File.Exists(Path.Combine(temp.Path, "out", "weights.bin")));
        var diagnostics = new DiagnosticBag();
        using var edited = LoadedModel.Open(Path.Combine(temp.Path, "out", "fashion-classifier.onnx"), ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!, ExecutionProviderPreference.Cpu, diagnostics);
        Assert.NotNull(edited);

        fc1.ExternalData[0].Value = "../weights.bin";
        var escaping = Path.Combine(temp.Path, "model", "escaping.onnx");
        File.WriteAllBytes(escaping, model.ToByteArray());
        Assert.Null(OnnxGraph.Load(escaping, diagnostics));
        var refused = Assert.Single(diagnostics.Items, d => d.Code == "KTU4002");
        Assert.Contains("'../weights.bin'", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dual_encoder_forgets_the_shirt_among_tops_and_keeps_its_siblings()
    {
        using var temp = new TempFolder();
        var clip = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip");
        var result = Remediate(Path.Combine(clip, "artifacts", "fashion-clip.onnx"), Path.Combine(clip, "artifacts", "fashion-clip.ktu.json"),
            Path.Combine(clip, "policies", "retire-shirt.ktu.json"), temp.Path, clip);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var model = Assert.Single(result.Report.Models);
        Assert.Equal("/proj/Gemm", model.Remediation!.Site.Node);

        // Scoring the recorded site inputs against the prompts' directions reproduced every probe result of the original (fine, coarse, wordings).
        Assert.True(model.Remediation.JudgedInMemory);

        // General accuracy is judged against the original too (the policy bounds its drop).
        var metrics = Assert.Single(model.Metrics);
        Assert.NotNull(metrics.Baseline!.General);
        Assert.True(metrics.QualityUtility >= 0.99, $"Q-U {metrics.QualityUtility}");
        Assert.True(metrics.Passed);
        Assert.True(model.Clauses.Single(c => c.Kind == "forget").Measured.CiHigh <= 0.05);
    }

    [Fact]
    public void A_policy_can_require_that_no_wording_of_the_concept_recalls_it()
    {
        // Knowledge-tracing: forgetting "sneaker" must hold for "trainer" and "running shoe" in every prompt template too.
        using var temp = new TempFolder();
        var clip = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip");
        var policy = Path.Combine(temp.CopyTree(Path.Combine(clip, "policies"), "policies"), "retire-sneaker.ktu.json");
        File.WriteAllText(policy, File.ReadAllText(policy).Replace("\"maxGeneralDrop\": 0.01 }", "\"maxGeneralDrop\": 0.01, \"maxWordingRecall\": 0.05 }", StringComparison.Ordinal));
        var artifact = Path.Combine(clip, "artifacts", "fashion-clip.onnx");
        var manifest = Path.Combine(clip, "artifacts", "fashion-clip.ktu.json");

        // The closed form moves sneakers away from the label's prompts, but some setting always leaves a wording that recalls them.
        var closedForm = Remediate(artifact, manifest, policy, Path.Combine(temp.Path, "closed-form"), temp.Path, ["closed-form"]);
        Assert.Equal(GateOutcome.Violated, closedForm.Outcome);
        Assert.Contains(closedForm.Diagnostics, d => d.Code == "KTU4001");
        Assert.Contains(closedForm.Report.Models[0].Remediation!.Tried, t => t.Missed.Any(m =>
            m.StartsWith("KTU3005", StringComparison.Ordinal) && m.Contains("recall by the wording \"a photo of a running shoe\"", StringComparison.Ordinal)));
        Assert.False(File.Exists(Path.Combine(temp.Path, "closed-form", "fashion-clip.onnx")));

        var nhl = Remediate(artifact, manifest, policy, Path.Combine(temp.Path, "nhl-kl"), temp.Path, ["nhl-kl"]);
        Assert.Equal(GateOutcome.Pass, nhl.Outcome);
        var sneaker = nhl.Report.Models[0].Concepts.First(c => c.Concept == "sneaker");
        Assert.Equal(15, sneaker.Wordings.Count);
        Assert.All(sneaker.Wordings, w => Assert.True(w.Recall.CiHigh <= 0.05, $"{w.Wording}: {w.Recall.CiHigh}"));
    }

    [Fact]
    public void A_policy_can_bound_what_a_linear_probe_reads_below_the_edit_and_remediation_refuses_what_an_edit_cannot_change()
    {
        using var temp = new TempFolder();
        var policy = Path.Combine(temp.CopyTree(TestPaths.Sample("policies"), "policies"), "retire-sneaker.ktu.json");
        var text = File.ReadAllText(policy);
        File.WriteAllText(policy, text.Insert(text.LastIndexOf('}'), ", \"metrics\": { \"maxLinearProbeAccuracy\": 0.6 }"));

        // Verify reads the edit site's inputs too when a policy bounds the probe: sneakers are still readable there.
        var verified = Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [policy], null)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = temp.Path,
        });
        Assert.Equal(GateOutcome.Violated, verified.Outcome);
        var missed = Assert.Single(verified.Diagnostics, d => d.Code == "KTU3005");
        Assert.Contains("'sneaker' linear-probe accuracy against its siblings below the edit site '/fc2/Gemm' (upper bound)", missed.Message, StringComparison.Ordinal);
        Assert.Equal((policy, 6), (missed.Location!.File, missed.Location.Line)); // the forget clause
        Assert.True(verified.Report.Models[0].Clauses.Single(c => c.Kind == "forget").LinearProbe!.Accuracy.CiHigh > 0.6);

        // An edit of that layer cannot change its inputs: remediation says so and writes nothing.
        var remediated = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, policy, Path.Combine(temp.Path, "out"), temp.Path);
        Assert.Equal(GateOutcome.Violated, remediated.Outcome);
        var refused = Assert.Single(remediated.Diagnostics, d => d.Code == "KTU4006");
        Assert.Contains("'sneaker' can still be read out below the edit site '/fc2/Gemm'", refused.Message, StringComparison.Ordinal);
        Assert.Null(remediated.Report.Models[0].Remediation);
        Assert.False(File.Exists(Path.Combine(temp.Path, "out", "fashion-classifier.onnx")));
    }

    [Fact]
    public void Remediation_never_writes_over_its_input()
    {
        using var temp = new TempFolder();
        var artifact = Path.Combine(temp.Path, "fashion-classifier.onnx");
        File.Copy(TestPaths.SampleModel, artifact);
        var before = TestPaths.Sha256(artifact);

        var result = Remediate(artifact, TestPaths.SampleManifest, TestPaths.SamplePolicy, temp.Path, TestPaths.Sample());

        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4005");
        Assert.Equal(before, TestPaths.Sha256(artifact));
    }

    [Fact]
    public void Gradient_methods_stop_at_the_first_checkpoint_that_meets_every_threshold()
    {
        using var nhl = new TempFolder();
        var result = Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, nhl.Path, methods: ["nhl-kl"]);
        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var remediation = result.Report.Models[0].Remediation!;
        Assert.Equal("nhl-kl", remediation.Method);
        Assert.All(remediation.Tried, t => Assert.Equal("nhl-kl", t.Method));
        Assert.True(result.Report.Models[0].Metrics[0].QualityUtility >= 0.99);

        // The kept setting says how many steps it ran: a multiple of the checkpoint interval, short of the setting's full length.
        var steps = int.Parse(remediation.Tried[^1].Settings.Split("steps=")[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, steps % GradientEdit.CheckpointInterval);
        Assert.True(steps < 150, remediation.Tried[^1].Settings);
    }

    [Fact]
    public void Remediation_report_validates_against_the_report_schema()
    {
        using var temp = new TempFolder();
        Remediate(TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy, temp.Path);
        var schema = global::Json.Schema.JsonSchema.FromText(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "ktu-report.schema.json")));
        var report = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(temp.Path, "report", "ktu-report.json")));
        var results = schema.Evaluate(report, new global::Json.Schema.EvaluationOptions { OutputFormat = global::Json.Schema.OutputFormat.List });
        Assert.True(results.IsValid, string.Join("\n", results.Details.Where(d => d.HasErrors).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    [Fact]
    public void A_manifest_can_name_the_edit_site()
    {
        using var temp = new TempFolder();
        var manifest = temp.File("m.ktu.json", File.ReadAllText(TestPaths.SampleManifest).Replace("\"kind\": \"classifier\",", "\"kind\": \"classifier\", \"editSite\": \"/fc9/Gemm\",", StringComparison.Ordinal));
        var result = Remediate(TestPaths.SampleModel, manifest, TestPaths.SamplePolicy, Path.Combine(temp.Path, "out"), TestPaths.Sample());
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU4003");
        Assert.Contains("named '/fc9/Gemm'", d.Message, StringComparison.Ordinal);

        // A policy that bounds the linear probe needs the site as well: the missing site is still said once.
        var policy = Path.Combine(temp.CopyTree(TestPaths.Sample("policies"), "policies"), "retire-sneaker.ktu.json");
        var text = File.ReadAllText(policy);
        File.WriteAllText(policy, text.Insert(text.LastIndexOf('}'), ", \"metrics\": { \"maxLinearProbeAccuracy\": 0.6 }"));
        var bounded = Remediate(TestPaths.SampleModel, manifest, policy, Path.Combine(temp.Path, "out2"), temp.Path);
        Assert.Single(bounded.Diagnostics, d => d.Code == "KTU4003");
    }
}
