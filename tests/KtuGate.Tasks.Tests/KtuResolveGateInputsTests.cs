using KtuGate.Tests;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks.Tests;

public sealed class KtuResolveGateInputsTests
{
    [Fact]
    public void Lists_every_exemplar_and_fills_in_default_manifests()
    {
        var task = new KtuResolveGateInputs
        {
            BuildEngine = new RecordingBuildEngine(),
            Policies = [new TaskItem(TestPaths.SamplePolicy)],
            Models = [new TaskItem(TestPaths.SampleModel)],
        };

        Assert.True(task.Execute());

        // Five concepts with 300 exemplars each are named by the sample policy's clauses.
        Assert.Equal(1500, task.Exemplars.Length);
        Assert.All(task.Exemplars, e => Assert.True(File.Exists(e.ItemSpec)));
        Assert.Equal(TestPaths.SampleManifest, Assert.Single(task.ResolvedModels).GetMetadata("Manifest"));
    }

    [Fact]
    public void Invalid_policy_is_left_to_the_engine()
    {
        using var temp = new TempFolder();
        var engine = new RecordingBuildEngine();
        var task = new KtuResolveGateInputs
        {
            BuildEngine = engine,
            Policies = [new TaskItem(temp.File("p.ktu.json", "{ nope"))],
            Models = [new TaskItem("m.onnx")],
        };

        Assert.True(task.Execute());
        Assert.Empty(task.Exemplars);
        Assert.Empty(engine.Errors);
    }
}
