using KtuGate.Diagnostics;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Tests;
using KtuGate.Unlearning;

namespace KtuGate.Core.Tests;

/// <summary>An edit is fitted on part of each concept's exemplars and judged on the part it never saw.</summary>
public sealed class HoldOutTests
{
    private static GateResult Remediate(string policy, string baseDirectory, string outputDirectory)
        => Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [policy], Path.Combine(outputDirectory, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = outputDirectory,
            BaseDirectory = baseDirectory,
        });

    private static Policy Load(string path)
    {
        var diagnostics = new DiagnosticBag();
        var policy = PolicyParser.Load(path, diagnostics);
        Assert.Empty(diagnostics.Items);
        return policy!;
    }

    [Fact]
    public void The_split_is_a_stable_hash_of_each_exemplars_path_relative_to_its_policy_not_of_order_or_place()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        const string Text = """{ "ktuPolicy": 1, "id": "p", "concepts": { "sneaker": { "exemplars": ["exemplars/sneaker/*.png"] } }, "remedy": { "allowed": true } }""";
        foreach (var temp in new[] { a, b })
        {
            temp.CopyExemplars("sneaker", Path.Combine("exemplars", "sneaker"), 300);
            temp.File("policy.ktu.json", Text);
        }

        var inA = Load(Path.Combine(a.Path, "policy.ktu.json"));
        var inB = Load(Path.Combine(b.Path, "policy.ktu.json"));
        var files = inA.GetConcept("sneaker").Files;
        var heldA = files.Where(f => HoldOut.IsHeldOut(inA, f)).Select(f => Path.GetRelativePath(a.Path, f)).ToList();

        // The same relative paths in another folder, and the files in reverse order, give the same split.
        Assert.Equal(heldA, inB.GetConcept("sneaker").Files.Where(f => HoldOut.IsHeldOut(inB, f)).Select(f => Path.GetRelativePath(b.Path, f)));
        Assert.Equal(heldA, files.Reverse().Where(f => HoldOut.IsHeldOut(inA, f)).Select(f => Path.GetRelativePath(a.Path, f)).Reverse());

        // About the default share (0.3) of 300, and a larger share holds out a superset.
        Assert.Equal(RemedyOptions.DefaultHoldOut, inA.Remedy.HoldOut);
        Assert.InRange(heldA.Count, 60, 120);
        var half = inA with { Remedy = inA.Remedy with { HoldOut = 0.5 } };
        Assert.All(files.Where(f => HoldOut.IsHeldOut(inA, f)), f => Assert.True(HoldOut.IsHeldOut(half, f)));
        Assert.True(files.Count(f => HoldOut.IsHeldOut(half, f)) > heldA.Count);
    }

    [Theory]
    [InlineData("0.5", null)]
    [InlineData("0", "KTU1006")]
    [InlineData("1", "KTU1006")]
    [InlineData("\"half\"", "KTU1004")]
    public void A_policy_sets_the_held_out_share_within_its_range(string value, string? code)
    {
        using var temp = new TempFolder();
        var path = temp.File("p.ktu.json", $$"""{ "ktuPolicy": 1, "id": "p", "concepts": {}, "remedy": { "allowed": true, "holdOut": {{value}} } }""");
        var diagnostics = new DiagnosticBag();

        var policy = PolicyParser.Load(path, diagnostics);

        if (code is null)
        {
            Assert.Empty(diagnostics.Items);
            Assert.Equal(0.5, policy!.Remedy.HoldOut);
        }
        else
        {
            Assert.Equal(code, Assert.Single(diagnostics.Items).Code);
        }
    }

    [Fact]
    public void The_edit_is_fitted_on_the_rest_and_every_threshold_judged_on_the_held_out_part_and_both_are_reported()
    {
        using var temp = new TempFolder();
        var policy = Load(TestPaths.SamplePolicy);
        var sneakers = policy.GetConcept("sneaker").Files;
        var held = sneakers.Count(f => HoldOut.IsHeldOut(policy, f));

        var result = Remediate(TestPaths.SamplePolicy, TestPaths.Sample(), temp.Path);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var model = Assert.Single(result.Report.Models);
        var remediation = model.Remediation!;
        Assert.Equal(sneakers.Count - held, remediation.ForgetExemplars);
        Assert.True(remediation.HeldOutExemplars > held);
        var forget = model.Clauses.Single(c => c.Kind == "forget");
        Assert.Equal(held, forget.Measured.N);
        Assert.Equal(sneakers.Count - held, forget.Fit!.N);
        Assert.True(forget.Measured.CiHigh <= 0.05);
        Assert.All(forget.Perturbed, p => Assert.Equal(held, p.Measured.N));
        Assert.All(model.Clauses, c => Assert.Equal(300, c.Measured.N + c.Fit!.N));

        // The concept's exemplar set (count and digest, what ktu verify checks) still covers every file.
        Assert.Equal(300, model.Concepts.Single(c => c.Concept == "sneaker").Exemplars.Count);
    }

    [Fact]
    public void Too_few_held_out_exemplars_to_show_a_threshold_is_insufficient_evidence_and_nothing_is_edited()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", Path.Combine("policies", "exemplars", "sneaker"), 120);
        var policy = temp.File(Path.Combine("policies", "p.ktu.json"), """
            {
              "ktuPolicy": 1, "id": "p",
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 } ],
              "concepts": { "sneaker": { "exemplars": ["exemplars/sneaker/*.png"] } },
              "remedy": { "allowed": true }
            }
            """);

        var result = Remediate(policy, temp.Path, Path.Combine(temp.Path, "out"));

        // 120 exemplars could show 0.05 (73 needed), but the ~36 held out cannot: the edit is not even tried.
        var tooFew = Assert.Single(result.Diagnostics, d => d.Code == "KTU4020");
        Assert.Equal(DiagnosticSeverity.Error, tooFew.Severity);
        Assert.Equal(DiagnosticCategory.Evidence, DiagnosticCodes.HeldOutTooFew.Category);
        Assert.Equal((policy, 3), (tooFew.Location!.File, tooFew.Location.Line));
        Assert.Contains("of its 120 exemplars are held out from the edit (remedy.holdOut 0.3); an upper bound of 0.05 needs at least 73 with none recognised", tooFew.Message, StringComparison.Ordinal);
        Assert.NotEqual(GateOutcome.Pass, result.Outcome);
        Assert.Null(result.Report.Models[0].Remediation);
        Assert.False(File.Exists(Path.Combine(temp.Path, "out", "fashion-classifier.onnx")));
    }
}
