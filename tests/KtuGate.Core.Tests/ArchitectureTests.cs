using System.Text.RegularExpressions;
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

    /// <summary>Files allowed to name kinds: the kinds themselves (and their registries) and the enum's definition.</summary>
    private static bool Exempt(string relative)
        => relative.StartsWith("Kinds/", StringComparison.Ordinal) || relative is "Models/ModelManifest.cs";

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

    /// <summary>
    /// A kind's manifest section (src/KtuGate.Contracts/Kinds/&lt;Kind&gt;/) is read by that kind alone: no file of src/ outside a
    /// <c>Kinds/</c> folder, the manifest parser included, names a type declared there, so a new kind's section touches no
    /// shared code (issue #10: a new kind is its folders, the registry line and the schema).
    /// </summary>
    [Fact]
    public void No_code_outside_a_kind_names_a_kind_specific_section_type()
    {
        var contractsKinds = Path.Combine(TestPaths.RepoRoot, "src", "KtuGate.Contracts", "Kinds");
        var sectionTypes = (from folder in Directory.EnumerateDirectories(contractsKinds)
                            from file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
                            from match in s_typeDeclaration.Matches(File.ReadAllText(file))
                            select match.Groups[1].Value).Distinct(StringComparer.Ordinal).ToList();
        Assert.Contains("DualEncoderSection", sectionTypes);
        Assert.Contains("TextTowerSpec", sectionTypes);

        var src = Path.Combine(TestPaths.RepoRoot, "src");
        var named = (from file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
                     let relative = Path.GetRelativePath(src, file).Replace(Path.DirectorySeparatorChar, '/')
                     where !relative.Contains("/obj/", StringComparison.Ordinal) && !relative.Contains("/Kinds/", StringComparison.Ordinal)
                     from line in File.ReadLines(file).Select((text, index) => (text, index))
                     from type in sectionTypes
                     where Regex.IsMatch(line.text, $@"\b{type}\b")
                     select $"{relative}:{line.index + 1}: {type}").ToList();
        Assert.Empty(named);
    }

    private static readonly Regex s_typeDeclaration = new(@"\b(?:class|record|enum|struct|interface)\s+(\w+)", RegexOptions.Compiled);
}
