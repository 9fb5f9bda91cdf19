using System.Diagnostics;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>
/// Issue #10: a model kind is its folders (src/KtuGate.Core/Kinds/&lt;Kind&gt;/ and src/KtuGate.Contracts/Kinds/&lt;Kind&gt;/), its line in
/// the registry and its part of the manifest schema. Shown the other way round: a copy of the engine with every kind but the classifier
/// taken out (their folders deleted, the registry line cut to the classifier) still builds, warnings being errors, so no code outside
/// those folders depends on them, and adding any of them back touches nothing else.
/// </summary>
/// <remarks>
/// The kinds' diagnostic codes stay in the one code table (src/KtuGate.Contracts/Diagnostics/DiagnosticCodes.cs), which SARIF rules,
/// <c>ktu explain</c> and the help pages read: a kind with codes of its own adds them there.
/// </remarks>
public sealed class KindFolderTests
{
    private static readonly string[] s_removable = ["DualEncoder", "TextEmbedding", "CausalLm"];

    private const string RegistryLine =
        "private static readonly ManifestSectionReader[] s_supported = [ManifestSectionReader.Without(ModelKind.Classifier), DualEncoder.DualEncoderSection.Reader, TextEmbedding.TextEmbeddingSection.Reader, CausalLm.CausalLmSection.Reader];";

    [Fact]
    public void The_engine_builds_with_every_kind_but_the_classifier_taken_out()
    {
        using var temp = new TempFolder();
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig", "LICENSE", "packaging/KtuGate.Tool.md", "policies/ktu-policy.schema.json", "policies/ktu-manifest.schema.json" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(temp.Path, file))!);
            File.Copy(Path.Combine(TestPaths.RepoRoot, file), Path.Combine(temp.Path, file));
        }

        foreach (var project in new[] { "KtuGate.Contracts", "KtuGate.Core", "KtuGate.Cli" })
        {
            CopySources(Path.Combine(TestPaths.RepoRoot, "src", project), Path.Combine(temp.Path, "src", project));
        }

        var removed = 0;
        foreach (var kind in s_removable)
        {
            foreach (var project in new[] { "KtuGate.Contracts", "KtuGate.Core" })
            {
                var folder = Path.Combine(temp.Path, "src", project, "Kinds", kind);
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                    removed++;
                }
            }
        }

        Assert.Equal(6, removed); // each of the three kinds' engine folder and manifest section folder
        var registry = Path.Combine(temp.Path, "src", "KtuGate.Contracts", "Kinds", "ManifestKinds.cs");
        var text = File.ReadAllText(registry);
        Assert.Contains(RegistryLine, text, StringComparison.Ordinal);
        File.WriteAllText(registry, text.Replace(RegistryLine,
            "private static readonly ManifestSectionReader[] s_supported = [ManifestSectionReader.Without(ModelKind.Classifier)];", StringComparison.Ordinal));

        // The engine and its front end, ktu (the MSBuild tasks reference only the contracts, which the engine builds).
        var (exitCode, output) = Build(temp.Path, Path.Combine("src", "KtuGate.Cli", "KtuGate.Cli.csproj"));
        Assert.True(exitCode == 0, $"The engine without its other kinds does not build (exit {exitCode}):\n{output}");
    }

    /// <summary>Copies a project's sources, leaving out its build output.</summary>
    private static void CopySources(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal) || relative.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Runs <c>dotnet build</c> of <paramref name="project"/> in <paramref name="folder"/>; its exit code and output.</summary>
    private static (int ExitCode, string Output) Build(string folder, string project)
    {
        var start = new ProcessStartInfo("dotnet", ["build", project, "-nologo", "-v:q", "-nodeReuse:false", "-p:UseSharedCompilation=false"])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output + "\n(timed out after 10 minutes)");
        }

        return (process.ExitCode, output + error.Result);
    }
}
