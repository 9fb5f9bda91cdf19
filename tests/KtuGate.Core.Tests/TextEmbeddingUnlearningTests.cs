using System.Security.Cryptography;
using KtuGate.Diagnostics;
using KtuGate.Kinds.TextEmbedding;
using KtuGate.Probing;
using KtuGate.Onnx;
using KtuGate.Tests;
using KtuGate.Unlearning;

namespace KtuGate.Core.Tests;

/// <summary>Unlearning inside the real all-MiniLM-L6-v2: a Remediate run of the TextFacts sample, and the encoder it writes, probed again on its own.</summary>
public sealed class TextEmbeddingUnlearningTests(TextFactsRemediation run) : IClassFixture<TextFactsRemediation>
{
    [Fact]
    public void Remediating_the_sample_passes_and_writes_an_encoder_with_the_original_inputs_outputs_and_nodes()
    {
        var result = run.Result;
        Assert.True(result.Outcome == GateOutcome.Pass, string.Join("\n", result.Diagnostics));

        // One fact file per concept: too few to hold out, so the edit is judged on every probe and the report says so.
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU4021" && d.Severity == DiagnosticSeverity.Info);
        var model = result.Report.Models.Single();
        // The kind's first scope, the last block's feed-forward projections (two [384, 1536] products and their biases), met every threshold.
        Assert.Equal([EditScope.LastFeedForward], model.Remediation!.Scope);
        Assert.InRange(model.Remediation.ChangedParameters ?? 0, 1, (2 * 384 * 1536) + 1536 + 384);
        Assert.All(model.Clauses, c => Assert.True(c.Passed, c.Concept));
        var forget = Assert.Single(model.Clauses, c => c.Kind == "forget");
        Assert.Equal((0, 6), (forget.Measured.Successes, forget.Measured.N));

        // General utility before and after: the held-out facts' fine accuracy, judged against the policy's floor, the original as baseline.
        var metrics = Assert.Single(model.Metrics);
        Assert.Equal(681, metrics.General!.N);
        Assert.Equal(424, metrics.Baseline!.General!.Successes);
        Assert.True(metrics.General.Rate >= 0.612, $"general accuracy {metrics.General.Rate}");

        var diagnostics = new DiagnosticBag();
        var (original, edited) = (OnnxGraph.Load(TextEmbeddingTests.MiniLm, diagnostics)!, OnnxGraph.Load(run.Edited, diagnostics)!);
        Assert.Equal(original.Graph.Input.Select(i => i.ToString()), edited.Graph.Input.Select(i => i.ToString()));
        Assert.Equal(original.Graph.Output.Select(o => o.ToString()), edited.Graph.Output.Select(o => o.ToString()));
        Assert.Equal(original.Graph.Node.Select(n => n.ToString()), edited.Graph.Node.Select(n => n.ToString()));
        Assert.Equal(run.OriginalDigest, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TextEmbeddingTests.MiniLm))));

        // The recovery profile: at each block's input and the encoder's output, how many of the Eiffel Tower's ten wordings a linear probe
        // trained on the other landmarks reads as Paris, before and after.
        var depths = FactRecovery.Depths(original, "last_hidden_state");
        Assert.Equal(7, depths.Count);
        Assert.Equal("last_hidden_state", depths[^1]);
        var profile = model.Remediation.RecoveryProfile!;
        Assert.Equal(depths, profile.Select(d => d.Features));
        Assert.All(profile, d => Assert.Equal(("eiffel-tower", FactRecovery.Against, 10, 10), (d.Concept, d.Against, d.Before.N, d.After.N)));

        // Every block's input lies below the edit, so the probe reads there what it read before; at the output it reads fewer.
        Assert.All(profile.SkipLast(1), d => Assert.Equal(d.Before.Successes, d.After.Successes));
        Assert.True(profile[^1].After.Successes < profile[^1].Before.Successes, $"{profile[^1].Before.Successes} -> {profile[^1].After.Successes}");
    }

    [Fact]
    public void Edited_encoder_probed_on_its_own_no_longer_places_the_Eiffel_Tower_in_Paris_but_still_in_France()
    {
        var manifest = TextEmbeddingTests.SampleManifest();
        var facts = TextEmbeddingTests.SampleFacts(manifest);
        using var before = TextEmbeddingTests.OpenEncoder(manifest);
        using var after = TextEmbeddingTests.OpenEncoder(manifest, run.Edited);
        var eiffel = facts.Facts.Single(f => f.Subject == "Eiffel Tower");
        var (was, now) = (new FactProbe(before, facts).Probe([eiffel]), new FactProbe(after, facts).Probe([eiffel]));
        Assert.Equal((6, 0), (was.Fine.Successes, now.Fine.Successes));
        Assert.True(now.Coarse!.Successes >= was.Coarse!.Successes, $"France: {now.Coarse.Successes} of 6 after, {was.Coarse.Successes} before");

        // The paraphrased wordings, which judge nothing here, were trained on as forget rows too.
        Assert.Equal(0, new FactProbe(after, facts).Probe([eiffel], FactWordings.Paraphrases).Fine.Successes);

        // The other Paris landmarks keep their city: of their 12 probes, all placed in Paris before, at most one is lost (one of the Arc
        // de Triomphe's three, measured; the policy asks each landmark to keep half of its probes).
        var siblings = facts.Facts.Where(f => f.Relation == "landmark-city" && f.Object == "Paris" && f != eiffel).ToList();
        Assert.Equal(12, new FactProbe(before, facts).Probe(siblings).Fine.Successes);
        Assert.InRange(new FactProbe(after, facts).Probe(siblings).Fine.Successes, 11, 12);
    }

    [Fact]
    public void Remediating_over_every_weight_trains_the_whole_encoder_in_length_buckets_and_passes()
    {
        // The scope the kind falls back to when the feed-forward edit misses, asked for directly: every step runs the encoder's graph.
        using var temp = new TempFolder();
        var result = Gate.Run(new GateRequest([new GateModelInput(TextEmbeddingTests.MiniLm, TextEmbeddingTests.Facts("artifacts", "minilm.ktu.json"))],
            [TextEmbeddingTests.Facts("policies", "forget-eiffel-tower.ktu.json")], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = Path.Combine(temp.Path, "out"),
            RemedyScope = [EditScope.All],
        });
        Assert.True(result.Outcome == GateOutcome.Pass, string.Join("\n", result.Diagnostics));
        var remediation = result.Report.Models.Single().Remediation!;
        Assert.Equal([EditScope.All], remediation.Scope);
        Assert.True(remediation.ChangedParameters > 10_000_000, $"{remediation.ChangedParameters} parameters changed");
        var forget = result.Report.Models.Single().Clauses.Single(c => c.Kind == "forget");
        Assert.Equal((0, 6), (forget.Measured.Successes, forget.Measured.N));
    }

    [Fact]
    public void Recovery_profile_probes_a_forget_file_s_own_names_where_they_differ_from_the_fact_set_s()
    {
        // The fact set names the Eiffel Tower and the Tour Eiffel; this forget file adds a third name, worded in 5 templates and paraphrases.
        using var temp = new TempFolder();
        var file = Path.Combine(temp.Path, "eiffel.jsonl");
        File.WriteAllText(file, "{\"relation\": \"landmark-city\", \"subject\": \"Eiffel Tower\", \"aliases\": [\"Tour Eiffel\", \"the Iron Lady\"], \"object\": \"Paris\"}\n");
        var manifest = TextEmbeddingTests.SampleManifest();
        var facts = TextEmbeddingTests.SampleFacts(manifest);
        using var tower = TextEmbeddingTests.OpenEncoder(manifest);
        var model = OnnxGraph.Load(TextEmbeddingTests.MiniLm, new DiagnosticBag())!;
        var spec = manifest.SectionAs<TextEmbeddingSection>().Encoder(TextEmbeddingTests.MiniLm, manifest.Output.Name);

        var profile = FactRecovery.Profile(spec, tower, facts, model, [], [("policy", "eiffel-tower", [file])], temp.Path)!;
        Assert.Equal(7, profile.Count);
        Assert.All(profile, d => Assert.Equal((15, 15), (d.Before.N, d.After.N)));
        Assert.All(profile, d => Assert.Equal(d.Before.Successes, d.After.Successes));
    }
}

/// <summary>One Remediate run of the TextFacts sample (its forget-eiffel-tower policy, CPU), shared by the tests that read its result.</summary>
public sealed class TextFactsRemediation : IDisposable
{
    private readonly TempFolder _temp = new();

    public TextFactsRemediation()
    {
        OriginalDigest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TextEmbeddingTests.MiniLm)));
        Result = Gate.Run(new GateRequest([new GateModelInput(TextEmbeddingTests.MiniLm, TextEmbeddingTests.Facts("artifacts", "minilm.ktu.json"))],
            [TextEmbeddingTests.Facts("policies", "forget-eiffel-tower.ktu.json")], _temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = Path.Combine(_temp.Path, "out"),
        });
    }

    /// <summary>The run's result.</summary>
    public GateResult Result { get; }

    /// <summary>The edited encoder.</summary>
    public string Edited => Path.Combine(_temp.Path, "out", "model.onnx");

    /// <summary>The input artifact's SHA-256 before the run.</summary>
    public string OriginalDigest { get; }

    public void Dispose() => _temp.Dispose();
}
