using System.Globalization;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>Packs KtuGate and KtuGate.Tool into a local folder feed and uses them as a user would.</summary>
public sealed class PackageFeed : IDisposable
{
    public PackageFeed()
    {
        // A version of its own, so the NuGet cache never serves an older package of the same number.
        Version = string.Create(CultureInfo.InvariantCulture, $"0.1.0-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");
        foreach (var project in new[] { "KtuGate.Tasks", "KtuGate.Cli" })
        {
            var pack = DotnetBuild.Exec(TestPaths.RepoRoot,
                ["pack", Path.Combine("src", project), "--no-build", "-c", TestPaths.Configuration, "-o", Folder.Path, $"-p:Version={Version}", "-nologo"]);
            if (pack.ExitCode != 0)
            {
                throw new InvalidOperationException($"dotnet pack {project} failed:\n{pack.Output}");
            }
        }
    }

    public TempFolder Folder { get; } = new();

    public string Version { get; }

    public void Dispose()
    {
        Folder.Dispose();

        // The tool package bundles ONNX Runtime (hundreds of MB); do not leave one copy per test run in the NuGet cache.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "ktugate", "ktugate.tool" })
        {
            var folder = Path.Combine(cache, id, Version);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}

public sealed class PackageTests(PackageFeed feed) : IClassFixture<PackageFeed>
{
    private const string ViolatingPolicy = "retire-sneaker.ktu.json";

    private static readonly string s_compliantPolicy = """
        {
          "ktuPolicy": 1,
          "id": "keep-footwear",
          "concepts": {
            "footwear": {},
            "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] },
            "sandal": { "parent": "footwear", "exemplars": ["exemplars/sandal/*.png"] }
          },
          "retain": [
            { "concept": "sneaker", "level": "coarse", "minAccuracy": 0.95 },
            { "concept": "sandal", "minAccuracy": 0.9 }
          ]
        }
        """;

    private TempFolder NewUserProject()
    {
        var project = new TempFolder();
        var created = DotnetBuild.Exec(project.Path, ["new", "classlib", "-n", "ModelRelease", "-o", ".", "--framework", "net10.0"]);
        Assert.True(created.ExitCode == 0, created.Output);

        // The local feed in addition to the machine's usual sources, which serve KtuGate's own dependencies.
        project.File("nuget.config", $"""
            <configuration>
              <packageSources>
                <add key="ktugate-local" value="{feed.Folder.Path}" />
              </packageSources>
            </configuration>
            """);
        var csproj = Path.Combine(project.Path, "ModelRelease.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("</Project>", $"""
              <ItemGroup>
                <PackageReference Include="KtuGate" Version="{feed.Version}" />
                <KtuModel Include="artifacts/fashion-classifier.onnx" />
                <KtuPolicy Include="policies/*.ktu.json" />
              </ItemGroup>
              <PropertyGroup>
                <KtuExecutionProvider>cpu</KtuExecutionProvider>
              </PropertyGroup>
            </Project>
            """, StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(project.Path, "artifacts"));
        File.Copy(TestPaths.SampleModel, Path.Combine(project.Path, "artifacts", "fashion-classifier.onnx"));
        File.Copy(TestPaths.SampleManifest, Path.Combine(project.Path, "artifacts", "fashion-classifier.ktu.json"));
        foreach (var label in new[] { "sneaker", "sandal", "ankle-boot", "t-shirt", "bag" })
        {
            project.CopyExemplars(label, Path.Combine("policies", "exemplars", label), 300);
        }

        return project;
    }

    [Fact]
    public void Package_reference_gates_the_build_and_the_tool_checks_the_same_project()
    {
        using var project = NewUserProject();
        File.Copy(TestPaths.SamplePolicy, project.File(Path.Combine("policies", ViolatingPolicy)));

        // The violating policy fails the build at its line.
        var failing = DotnetBuild.Run(project.Path, "package-failing");
        Assert.True(failing.ExitCode == 1, failing.Output);
        Assert.Contains("policies/retire-sneaker.ktu.json(6,5): error KTU3001: 'sneaker' is still known", failing.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(project.Path, "bin", "Debug", "net10.0", "ktu", "ktu-report.json")));

        // The tool, installed from the same feed, says the same about the same project.
        var tools = Path.Combine(project.Path, ".tools");
        var install = DotnetBuild.Exec(project.Path, ["tool", "install", "KtuGate.Tool", "--version", feed.Version, "--add-source", feed.Folder.Path, "--tool-path", tools]);
        Assert.True(install.ExitCode == 0, install.Output);
        var check = DotnetBuild.ExecFile(Path.Combine(tools, "ktu"), project.Path,
            ["check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json", "--execution-provider", "cpu", "--report-dir", "tool-report"]);
        Assert.True(check.ExitCode == 1, check.Output);
        Assert.Contains("policies/retire-sneaker.ktu.json(6,5): error KTU3001", check.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(project.Path, "tool-report", "ktu-report.json")));

        // A compliant policy passes; built again unchanged, the gate is skipped.
        File.Delete(Path.Combine(project.Path, "policies", ViolatingPolicy));
        project.File(Path.Combine("policies", "keep-footwear.ktu.json"), s_compliantPolicy);
        var passing = DotnetBuild.Run(project.Path, "package-passing", "-v:n");
        Assert.True(passing.ExitCode == 0, passing.Output);
        Assert.Contains("KtuGate: verdict pass", passing.Output, StringComparison.Ordinal);

        var again = DotnetBuild.Run(project.Path, "package-again", "-v:n");
        Assert.True(again.ExitCode == 0, again.Output);
        Assert.Contains("Skipping target \"_KtuRunGate\" because all output files are up-to-date", again.Output, StringComparison.Ordinal);
    }
}
