using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>The seams of issue #10 stay seams: what depends on the kind of model lives in its kind's folder.</summary>
public sealed class ArchitectureTests
{
    /// <summary>Ways code asks which kind of model it has.</summary>
    private static readonly string[] s_kindQuestions =
    [
        "ModelKind.Classifier", "ModelKind.DualEncoder", "ModelKind.TextEmbedding", "ModelKind.CausalLm",
        "textTower is null", "textTower is not null", "manifest.TextTower", "Manifest.TextTower",
    ];

    /// <summary>
    /// Files allowed to name kinds: the kinds themselves, the enum's definition, and the manifest parser, which maps kind names to
    /// the enum and still reads the dual encoder's manifest section (docs/architecture.md says so).
    /// </summary>
    private static bool Exempt(string relative)
        => relative.StartsWith("Kinds/", StringComparison.Ordinal) || relative is "Models/ModelManifest.cs" or "Models/ManifestParser.cs";

    [Fact]
    public void No_code_outside_a_kind_asks_which_kind_it_has()
    {
        // The contracts hold the parsers and the report model that left Core (issue #10 item 5): they are scanned alike.
        var questions = (from project in new[] { "KtuGate.Core", "KtuGate.Contracts" }
                         let root = Path.Combine(TestPaths.RepoRoot, "src", project)
                         from file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                         let relative = Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/')
                         where !relative.StartsWith("obj/", StringComparison.Ordinal) && !Exempt(relative)
                         from line in File.ReadLines(file).Select((text, index) => (text, index))
                         from question in s_kindQuestions
                         where line.text.Contains(question, StringComparison.Ordinal)
                         select $"{relative}:{line.index + 1}: {question}").ToList();
        Assert.Empty(questions);
    }
}
