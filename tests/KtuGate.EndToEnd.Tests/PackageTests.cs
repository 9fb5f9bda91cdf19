using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>Packs KtuGate and KtuGate.Tool into a local folder feed and uses them as a user would.</summary>
public sealed class PackageFeed : IDisposable
{
    public PackageFeed()
    {
        // A version of its own, so the NuGet cache never serves an older package of the same number.
        Version = string.Create(CultureInfo.InvariantCulture, $"0.1.0-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");

        // The tool is packed per platform (a build for each); here only for this machine's, the one that installs here. The packs
        // that build do so under their own artifacts path: rebuilding the repository's outputs in place would swap the engine's
        // assemblies under the other end-to-end tests, which run it at the same time.
        string[] own = ["--artifacts-path", _build.Path];
        foreach (var (project, extra) in new (string, string[])[]
        {
            ("KtuGate.Tasks", ["--no-build"]),
            ("KtuGate.Cuda", own),
            ("KtuGate.Templates", own),
            ("KtuGate.Cli", [.. own, $"-p:ToolPackageRuntimeIdentifiers={RuntimeInformation.RuntimeIdentifier}"]),
        })
        {
            var pack = DotnetBuild.Exec(TestPaths.RepoRoot,
                ["pack", Path.Combine("src", project), .. extra, "-c", TestPaths.Configuration, "-o", Folder.Path, $"-p:Version={Version}", "-nologo"]);
            if (pack.ExitCode != 0)
            {
                throw new InvalidOperationException($"dotnet pack {project} failed:\n{pack.Output}");
            }
        }
    }

    /// <summary>Where the packs that build put their build outputs.</summary>
    private readonly TempFolder _build = new();

    public TempFolder Folder { get; } = new();

    public string Version { get; }

    public void Dispose()
    {
        Folder.Dispose();
        _build.Dispose();

        // The tool package bundles ONNX Runtime (hundreds of MB); do not leave one copy per test run in the NuGet cache.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { "ktugate", "ktugate.cuda", "ktugate.tool", "ktugate.tool." + RuntimeInformation.RuntimeIdentifier })
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

    /// <summary>The local feed in addition to the machine's usual sources, which serve what KtuGate.Cuda depends on.</summary>
    private void AddFeed(TempFolder folder) => folder.File("nuget.config", $"""
        <configuration>
          <packageSources>
            <add key="ktugate-local" value="{feed.Folder.Path}" />
          </packageSources>
        </configuration>
        """);

    private TempFolder NewUserProject(string framework = "net10.0")
    {
        var project = new TempFolder();

        // The SDK's classlib template offers net10.0 and netstandard; an older .NET is set in the project it makes.
        var template = framework.StartsWith("netstandard", StringComparison.Ordinal) ? framework : "net10.0";
        var created = DotnetBuild.Exec(project.Path, ["new", "classlib", "-n", "ModelRelease", "-o", ".", "--framework", template]);
        Assert.True(created.ExitCode == 0, created.Output);

        AddFeed(project);
        var csproj = Path.Combine(project.Path, "ModelRelease.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace($"<TargetFramework>{template}</TargetFramework>", $"<TargetFramework>{framework}</TargetFramework>", StringComparison.Ordinal));
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

    [Theory]
    [InlineData("net8.0")]
    [InlineData("netstandard2.0")]
    public void A_project_on_another_target_framework_is_gated_too(string framework)
    {
        using var project = NewUserProject(framework);
        File.Copy(TestPaths.SamplePolicy, project.File(Path.Combine("policies", ViolatingPolicy)));

        var failing = DotnetBuild.Run(project.Path, "package-" + framework);
        Assert.True(failing.ExitCode == 1, failing.Output);
        Assert.DoesNotContain("NU1202", failing.Output, StringComparison.Ordinal);
        Assert.Contains("policies/retire-sneaker.ktu.json(6,5): error KTU3001: 'sneaker' is still known", failing.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(project.Path, "bin", "Debug", framework, "ktu", "ktu-report.json")), failing.Output);
    }

    [Fact]
    public void Cuda_without_KtuGate_Cuda_fails_the_build_with_KTU5040_and_KtuGate_Cuda_points_the_engine_at_the_gpu_runtime()
    {
        using var project = NewUserProject();
        project.File(Path.Combine("policies", "keep-footwear.ktu.json"), s_compliantPolicy);

        // KtuGate alone carries the CPU build: cuda is a coded error, never a CPU run reported as a GPU one.
        var cpuOnly = DotnetBuild.Run(project.Path, "package-cuda-cpu-only", "-p:KtuExecutionProvider=cuda");
        Assert.True(cpuOnly.ExitCode == 1, cpuOnly.Output);
        Assert.Contains("error KTU5040: Execution provider 'cuda' was requested, but the ONNX Runtime in use (1.31.0) is the CPU-only build", cpuOnly.Output, StringComparison.Ordinal);

        // With the companion package the engine loads the GPU build: on this machine (no GPU) that is KTU5004, not KTU5040.
        var csproj = Path.Combine(project.Path, "ModelRelease.csproj");
        File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("</ItemGroup>", $"""
                <PackageReference Include="KtuGate.Cuda" Version="{feed.Version}" />
              </ItemGroup>
            """, StringComparison.Ordinal));
        var withCuda = DotnetBuild.Run(project.Path, "package-cuda", "-p:KtuExecutionProvider=cuda", "-v:n");
        Assert.Contains("\"Microsoft.ML.OnnxRuntime.Gpu.Linux/1.31.0\"", File.ReadAllText(Path.Combine(project.Path, "obj", "project.assets.json")), StringComparison.Ordinal);
        Assert.DoesNotContain("KTU5040", withCuda.Output, StringComparison.Ordinal);
        Assert.True(
            (withCuda.ExitCode == 1 && withCuda.Output.Contains("error KTU5004", StringComparison.Ordinal))
            || (withCuda.ExitCode == 0 && withCuda.Output.Contains("on CUDAExecutionProvider", StringComparison.Ordinal)),
            withCuda.Output);
        Assert.False(Directory.Exists(Path.Combine(project.Path, "bin", "Debug", "net10.0", "runtimes")), "no ONNX Runtime library flows into the project's output");
    }

    [Fact]
    public void Packages_and_what_they_install_stay_within_their_size_goals()
    {
        const long Megabyte = 1024 * 1024;

        // nuget.org refuses packages over 250 MB.
        foreach (var package in Directory.GetFiles(feed.Folder.Path, "*.nupkg"))
        {
            Assert.True(new FileInfo(package).Length < 250 * Megabyte, $"{Path.GetFileName(package)} is {new FileInfo(package).Length / Megabyte} MB");
        }

        // The CPU-only tool, as this machine installs it: under 200 MB.
        using var work = new TempFolder();
        var tools = Path.Combine(work.Path, "tools");
        var install = DotnetBuild.Exec(work.Path, ["tool", "install", "KtuGate.Tool", "--version", feed.Version, "--add-source", feed.Folder.Path, "--tool-path", tools]);
        Assert.True(install.ExitCode == 0, install.Output);
        Assert.True(FolderSize(tools) < 200 * Megabyte, $"the tool installs in {FolderSize(tools) / Megabyte} MB");

        // Restoring KtuGate (no CUDA) into an empty package folder: under 300 MB there.
        using var project = NewUserProject();
        var packages = Path.Combine(work.Path, "packages");
        var restore = DotnetBuild.Exec(project.Path, ["restore", "--packages", packages]);
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.True(Directory.Exists(Path.Combine(packages, "ktugate")), restore.Output);
        Assert.True(FolderSize(packages) < 300 * Megabyte, $"restoring KtuGate puts {FolderSize(packages) / Megabyte} MB in the package folder");
    }

    private static long FolderSize(string folder) =>
        new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    [Fact]
    public void The_ktugate_template_installs_from_the_feed_and_the_project_it_makes_is_gated()
    {
        using var work = new TempFolder();
        AddFeed(work);

        // A hive of its own: the machine's installed templates are neither used nor changed.
        var hive = Path.Combine(work.Path, "template-hive");
        var install = DotnetBuild.Exec(work.Path, ["new", "install", $"KtuGate.Templates::{feed.Version}", "--add-source", feed.Folder.Path, "--debug:custom-hive", hive]);
        Assert.True(install.ExitCode == 0, install.Output);
        var created = DotnetBuild.Exec(work.Path, ["new", "ktugate", "-n", "FashionRelease", "-o", "FashionRelease", "--debug:custom-hive", hive]);
        Assert.True(created.ExitCode == 0, created.Output);
        var project = Path.Combine(work.Path, "FashionRelease");
        Assert.True(File.Exists(Path.Combine(project, "FashionRelease.csproj")), created.Output);
        Assert.Contains($"Include=\"KtuGate\" Version=\"{feed.Version}\"", File.ReadAllText(Path.Combine(project, "FashionRelease.csproj")), StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(project, "policies", "exemplars", "label-0")));
        foreach (var file in new[] { "artifacts/model.ktu.json", "policies/forget-label-0.ktu.json" })
        {
            var schema = Regex.Match(File.ReadAllText(Path.Combine(project, file)), "\"\\$schema\": \"([^\"]+)\"").Groups[1].Value;
            Assert.True(File.Exists(Path.Combine(project, Path.GetDirectoryName(file)!, schema)), $"{file}: $schema '{schema}' does not resolve");
        }

        // Until the model is there, the build fails: nothing is passed unchecked.
        var empty = DotnetBuild.Run(project, "template-empty");
        Assert.True(empty.ExitCode == 1, empty.Output);
        Assert.Contains("error KTU5007", empty.Output, StringComparison.Ordinal);

        // With a model and exemplars in place the gate probes it and judges the template's policy at its forget clause (the
        // template's generic preprocessing is not the sample's, so the sample model is judged as it fares under it).
        File.Copy(TestPaths.SampleModel, Path.Combine(project, "artifacts", "model.onnx"));
        foreach (var file in Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "t-shirt"), "*.png").Order(StringComparer.Ordinal).Take(80))
        {
            File.Copy(file, Path.Combine(project, "policies", "exemplars", "label-0", Path.GetFileName(file)));
        }

        foreach (var file in Directory.GetFiles(TestPaths.Sample("policies", "exemplars", "trouser"), "*.png").Order(StringComparer.Ordinal).Take(40))
        {
            File.Copy(file, Path.Combine(project, "policies", "exemplars", "label-1", Path.GetFileName(file)));
        }

        var gated = DotnetBuild.Run(project, "template-gated");
        Assert.True(gated.ExitCode == 1, gated.Output);
        Assert.Matches(@"policies/forget-label-0\.ktu\.json\(12,5\): error KTU300[16]: 'label-0' is (still known|not shown forgotten)", gated.Output);
        Assert.Contains("KtuGate: verdict ", gated.Output, StringComparison.Ordinal);
    }
}
