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

    /// <summary>
    /// Issue #10: no class in src/ over about 400 lines and no method over about 80. Files stand for classes (each file of src/ holds one
    /// class and the small records it returns); the diagnostic code table is exempt, being one descriptor per code and nothing else.
    /// </summary>
    [Fact]
    public void No_file_of_src_is_over_400_lines_and_no_method_over_85()
    {
        var src = Path.Combine(TestPaths.RepoRoot, "src");
        var files = (from file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
                     let relative = Path.GetRelativePath(src, file).Replace(Path.DirectorySeparatorChar, '/')
                     where !relative.Contains("/obj/", StringComparison.Ordinal) && !relative.Contains("/bin/", StringComparison.Ordinal)
                     select (relative, Lines: File.ReadAllLines(file))).ToList();
        Assert.True(files.Count > 100, $"only {files.Count} source files found under {src}");

        var long_ = files.Where(f => f.Lines.Length > 400 && f.relative != "KtuGate.Contracts/Diagnostics/DiagnosticCodes.cs")
            .Select(f => $"{f.relative}: {f.Lines.Length} lines").ToList();
        var longMethods = files.SelectMany(f => LongMethods(f.Lines, 85).Select(m => $"{f.relative}:{m}")).ToList();
        Assert.Empty(long_.Concat(longMethods));
    }

    /// <summary>The scanner the size test uses finds a long method and passes a short one, so that its silence means something.</summary>
    [Fact]
    public void The_method_scanner_measures_methods()
    {
        string[] Method(string name, int bodyLines) =>
            [$"    public void {name}(int x)", "    {", .. Enumerable.Repeat("        x++;", bodyLines), "    }", ""];
        string[] source = ["namespace N;", "", "public static class C", "{", .. Method("Short", 10), .. Method("Long", 90), "}"];
        Assert.Equal(["5: Short is 13 lines", "19: Long is 93 lines"], LongMethods(source, 12));
        Assert.Equal(["19: Long is 93 lines"], LongMethods(source, 85));
    }

    /// <summary>
    /// Methods (and constructors, accessors' bodies, local functions counted in their method) longer than <paramref name="limit"/> lines,
    /// from the declaration to its closing brace, in code laid out as this repository's (.editorconfig: braces on their own lines).
    /// </summary>
    private static List<string> LongMethods(string[] lines, int limit)
    {
        var found = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var indent = line.Length - line.TrimStart().Length;
            if (indent is not (4 or 8) || line.TrimStart().StartsWith("//", StringComparison.Ordinal) || !s_memberStart.IsMatch(line) || s_typeDeclaration.IsMatch(line))
            {
                continue;
            }

            // The opening brace at the declaration's indent, after a signature of up to eight lines.
            var open = i + 1;
            while (open < lines.Length && open < i + 8 && lines[open].Length > indent && lines[open][indent] == ' ')
            {
                open++;
            }

            if (open >= lines.Length || lines[open] != new string(' ', indent) + "{")
            {
                continue;
            }

            var close = Array.FindIndex(lines, open + 1, l => l == new string(' ', indent) + "}");
            if (close < 0)
            {
                continue;
            }

            if (close - i + 1 > limit)
            {
                found.Add($"{i + 1}: {s_memberName.Match(line).Groups[1].Value} is {close - i + 1} lines");
            }

            i = close;
        }

        return found;
    }

    private static readonly Regex s_memberStart = new(@"^\s+(?:(?:public|private|internal|protected|static|override|virtual|abstract|sealed|async|unsafe|new|readonly|partial)\s+)*[\w<>\[\],.?() ]+\s+\w+\s*(?:<[^>]*>)?\(", RegexOptions.Compiled);

    private static readonly Regex s_memberName = new(@"(\w+)\s*(?:<[^>]*>)?\(", RegexOptions.Compiled);
}
