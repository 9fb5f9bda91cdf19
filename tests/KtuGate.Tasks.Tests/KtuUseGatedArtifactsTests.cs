using KtuGate.Tests;
using Microsoft.Build.Utilities;

namespace KtuGate.Tasks.Tests;

public sealed class KtuUseGatedArtifactsTests
{
    [Fact]
    public void Remediated_artifact_takes_the_originals_place_with_its_metadata_and_unedited_models_stay()
    {
        using var temp = new TempFolder();
        var original = temp.File("artifacts/model.onnx", "original");
        var other = temp.File("artifacts/other.onnx", "other");
        var edited = temp.File("bin/model.onnx", "edited");
        var readme = new TaskItem("README.md");
        var model = new TaskItem("artifacts/model.onnx", new Dictionary<string, string> { ["TargetPath"] = "artifacts/model.onnx", ["CopyToOutputDirectory"] = "PreserveNewest", ["Pack"] = "true" });
        var unedited = new TaskItem("artifacts/other.onnx", new Dictionary<string, string> { ["TargetPath"] = "artifacts/other.onnx" });
        var task = new KtuUseGatedArtifacts
        {
            BuildEngine = new RecordingBuildEngine(),
            ProjectDirectory = temp.Path,
            Gated =
            [
                new TaskItem(edited, new Dictionary<string, string> { ["OriginalPath"] = original }),
                new TaskItem(other, new Dictionary<string, string> { ["OriginalPath"] = other }),
            ],
            Items = [readme, model, unedited],
        };

        Assert.True(task.Execute());

        Assert.Equal(["README.md", edited, "artifacts/other.onnx"], task.Result.Select(i => i.ItemSpec));
        var replaced = task.Result[1];
        Assert.Equal("artifacts/model.onnx", replaced.GetMetadata("TargetPath"));
        Assert.Equal("PreserveNewest", replaced.GetMetadata("CopyToOutputDirectory"));
        Assert.Equal("true", replaced.GetMetadata("Pack"));
        Assert.Equal(Path.Combine("artifacts", "model.onnx"), replaced.GetMetadata("Link"));
        Assert.Same(unedited, task.Result[2]);
        Assert.Equal([edited, "artifacts/other.onnx"], task.Replaced.Select(i => i.ItemSpec));
    }
}
