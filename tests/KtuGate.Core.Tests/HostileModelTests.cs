using System.Diagnostics;
using Google.Protobuf;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;
using Onnx;

namespace KtuGate.Core.Tests;

/// <summary>Hostile models built at test time from the sample: each gets a coded, located error in verify and remediate, a report, and nothing written.</summary>
public sealed class HostileModelTests
{
    public static TheoryData<string, string> ExternalDataCases => new()
    {
        { "fifo", "KTU2026" },
        { "symlink-to-fifo", "KTU2026" },
        { "symlink-to-passwd", "KTU2026" },
        { "symlinked-folder", "KTU2026" },
        { "hard-link", "KTU2026" },
        { "folder", "KTU2026" },
        { "negative-offset", "KTU2025" },
        { "non-numeric-length", "KTU2025" },
        { "overflowing-offset", "KTU2025" },
        { "duplicate-key", "KTU2025" },
        { "unknown-key", "KTU2025" },
        { "ort-memory-marker", "KTU2025" },
        { "non-canonical-location", "KTU2025" },
        { "empty-file", "KTU2027" },
        { "truncated-file", "KTU2027" },
        { "petabyte-length", "KTU2027" },
        { "absolute-location", "KTU4002" },
        { "parent-location", "KTU4002" },
    };

    [Theory]
    [MemberData(nameof(ExternalDataCases))]
    public void Hostile_external_data_gets_a_located_code_in_verify_and_remediate_and_nothing_is_written(string hostile, string code)
    {
        using var temp = new TempFolder();
        var artifact = ExternalSample(temp, "fc2.weight", (tensor, folder) => Tamper(hostile, tensor, folder, temp));

        foreach (var mode in new[] { GateMode.Verify, GateMode.Remediate })
        {
            var result = Run(artifact, mode, temp);

            Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
            var error = Assert.Single(result.Diagnostics, d => d.Code == code);
            Assert.Equal(artifact, error.Location!.File);
            Assert.Contains("'fc2.weight'", error.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(result.ReportPath), $"{mode}: no report");
            Assert.Contains(result.Report.Diagnostics, d => d.Code == code);
            AssertNothingIn(Path.Combine(temp.Path, "out"));
        }
    }

    [Fact]
    public void A_model_declaring_a_petabyte_tensor_is_refused_before_it_runs()
    {
        using var temp = new TempFolder();

        // An Expand to [2^20, 2^20, 2^10] whose shape is a constant: 2^50 elements, declared before anything runs.
        var artifact = WithExpand(temp, computedShape: false);

        foreach (var mode in new[] { GateMode.Verify, GateMode.Remediate })
        {
            var result = Run(artifact, mode, temp);
            Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
            var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU2028");
            Assert.Equal(artifact, error.Location!.File);
            Assert.Contains("Expand node 'huge'", error.Message, StringComparison.Ordinal);
            Assert.True(File.Exists(result.ReportPath));
            AssertNothingIn(Path.Combine(temp.Path, "out"));
        }
    }

    [Fact]
    public void A_model_whose_run_asks_for_petabytes_gets_a_coded_error_and_a_report()
    {
        using var temp = new TempFolder();

        // The same Expand with its shape computed from the input: nothing declares it, so ONNX Runtime fails while running it.
        var artifact = WithExpand(temp, computedShape: true);

        var result = Run(artifact, GateMode.Verify, temp);

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU5021");
        Assert.Equal(artifact, error.Location!.File);
        Assert.True(File.Exists(result.ReportPath));
    }

    [Fact]
    public void The_memory_limit_is_a_request_setting()
    {
        using var temp = new TempFolder();
        var result = Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [TestPaths.SamplePolicy], Path.Combine(temp.Path, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = temp.Path,
            MaxMemoryBytes = 64 * 1024,
        });

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU2028");
        Assert.StartsWith("the model file needs 829103 bytes, more than the memory limit of 65536 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("8G", 8L << 30)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("2t", 2L << 40)]
    [InlineData("0", null)]
    [InlineData("-1G", null)]
    [InlineData("lots", null)]
    [InlineData("99999999999T", null)]
    public void Memory_sizes_are_read_strictly(string text, long? expected)
    {
        Assert.Equal(expected is not null, ModelLimits.TryParseSize(text, out var bytes));
        Assert.Equal(expected ?? 0, bytes);
    }

    [Fact]
    public void A_failing_write_of_the_remediated_artifact_leaves_nothing_in_the_output_folder()
    {
        using var temp = new TempFolder();
        var artifact = ExternalSample(temp, "fc1.weight", (_, _) => { });
        var output = Path.Combine(temp.Path, "out");

        // A folder where the artifact goes: the external data is published first, then the artifact's rename fails.
        Directory.CreateDirectory(Path.Combine(output, "fashion-classifier.onnx"));

        var result = Run(artifact, GateMode.Remediate, temp);

        var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU4007");
        Assert.Equal(artifact, error.Location!.File);
        Assert.Equal(["fashion-classifier.onnx"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(output, "fashion-classifier.onnx")));
        Assert.True(File.Exists(result.ReportPath));

        // The verified (input) artifact's external data is digested in the report.
        var external = Assert.Single(result.Report.Models[0].ExternalData!);
        Assert.Equal(("model/weights.bin", TestPaths.Sha256(Path.Combine(temp.Path, "model", "weights.bin"))), (external.Path, external.Sha256));
    }

    [Fact]
    public void A_start_removes_what_killed_runs_left_and_keeps_what_running_ones_hold()
    {
        using var temp = new TempFolder();
        var output = Path.Combine(temp.Path, "out");
        var dead = ExitedProcessId();
        using var running = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            var deadStaging = Path.Combine(output, $".ktu-candidate.{dead}.{Guid.NewGuid():N}");
            Directory.CreateDirectory(deadStaging);
            File.WriteAllText(Path.Combine(deadStaging, "weights.bin"), "partial");
            var deadCandidate = temp.File($"out/.fashion-classifier.onnx.{dead}.candidate.onnx", "partial");
            var deadTemp = temp.File($"out/.fashion-classifier.onnx.{dead}.{Guid.NewGuid():N}.tmp", "partial");
            var liveStaging = Path.Combine(output, $".ktu-candidate.{running.Id}.{Guid.NewGuid():N}");
            Directory.CreateDirectory(liveStaging);
            var unrelated = temp.File("out/.notes", "kept");

            Run(Path.Combine(temp.Path, "missing.onnx"), GateMode.Remediate, temp);

            Assert.False(Directory.Exists(deadStaging));
            Assert.False(File.Exists(deadCandidate));
            Assert.False(File.Exists(deadTemp));
            Assert.True(Directory.Exists(liveStaging));
            Assert.True(File.Exists(unrelated));
        }
        finally
        {
            running.Kill();
            running.WaitForExit();
        }
    }

    [Fact]
    public void External_data_is_digested_and_verify_finds_a_zeroed_weight_file()
    {
        using var temp = new TempFolder();
        var artifact = ExternalSample(temp, "fc1.weight", (_, _) => { });

        var result = Run(artifact, GateMode.Remediate, temp);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var model = result.Report.Models[0];
        var written = Path.Combine(temp.Path, "out", "weights.bin");
        Assert.Equal(("out/weights.bin", TestPaths.Sha256(written)), (model.ExternalData![0].Path, model.ExternalData[0].Sha256));
        Assert.Equal(("model/weights.bin", TestPaths.Sha256(Path.Combine(temp.Path, "model", "weights.bin"))),
            (model.Remediation!.OriginalExternalData![0].Path, model.Remediation.OriginalExternalData[0].Sha256));
        Assert.DoesNotContain(Provenance.Verify(result.ReportPath!, temp.Path, null, null), d => d.Severity == Diagnostics.DiagnosticSeverity.Error);

        // The artifact about to ship, checked with --artifact: its external data is the one beside it.
        var shipped = temp.CopyTree(Path.Combine(temp.Path, "out"), "ship");
        var shippedArtifact = Path.Combine(shipped, "fashion-classifier.onnx");
        Assert.DoesNotContain(Provenance.Verify(result.ReportPath!, temp.Path, shippedArtifact, null), d => d.Severity == Diagnostics.DiagnosticSeverity.Error);
        File.WriteAllBytes(Path.Combine(shipped, "weights.bin"), new byte[new FileInfo(written).Length]);
        var shippedMismatch = Assert.Single(Provenance.Verify(result.ReportPath!, temp.Path, shippedArtifact, null), d => d.Code == "KTU6001");
        Assert.Equal(Path.Combine(shipped, "weights.bin"), shippedMismatch.Location!.File);

        // Zero the weights after the pass: the artifact's own bytes are unchanged, but verify must say the pass no longer holds.
        File.WriteAllBytes(written, new byte[new FileInfo(written).Length]);
        var mismatch = Assert.Single(Provenance.Verify(result.ReportPath!, temp.Path, null, null), d => d.Code == "KTU6001");
        Assert.Contains("external data 'out/weights.bin'", mismatch.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dual_encoders_text_tower_vocabulary_is_digested_and_verify_finds_it_changed()
    {
        using var temp = new TempFolder();
        var clip = Path.Combine(TestPaths.RepoRoot, "samples", "FashionClip");
        var minilm = Path.Combine(TestPaths.RepoRoot, "artifacts", "minilm");
        var vocabulary = Path.Combine(temp.Path, "vocab.txt");
        File.Copy(Path.Combine(minilm, "vocab.txt"), vocabulary);
        var manifest = temp.File("fashion-clip.ktu.json", File.ReadAllText(Path.Combine(clip, "artifacts", "fashion-clip.ktu.json"))
            .Replace("\"../../../artifacts/minilm/model.onnx\"", System.Text.Json.JsonSerializer.Serialize(Path.Combine(minilm, "model.onnx")), StringComparison.Ordinal)
            .Replace("\"../../../artifacts/minilm/vocab.txt\"", "\"vocab.txt\"", StringComparison.Ordinal));
        var exemplars = Path.Combine(temp.Path, "policies", "exemplars", "sneaker");
        Directory.CreateDirectory(exemplars);
        foreach (var file in Directory.GetFiles(Path.Combine(clip, "policies", "exemplars", "sneaker"), "*.png").Order(StringComparer.Ordinal).Take(8))
        {
            File.Copy(file, Path.Combine(exemplars, Path.GetFileName(file)));
        }

        var policy = temp.File(Path.Combine("policies", "p.ktu.json"), """
            { "ktuPolicy": 1, "id": "p",
              "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 1.0 } ] }
            """);

        var result = Gate.Run(new GateRequest([new GateModelInput(Path.Combine(clip, "artifacts", "fashion-clip.onnx"), manifest)], [policy], Path.Combine(temp.Path, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = temp.Path,
        });

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        var recorded = result.Report.Models[0].TextTowerVocabulary!;
        Assert.Equal(("vocab.txt", TestPaths.Sha256(vocabulary)), (recorded.Path, recorded.Sha256));
        Assert.DoesNotContain(Provenance.Verify(result.ReportPath!, temp.Path, null, null), d => d.Severity == Diagnostics.DiagnosticSeverity.Error);

        // A changed vocabulary changes every token id the prompts get: verify must name it.
        File.AppendAllText(vocabulary, "extra\n");
        var mismatch = Assert.Single(Provenance.Verify(result.ReportPath!, temp.Path, null, null), d => d.Code == "KTU6001");
        Assert.Contains("text tower vocabulary 'vocab.txt'", mismatch.Message, StringComparison.Ordinal);
    }

    private static GateResult Run(string artifact, GateMode mode, TempFolder temp)
        => Gate.Run(new GateRequest([new GateModelInput(artifact, TestPaths.SampleManifest)], [TestPaths.SamplePolicy], Path.Combine(temp.Path, "report-" + mode))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = mode,
            OutputDirectory = Path.Combine(temp.Path, "out"),
            BaseDirectory = temp.Path,
        });

    private static void AssertNothingIn(string folder)
        => Assert.True(!Directory.Exists(folder) || !Directory.EnumerateFileSystemEntries(folder).Any(), $"{folder} holds {string.Join(", ", Directory.Exists(folder) ? Directory.EnumerateFileSystemEntries(folder) : [])}");

    /// <summary>The sample with one initializer moved to <c>model/weights.bin</c> (as exporters do for large models), then tampered with.</summary>
    private static string ExternalSample(TempFolder temp, string tensorName, Action<TensorProto, string> tamper)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.SampleModel));
        var tensor = model.Graph.Initializer.Single(t => t.Name == tensorName);
        var folder = Path.Combine(temp.Path, "model");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "weights.bin"), tensor.RawData.ToByteArray());
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.RawData = ByteString.Empty;
        tamper(tensor, folder);
        var artifact = Path.Combine(folder, "fashion-classifier.onnx");
        File.WriteAllBytes(artifact, model.ToByteArray());
        return artifact;
    }

    private static void Tamper(string hostile, TensorProto tensor, string folder, TempFolder temp)
    {
        var weights = Path.Combine(folder, "weights.bin");
        var elsewhere = Path.Combine(temp.Path, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        void Set(string key, string value) => tensor.ExternalData.Single(e => e.Key == key).Value = value;
        switch (hostile)
        {
            case "fifo":
                File.Delete(weights);
                Exec("mkfifo", weights);
                break;
            case "symlink-to-fifo":
                File.Delete(weights);
                Exec("mkfifo", Path.Combine(elsewhere, "pipe"));
                File.CreateSymbolicLink(weights, Path.Combine(elsewhere, "pipe"));
                break;
            case "symlink-to-passwd":
                File.Delete(weights);
                File.CreateSymbolicLink(weights, "/etc/passwd");
                break;
            case "symlinked-folder":
                File.Move(weights, Path.Combine(elsewhere, "weights.bin"));
                Directory.CreateSymbolicLink(Path.Combine(folder, "data"), elsewhere);
                Set("location", "data/weights.bin");
                break;
            case "hard-link":
                Exec("ln", weights, Path.Combine(elsewhere, "same-file.bin"));
                break;
            case "folder":
                File.Delete(weights);
                Directory.CreateDirectory(weights);
                break;
            case "negative-offset":
                Set("offset", "-1");
                break;
            case "non-numeric-length":
                Set("length", "12a");
                break;
            case "overflowing-offset":
                Set("offset", "99999999999999999999");
                break;
            case "duplicate-key":
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "other.bin" });
                break;
            case "unknown-key":
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "basepath", Value = "/etc" });
                break;
            case "ort-memory-marker":
                Set("location", "*/_ORT_MEM_ADDR_/*");
                break;
            case "non-canonical-location":
                Set("location", "./weights.bin");
                break;
            case "empty-file":
                File.WriteAllBytes(weights, []);
                break;
            case "truncated-file":
                File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..100]);
                break;
            case "petabyte-length":
                Set("length", (1L << 50).ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case "absolute-location":
                Set("location", "/etc/passwd");
                break;
            case "parent-location":
                File.Move(weights, Path.Combine(temp.Path, "weights.bin"));
                Set("location", "../weights.bin");
                break;
            default:
                throw new ArgumentException(hostile);
        }
    }

    /// <summary>The sample with an Expand to [2^20, 2^20, 2^10] folded into its logits (times zero): constant, or computed from the input.</summary>
    private static string WithExpand(TempFolder temp, bool computedShape)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.SampleModel));
        var graph = model.Graph;
        var logits = graph.Node.Single(n => n.Output.Contains("logits"));
        logits.Output[logits.Output.IndexOf("logits")] = "logits_before";
        var shape = new TensorProto { Name = "huge_shape", DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(3);
        shape.Int64Data.Add([1L << 20, 1L << 20, 1L << 10]);
        var zero = new TensorProto { Name = "zero", DataType = (int)TensorProto.Types.DataType.Float };
        zero.FloatData.Add(0f);
        graph.Initializer.Add(shape);
        graph.Initializer.Add(zero);
        NodeProto Node(string op, string name, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = name };
            node.Input.Add(inputs);
            node.Output.Add(output);
            node.Attribute.Add(attributes);
            return node;
        }

        graph.Node.Add(Node("ReduceSum", "sum_input", ["image"], "input_sum", new AttributeProto { Name = "keepdims", I = 0, Type = AttributeProto.Types.AttributeType.Int }));
        graph.Node.Add(Node("Mul", "nothing", ["input_sum", "zero"], "input_zero"));
        var shapeName = "huge_shape";
        if (computedShape)
        {
            graph.Node.Add(Node("Cast", "zero_int", ["input_zero"], "input_zero_int", new AttributeProto { Name = "to", I = (long)TensorProto.Types.DataType.Int64, Type = AttributeProto.Types.AttributeType.Int }));
            graph.Node.Add(Node("Add", "computed_shape", ["input_zero_int", "huge_shape"], "computed_shape"));
            shapeName = "computed_shape";
        }

        graph.Node.Add(Node("Expand", "huge", ["input_zero", shapeName], "huge"));
        graph.Node.Add(Node("ReduceSum", "sum_huge", ["huge"], "huge_sum", new AttributeProto { Name = "keepdims", I = 0, Type = AttributeProto.Types.AttributeType.Int }));
        graph.Node.Add(Node("Add", "logits", ["logits_before", "huge_sum"], "logits"));
        var artifact = Path.Combine(temp.Path, "model", "fashion-classifier.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(artifact)!);
        File.WriteAllBytes(artifact, model.ToByteArray());
        return artifact;
    }

    private static void Exec(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments))!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    private static int ExitedProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true"))!;
        process.WaitForExit();
        return process.Id;
    }
}
