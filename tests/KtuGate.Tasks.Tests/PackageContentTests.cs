using System.Xml.Linq;
using KtuGate.Tests;

namespace KtuGate.Tasks.Tests;

/// <summary>What the package projects declare agrees with the files in the repository (licence, readmes, the CUDA runtime's version).</summary>
public sealed class PackageContentTests
{
    public static TheoryData<string> PackageProjects => new()
    {
        "src/KtuGate.Tasks/KtuGate.Tasks.csproj",
        "src/KtuGate.Cli/KtuGate.Cli.csproj",
        "src/KtuGate.Cuda/KtuGate.Cuda.csproj",
        "src/KtuGate.Templates/KtuGate.Templates.csproj",
    };

    private static string Property(XDocument project, string name) =>
        project.Descendants(name).Select(e => e.Value).SingleOrDefault() ?? "";

    private static string CentralVersion(string package) =>
        XDocument.Load(Path.Combine(TestPaths.RepoRoot, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == package).Attribute("Version")!.Value;

    [Theory]
    [MemberData(nameof(PackageProjects))]
    public void Each_package_declares_the_licence_of_the_LICENSE_file_and_packs_it_with_its_readme(string relativeProject)
    {
        var projectPath = Path.Combine(TestPaths.RepoRoot, relativeProject);
        var project = XDocument.Load(projectPath);
        Assert.Equal("MIT", Property(project, "PackageLicenseExpression"));
        Assert.StartsWith("MIT License", File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "LICENSE")), StringComparison.Ordinal);
        Assert.Equal("README.md", Property(project, "PackageReadmeFile"));

        // The files packed as README.md and LICENSE exist, so pack cannot fail on them or ship without them.
        var packed = project.Descendants("None").Where(e => e.Attribute("Pack")?.Value == "true").ToList();
        var readme = packed.Single(e => (string?)e.Attribute("PackagePath") == "README.md").Attribute("Include")!.Value.Replace('\\', Path.DirectorySeparatorChar);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(projectPath)!, readme)), readme);
        Assert.Contains(packed, e => e.Attribute("Include")!.Value.EndsWith("LICENSE", StringComparison.Ordinal));
    }

    [Fact]
    public void KtuGate_Cuda_points_at_the_gpu_runtime_it_depends_on_of_the_engine_s_onnx_runtime_version()
    {
        var gpu = CentralVersion("Microsoft.ML.OnnxRuntime.Gpu.Linux");

        // The managed ONNX Runtime the engine carries calls into whichever native build is loaded: the versions must match.
        Assert.Equal(CentralVersion("Microsoft.ML.OnnxRuntime"), gpu);
        var props = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", "KtuGate.Cuda", "build", "KtuGate.Cuda.props"));
        Assert.Contains($"$(NuGetPackageRoot)microsoft.ml.onnxruntime.gpu.linux/{gpu}/runtimes/linux-x64/native/", props, StringComparison.Ordinal);
    }
}
