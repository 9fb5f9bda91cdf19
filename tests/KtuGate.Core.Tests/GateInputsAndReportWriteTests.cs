using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Tests;
using Onnx;

namespace KtuGate.Core.Tests;

/// <summary>A run says what it read, and a report it could not write fails the run with its own code.</summary>
public sealed class GateInputsAndReportWriteTests
{
    private const string Policy = """
        { "ktuPolicy": 1, "id": "sneakers", "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] },
            "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] } },
          "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 } ],
          "retain": [ { "concept": "sandal", "minAccuracy": 0.5 } ],
          "general": { "exemplars": ["general/*/*.png"] } }
        """;

    private static GateRequest Request(TempFolder temp, string reportDirectory)
    {
        temp.CopyExemplars("sneaker", "exemplars/sneaker", 20);
        temp.CopyExemplars("sandal", "exemplars/sandal", 20);
        temp.CopyExemplars("bag", "general/bag", 10);
        var policy = temp.File("p.ktu.json", Policy);
        return new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [policy], reportDirectory)
        {
            ExecutionProvider = Probing.ExecutionProviderPreference.Cpu,
            BaseDirectory = temp.Path,
        };
    }

    [Fact]
    public void Report_that_cannot_be_written_fails_the_run_with_KTU5011_not_the_verdict()
    {
        using var temp = new TempFolder();
        var blocker = temp.File("blocker", "a file where the report folder would go");

        var result = Gate.Run(Request(temp, Path.Combine(blocker, "ktu")));

        // The verdict (KTU3001) is still reported, but the run is not a mere violation: its report is missing.
        Assert.Contains(result.Diagnostics, d => d.Code == "KTU3001");
        var failure = Assert.Single(result.Diagnostics, d => d.Code == DiagnosticCodes.ReportWriteFailed.Code);
        Assert.Contains(Path.Combine(blocker, "ktu"), failure.Message, StringComparison.Ordinal);
        Assert.Equal(GateOutcome.InternalError, result.Outcome);
        Assert.Equal("error", result.Report.Verdict);
        Assert.Contains(result.Report.Diagnostics, d => d.Code == "KTU5011");
        Assert.Null(result.ReportPath);
    }

    [Fact]
    public void Inputs_list_every_file_read_with_its_digest_and_no_output()
    {
        using var temp = new TempFolder();
        var request = Request(temp, Path.Combine(temp.Path, "out"));

        var result = Gate.Run(request);

        var expected = new[] { TestPaths.SampleModel, TestPaths.SampleManifest, request.Policies[0] }
            .Concat(Directory.GetFiles(temp.Path, "*.png", SearchOption.AllDirectories));
        foreach (var file in expected)
        {
            Assert.True(result.Inputs.TryGetValue(file, out var sha256), $"{file} is not listed");
            Assert.Equal(TestPaths.Sha256(file), sha256);
        }

        Assert.Equal(10, result.Inputs.Keys.Count(k => k.Contains("/general/bag/", StringComparison.Ordinal)));
        Assert.DoesNotContain(result.Inputs.Keys, k => k.StartsWith(Path.Combine(temp.Path, "out"), StringComparison.Ordinal));
    }

    [Fact]
    public void Inputs_list_an_artifacts_external_data_file_so_zeroing_the_weights_is_seen()
    {
        using var temp = new TempFolder();
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.SampleModel));
        var fc1 = model.Graph.Initializer.Single(t => t.Name == "fc1.weight");
        var weights = temp.File("model/weights.bin");
        File.WriteAllBytes(weights, fc1.RawData.ToByteArray());
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        fc1.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = fc1.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        fc1.DataLocation = TensorProto.Types.DataLocation.External;
        fc1.RawData = ByteString.Empty;
        var artifact = temp.File("model/fashion-classifier.onnx");
        File.WriteAllBytes(artifact, model.ToByteArray());
        var request = Request(temp, Path.Combine(temp.Path, "out")) with { Models = [new GateModelInput(artifact, TestPaths.SampleManifest)] };

        var result = Gate.Run(request);

        Assert.Equal(TestPaths.Sha256(weights), result.Inputs[weights]);
        Assert.Equal(TestPaths.Sha256(artifact), result.Inputs[artifact]);
    }
}
