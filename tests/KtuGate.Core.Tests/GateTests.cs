using System.Text.Json.Nodes;
using Json.Schema;
using KtuGate.Diagnostics;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class GateTests
{
    private static readonly DateTimeOffset s_fixedTime = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static GateRequest SampleRequest(string reportDir, string? policy = null, string? model = null, string? manifest = null, string? baseline = null)
        => new([new GateModelInput(model ?? TestPaths.SampleModel, manifest ?? TestPaths.SampleManifest, baseline)], [policy ?? TestPaths.SamplePolicy], reportDir)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = TestPaths.Sample(),
            Timestamp = s_fixedTime,
        };

    /// <summary>Asserts that the report a run wrote validates against the published schema.</summary>
    private static void AssertSchemaValid(string reportPath)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "ktu-report.schema.json")));
        var results = schema.Evaluate(JsonNode.Parse(File.ReadAllText(reportPath)), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(results.IsValid, string.Join("\n", results.Details.Where(d => d.HasErrors).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    /// <summary>A policy over a copy of some sample exemplars, in a temp folder.</summary>
    private static string WritePolicy(TempFolder temp, string clauses, string concepts, params string[] labels)
    {
        foreach (var label in labels)
        {
            temp.CopyExemplars(label, Path.Combine("exemplars", label), 60);
        }

        return temp.File("policy.ktu.json", $$"""
            {
              "ktuPolicy": 1,
              "id": "test",
              "concepts": { {{concepts}} },
              {{clauses}}
            }
            """);
    }

    [Fact]
    public void Sample_gate_fails_because_the_model_still_knows_sneakers()
    {
        using var temp = new TempFolder();
        var inputs = new[] { TestPaths.SampleModel, TestPaths.SampleManifest, TestPaths.SamplePolicy };
        var before = inputs.Select(TestPaths.Sha256).ToArray();

        var result = Gate.Run(SampleRequest(temp.Path));

        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var error = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("KTU3001", error.Code);
        Assert.Equal(new SourceLocation(TestPaths.SamplePolicy, 6, 5), error.Location);
        Assert.Matches(@"^'sneaker' is still known: fine accuracy 0\.9\d\d \(95% CI 0\.9\d\d-0\.99\d, n=300\) > allowed 0\.05$", error.Message);

        var report = result.Report;
        Assert.Equal("fail", report.Verdict);
        Assert.Equal(6, report.Summary.Clauses);
        Assert.Equal(1, report.Summary.Failed);
        Assert.Equal("2026-01-02T03:04:05Z", report.GeneratedAt);
        Assert.Equal(SessionFactory.Cpu, report.Environment.ExecutionProvider);
        Assert.Equal("1.31.0", report.Environment.OnnxRuntime);
        var model = Assert.Single(report.Models);
        Assert.Equal("artifacts/fashion-classifier.onnx", model.Artifact.Path);
        Assert.Equal(before[0], model.Artifact.Sha256);
        Assert.Equal(before[1], model.Manifest!.Sha256);
        Assert.Equal(before[2], Assert.Single(report.Policies).File.Sha256);

        var forget = model.Clauses.Single(c => c.Kind == "forget");
        Assert.False(forget.Passed);

        // The original still knows sneakers mirrored (less often: Fashion-MNIST's sneakers all face one way) and noisy, far above 5%.
        Assert.All(forget.Perturbed, p => Assert.True(p.Measured.CiLow > 0.2, $"{p.Perturbation} {p.Measured.Rate}"));
        Assert.Empty(model.Clauses.Where(c => c.Kind == "retain").SelectMany(c => c.Perturbed));
        Assert.Equal(300, forget.Measured.N);
        Assert.Equal(["KTU3001"], forget.Codes);
        Assert.Equal(new ReportLocation("policies/retire-sneaker.ktu.json", 6, 5), forget.Location);
        var coarse = model.Clauses.Single(c => c.Kind == "retain" && c.Concept == "sneaker");
        Assert.Equal("coarse", coarse.Level);
        Assert.True(coarse.Passed);

        var sneaker = model.Concepts.Single(c => c.Concept == "sneaker");
        Assert.Equal(300, sneaker.Exemplars.Count);
        Assert.Equal(64, sneaker.Exemplars.Digest.Length);
        Assert.Equal(300, sneaker.Predicted.Values.Sum());

        // The report on disk is the one returned, and no input changed.
        Assert.Equal(Path.Combine(temp.Path, "ktu-report.json"), result.ReportPath);
        Assert.Equal(ReportJson.Serialize(report), File.ReadAllBytes(result.ReportPath!));
        Assert.Equal(before, inputs.Select(TestPaths.Sha256));
    }

    [Fact]
    public void Two_runs_write_byte_identical_reports()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        Gate.Run(SampleRequest(a.Path));
        Gate.Run(SampleRequest(b.Path));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Path, "ktu-report.json")), File.ReadAllBytes(Path.Combine(b.Path, "ktu-report.json")));
    }

    [Fact]
    public void Policy_whose_clauses_hold_passes()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """
            "forget": [ { "concept": "bag", "level": "fine", "maxAccuracy": 1 } ],
            "retain": [ { "concept": "trouser", "minAccuracy": 0.9 }, { "concept": "sandal", "level": "coarse", "minAccuracy": 0.9 } ]
            """,
            """
            "bottoms": {}, "trouser": { "parent": "bottoms", "exemplars": ["exemplars/trouser/*.png"] },
            "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] },
            "footwear": {}, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] }
            """,
            "trouser", "bag", "sandal");

        var result = Gate.Run(SampleRequest(Path.Combine(temp.Path, "out"), policy));

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        Assert.Equal("pass", result.Report.Verdict);
        Assert.All(result.Report.Models[0].Clauses, c => Assert.True(c.Passed));
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity != DiagnosticSeverity.Info);
    }

    [Fact]
    public void Retention_below_its_floor_fails_with_KTU3002()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """ "retain": [ { "concept": "shirt", "minAccuracy": 0.99 } ] """,
            """ "tops": {}, "shirt": { "parent": "tops", "exemplars": ["exemplars/shirt/*.png"] } """,
            "shirt");

        var result = Gate.Run(SampleRequest(temp.Path, policy));

        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("KTU3002", d.Code);
        Assert.Contains("< required 0.99", d.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Drop_thresholds_compare_against_the_baseline_artifact()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """ "retain": [ { "concept": "sandal", "maxDrop": 0.0 } ] """,
            """ "footwear": {}, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] } """,
            "sandal");

        var withBaseline = Gate.Run(SampleRequest(Path.Combine(temp.Path, "a"), policy, baseline: TestPaths.SampleModel));
        Assert.Equal(GateOutcome.Pass, withBaseline.Outcome);
        var clause = Assert.Single(withBaseline.Report.Models[0].Clauses);
        Assert.Equal(clause.Measured, clause.Baseline);
        Assert.NotNull(withBaseline.Report.Models[0].Baseline);

        // Without a baseline the drop is not checked: recorded as such, and never a pass (this used to pass with a warning).
        var without = Gate.Run(SampleRequest(Path.Combine(temp.Path, "b"), policy));
        Assert.Equal(GateOutcome.InsufficientEvidence, without.Outcome);
        Assert.Equal("insufficient-evidence", without.Report.Verdict);
        Assert.Contains(without.Diagnostics, d => d.Code == "KTU3004" && d.Severity == DiagnosticSeverity.Error);
        var unchecked_ = Assert.Single(without.Report.Models[0].Clauses);
        Assert.False(unchecked_.Passed);
        Assert.Equal("not-checked", unchecked_.Status);
    }

    [Fact]
    public void In_Remediate_a_drop_is_measured_from_the_unedited_artifact_of_the_same_run()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """
            "forget": [ { "concept": "sneaker", "maxAccuracy": 1 } ],
            "retain": [ { "concept": "sandal", "maxDrop": 0.0 } ],
            "remedy": { "allowed": true }
            """,
            """ "footwear": {}, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] }, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } """,
            "sandal", "sneaker");

        // Nothing to unlearn: the artifact ships unedited, and it is its own original (no baseline needed, no KTU3004).
        var result = Gate.Run(SampleRequest(Path.Combine(temp.Path, "report"), policy) with { Mode = GateMode.Remediate, OutputDirectory = Path.Combine(temp.Path, "out") });

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var sandal = result.Report.Models[0].Clauses.Single(c => c.Concept == "sandal");
        Assert.Equal(("pass", "original", 0.0), (sandal.Status, sandal.DropFrom, sandal.Drop));
        AssertSchemaValid(result.ReportPath!);

        // In Verify the same clause compares with the KtuModel's Baseline, and says so.
        var verify = Gate.Run(SampleRequest(Path.Combine(temp.Path, "verify"), policy, baseline: TestPaths.SampleModel));
        Assert.Equal("baseline", verify.Report.Models[0].Clauses.Single(c => c.Concept == "sandal").DropFrom);
    }

    [Fact]
    public void A_remediated_artifact_reports_each_retained_concepts_drop_from_the_original()
    {
        // The sample's two policies: retire-sneaker, and keep-siblings bounding each sibling's drop (no baseline given).
        using var temp = new TempFolder();
        var request = SampleRequest(Path.Combine(temp.Path, "report")) with
        {
            Policies = [TestPaths.SamplePolicy, TestPaths.Sample("policies", "keep-siblings.ktu.json")],
            Mode = GateMode.Remediate,
            OutputDirectory = Path.Combine(temp.Path, "out"),
        };

        var result = Gate.Run(request);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        Assert.NotNull(result.Report.Models[0].Remediation!.Output);
        var bounded = result.Report.Models[0].Clauses.Where(c => c.MaxDrop is not null).ToList();
        Assert.Equal(4, bounded.Count);
        Assert.All(bounded, c =>
        {
            Assert.Equal("original", c.DropFrom);
            Assert.Equal(c.Baseline!.Rate - c.Measured.Rate, c.Drop!.Value, 6);
        });
    }

    [Fact]
    public void Metric_thresholds_without_a_baseline_are_not_checked_and_not_passed()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """
            "forget": [ { "concept": "sneaker", "maxAccuracy": 1 } ],
            "retain": [ { "concept": "sandal", "minAccuracy": 0.5 } ],
            "metrics": { "minQU": 0.5 }
            """,
            """ "footwear": {}, "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] }, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } """,
            "sandal", "sneaker");

        var result = Gate.Run(SampleRequest(temp.Path, policy));

        Assert.Equal(GateOutcome.InsufficientEvidence, result.Outcome);
        var metrics = Assert.Single(result.Report.Models[0].Metrics);
        Assert.False(metrics.Passed);
        Assert.Equal("not-checked", metrics.Status);
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3004" && d.Severity == DiagnosticSeverity.Error && d.Message.Contains("Q-U", StringComparison.Ordinal));
        Assert.All(result.Report.Models[0].Clauses, c => Assert.Equal("pass", c.Status));
        AssertSchemaValid(result.ReportPath!);
    }

    [Fact]
    public void Too_few_exemplars_for_a_forget_clause_is_insufficient_evidence_with_the_number_needed()
    {
        using var temp = new TempFolder();

        // Twenty bags filed as sneakers: the model recognises none of them as a sneaker, but 0 of 20 cannot show a rate under 0.05.
        temp.CopyExemplars("bag", Path.Combine("exemplars", "sneaker"), 20);
        var policy = temp.File("policy.ktu.json", """
            {
              "ktuPolicy": 1,
              "id": "test",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 0.05 } ]
            }
            """);

        var result = Gate.Run(SampleRequest(Path.Combine(temp.Path, "out"), policy));

        Assert.Equal(GateOutcome.InsufficientEvidence, result.Outcome);
        Assert.Equal("insufficient-evidence", result.Report.Verdict);
        var d = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("KTU3006", d.Code);
        Assert.Equal(new SourceLocation(policy, 5, 15), d.Location);
        Assert.Equal("'sneaker' is not shown forgotten: fine accuracy 0.000 (95% CI 0.000-0.161, n=20) is within the allowed 0.05, but its upper bound is not: insufficient evidence, add exemplars (need at least 73)", d.Message);
        var clause = Assert.Single(result.Report.Models[0].Clauses);
        Assert.False(clause.Passed);
        Assert.Equal("insufficient-evidence", clause.Status);
        Assert.Equal(["KTU3006"], clause.Codes);
        AssertSchemaValid(result.ReportPath!);

        // Every rendering says so.
        var folder = Path.Combine(temp.Path, "out");
        Assert.Contains("\"status\": \"insufficient-evidence\"", File.ReadAllText(Path.Combine(folder, "ktu-report.json")), StringComparison.Ordinal);
        Assert.Contains("**INSUFFICIENT EVIDENCE** KTU3006", File.ReadAllText(Path.Combine(folder, "ktu-report.md")), StringComparison.Ordinal);
        Assert.Contains("INSUFFICIENT EVIDENCE KTU3006", File.ReadAllText(Path.Combine(folder, "ktu-report.html")), StringComparison.Ordinal);
        Assert.Contains("insufficient evidence, add exemplars (need at least 73)", File.ReadAllText(Path.Combine(folder, "ktu-report.junit.xml")), StringComparison.Ordinal);
        Assert.Contains("Insufficient evidence", File.ReadAllText(Path.Combine(folder, "ktu-report.sarif")), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_reports_a_forget_clause_its_exemplars_can_never_show()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", Path.Combine("exemplars", "sneaker"), 20);
        var policy = temp.File("policy.ktu.json", """
            {
              "ktuPolicy": 1,
              "id": "test",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 }, { "concept": "sneaker", "level": "coarse", "maxAccuracy": 0 } ],
              "metrics": { "maxPerturbedAccuracy": 0.5 }
            }
            """);

        var diagnostics = Gate.Validate([policy], []);

        Assert.Equal(2, diagnostics.Count);
        Assert.All(diagnostics, d => Assert.Equal(("KTU3007", DiagnosticSeverity.Error), (d.Code, d.Severity)));
        Assert.Equal(new SourceLocation(policy, 5, 15), diagnostics[0].Location);
        Assert.Equal("Forget clause 'sneaker' (maxAccuracy) can never pass with 20 exemplars: even none recognised has a 95% upper bound of 0.161 > allowed 0.05; it needs at least 73 exemplars of 'sneaker'", diagnostics[0].Message);
        Assert.Equal(new SourceLocation(policy, 5, 62), diagnostics[1].Location);
        Assert.Contains("no number of exemplars shows an accuracy of 0", diagnostics[1].Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        // case, expected code
        { "missing model", "KTU2001" },
        { "corrupt model", "KTU2002" },
        { "truncated model", "KTU2002" },
        { "manifest does not match model", "KTU2005" },
        { "missing manifest", "KTU2016" },
        { "malformed manifest", "KTU2003" },
        { "non-image exemplar", "KTU2008" },
        { "concept the model does not know", "KTU2007" },
        { "level the model does not have", "KTU2015" },
        { "malformed policy", "KTU1001" },
        { "empty exemplar glob", "KTU1007" },
        { "glob escaping the policy folder", "KTU1008" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_gives_a_clear_located_error_and_an_error_report(string @case, string code)
    {
        using var temp = new TempFolder();
        var model = TestPaths.SampleModel;
        var manifest = TestPaths.SampleManifest;
        var policy = TestPaths.SamplePolicy;
        var data = Path.Combine(AppContext.BaseDirectory, "Data");
        switch (@case)
        {
            case "missing model":
                model = Path.Combine(temp.Path, "nope.onnx");
                break;
            case "corrupt model":
                model = temp.File("corrupt.onnx", "this is not a protobuf, just text pretending to be a model");
                break;
            case "truncated model":
                model = temp.File("truncated.onnx");
                var bytes = File.ReadAllBytes(TestPaths.SampleModel);
                File.WriteAllBytes(model, bytes[..(bytes.Length / 2)]);
                break;
            case "manifest does not match model":
                manifest = Path.Combine(data, "manifests", "wrong-input-shape.ktu.json");
                break;
            case "missing manifest":
                manifest = Path.Combine(temp.Path, "nope.ktu.json");
                break;
            case "malformed manifest":
                manifest = temp.File("m.ktu.json", "{ \"ktuManifest\": 1,, }");
                break;
            case "non-image exemplar":
                policy = Path.Combine(data, "policies", "not-an-image.ktu.json");
                break;
            case "concept the model does not know":
                policy = WritePolicy(temp, """ "forget": [ { "concept": "loafer", "maxAccuracy": 0.1 } ] """,
                    """ "loafer": { "aliases": ["moccasin"], "exemplars": ["exemplars/sneaker/*.png"] } """, "sneaker");
                break;
            case "level the model does not have":
                policy = WritePolicy(temp, """ "forget": [ { "concept": "footwear", "level": "fine", "maxAccuracy": 0.1 } ] """,
                    """ "footwear": { "exemplars": ["exemplars/sneaker/*.png"] } """, "sneaker");
                break;
            case "malformed policy":
                policy = Path.Combine(data, "policies", "malformed.ktu.json");
                break;
            case "empty exemplar glob":
                policy = Path.Combine(data, "policies", "empty-glob.ktu.json");
                break;
            case "glob escaping the policy folder":
                policy = Path.Combine(data, "policies", "escaping-glob.ktu.json");
                break;
        }

        var watched = new[] { model, manifest, policy }.Where(File.Exists).ToArray();
        var before = watched.Select(TestPaths.Sha256).ToArray();

        var result = Gate.Run(SampleRequest(Path.Combine(temp.Path, "report"), policy, model, manifest));

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var error = result.Diagnostics.First(d => d.Code == code);
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.NotNull(error.Location);
        Assert.DoesNotContain("   at ", error.Message, StringComparison.Ordinal);
        Assert.Equal("error", result.Report.Verdict);
        Assert.Contains(result.Report.Diagnostics, d => d.Code == code && d.File == error.Location!.File && d.Line == error.Location.Line);
        Assert.True(File.Exists(result.ReportPath));
        Assert.Equal(before, watched.Select(TestPaths.Sha256));
    }

    [Fact]
    public void Hierarchy_that_disagrees_with_the_manifest_is_a_warning()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """ "retain": [ { "concept": "sandal", "minAccuracy": 0.5 } ] """,
            """ "tops": {}, "sandal": { "parent": "tops", "exemplars": ["exemplars/sandal/*.png"] } """,
            "sandal");

        var result = Gate.Run(SampleRequest(temp.Path, policy));

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var warning = Assert.Single(result.Diagnostics, d => d.Code == "KTU2009");
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.Equal(4, warning.Location!.Line);
    }

    [Fact]
    public void A_policy_can_require_forgetting_to_hold_on_perturbed_exemplars()
    {
        using var temp = new TempFolder();
        var policy = WritePolicy(temp,
            """
            "forget": [ { "concept": "bag", "level": "fine", "maxAccuracy": 1 } ],
            "metrics": { "maxPerturbedAccuracy": 0.05 }
            """,
            """ "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] } """,
            "bag");

        var result = Gate.Run(SampleRequest(temp.Path, policy));

        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var missed = result.Diagnostics.Where(d => d.Code == "KTU3005").ToList();
        Assert.Equal(2, missed.Count);
        Assert.Contains(missed, d => d.Message.Contains("'bag' fine accuracy on mirrored exemplars (upper bound)", StringComparison.Ordinal));
        Assert.Contains(missed, d => d.Message.Contains("noisy", StringComparison.Ordinal));
        Assert.All(missed, d => Assert.Equal(5, d.Location!.Line));
    }

    [Fact]
    public void Perturbed_accuracy_within_its_bound_on_too_few_exemplars_is_insufficient_evidence_not_a_miss()
    {
        using var temp = new TempFolder();

        // Twenty bags filed as sneakers: mirrored or noisy, none is taken for a sneaker, but 0 of 20 cannot show 0.05.
        temp.CopyExemplars("bag", Path.Combine("exemplars", "sneaker"), 20);
        var policy = temp.File("policy.ktu.json", """
            {
              "ktuPolicy": 1,
              "id": "test",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "level": "fine", "maxAccuracy": 1 } ],
              "metrics": { "maxPerturbedAccuracy": 0.05 }
            }
            """);

        var result = Gate.Run(SampleRequest(Path.Combine(temp.Path, "out"), policy));

        Assert.Equal(GateOutcome.InsufficientEvidence, result.Outcome);
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.Equal(["KTU3006", "KTU3006"], errors.Select(d => d.Code));
        Assert.Contains(errors, d => d.Message.StartsWith("'sneaker' is not shown forgotten: mirrored fine accuracy", StringComparison.Ordinal));
        Assert.Contains(errors, d => d.Message.StartsWith("'sneaker' is not shown forgotten: noisy fine accuracy", StringComparison.Ordinal));
        Assert.All(errors, d => Assert.Contains("need at least", d.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Cancelled_run_writes_nothing()
    {
        using var temp = new TempFolder();
        using var cancel = new CancellationTokenSource();
        var seen = 0;
        var request = SampleRequest(Path.Combine(temp.Path, "out")) with
        {
            // Cancel from inside the run, as Ctrl+C would, once probing has begun.
            Progress = new SyncProgress(_ =>
            {
                if (++seen == 2)
                {
                    cancel.Cancel();
                }
            }),
        };

        Assert.ThrowsAny<OperationCanceledException>(() => Gate.Run(request, cancel.Token));
        Assert.False(Directory.Exists(Path.Combine(temp.Path, "out")));
    }
}
