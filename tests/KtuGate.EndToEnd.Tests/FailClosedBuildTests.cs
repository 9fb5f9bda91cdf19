using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.EndToEnd.Tests;

/// <summary>Real builds that must never pass, skip or ship what the gate did not check.</summary>
public sealed class FailClosedBuildTests
{
    private const string ShippedItems = """
            <KtuModel Include="$(GatedModels)" Manifest="artifacts/fashion-classifier.ktu.json" />
            <KtuPolicy Include="policies/*.ktu.json" />
            <None Include="artifacts/fashion-classifier.onnx;artifacts/fashion-classifier.ktu.json" CopyToOutputDirectory="PreserveNewest" />
        """;

    private const string KeepBags = """
        { "ktuPolicy": 1, "id": "keep-bags", "concepts": { "bags": {}, "bag": { "parent": "bags", "exemplars": ["exemplars/bag/*.png"] } },
          "retain": [ { "concept": "bag", "minAccuracy": 0.9 } ] }
        """;

    private const string ForgetSneakers = """
        { "ktuPolicy": 1, "id": "forget-sneakers",
          "concepts": { "footwear": {}, "sneaker": { "parent": "footwear", "exemplars": ["exemplars/sneaker/*.png"] } },
          "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 } ] }
        """;

    private static void Expect(int exitCode, DotnetBuild.Result result, params string[] expected)
    {
        var ok = result.ExitCode == exitCode && expected.All(e => result.Output.Contains(e, StringComparison.Ordinal));
        if (!ok && File.Exists(result.BinaryLog))
        {
            var kept = Path.Combine(TestPaths.RepoRoot, "artifacts", "test-logs", "fail-closed-" + Path.GetFileName(result.BinaryLog));
            Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
            File.Copy(result.BinaryLog, kept, overwrite: true);
        }

        Assert.True(result.ExitCode == exitCode, $"exit {result.ExitCode}, expected {exitCode}:\n{result.Output}");
        foreach (var e in expected)
        {
            Assert.True(result.Output.Contains(e, StringComparison.Ordinal), $"'{e}' not in the output:\n{result.Output}");
        }
    }

    /// <summary>The SHA-256 of the remediated artifact a report names (its first model's remediation output).</summary>
    private static string RemediatedSha256(string reportPath)
    {
        using var report = JsonDocument.Parse(File.ReadAllBytes(reportPath));
        return report.RootElement.GetProperty("models")[0].GetProperty("remediation").GetProperty("output").GetProperty("sha256").GetString()!;
    }

    private static TempFolder ShippingProject()
    {
        var project = new TempFolder();
        DotnetBuild.WriteProject(project, ShippedItems);
        File.WriteAllText(Path.Combine(project.Path, "Release.csproj"), File.ReadAllText(Path.Combine(project.Path, "Release.csproj"))
            .Replace("<TargetFramework>", "<GatedModels Condition=\"'$(GatedModels)' == ''\">artifacts/fashion-classifier.onnx</GatedModels>\n    <TargetFramework>", StringComparison.Ordinal));
        return project;
    }

    [Fact]
    public void Remediated_model_is_what_publish_and_the_build_output_ship_and_nothing_stale_or_partial_stays()
    {
        using var project = ShippingProject();
        project.CopySamplePolicy(string.Empty, 300);
        var original = TestPaths.Sha256(TestPaths.SampleModel);
        var bin = Path.Combine(project.Path, "bin", "Release", "net10.0");
        var publish = Path.Combine(project.Path, "out");

        // Publish ships the edited model under the original's path; before, out/ held the original and the edit stayed in bin/.
        var published = DotnetBuild.Exec(project.Path, ["publish", "-nologo", "-clp:NoSummary;ForceNoAlign", "-p:KtuGateMode=Remediate", "-o", publish, $"-bl:{Path.Combine(project.Path, "logs", "publish.binlog")}"],
            Path.Combine(project.Path, "logs", "publish.binlog"));
        Expect(0, published, "KtuGate: verdict pass");
        var edited = RemediatedSha256(Path.Combine(bin, "ktu", "ktu-report.json"));

        Assert.NotEqual(original, edited);
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(publish, "artifacts", "fashion-classifier.onnx")));
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(bin, "artifacts", "fashion-classifier.onnx")));
        Assert.Equal(original, TestPaths.Sha256(Path.Combine(project.Path, "artifacts", "fashion-classifier.onnx")));

        // Publish without a build gates too (here: up to date) and ships the edit; before, no gate ran and the original shipped.
        var noBuild = Path.Combine(project.Path, "out-no-build");
        Expect(0, DotnetBuild.Exec(project.Path, ["publish", "--no-build", "-nologo", "-clp:NoSummary;ForceNoAlign", "-p:KtuGateMode=Remediate", "-o", noBuild]));
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(noBuild, "artifacts", "fashion-classifier.onnx")));

        // Deleting the remediated output reruns the gate; before, the build skipped it and succeeded with no artifact.
        File.Delete(Path.Combine(bin, "fashion-classifier.onnx"));
        var rebuilt = DotnetBuild.Run(project.Path, "rebuilt", "-c", "Release", "-p:KtuGateMode=Remediate");
        Expect(0, rebuilt, "KtuGate: verdict pass");
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(bin, "fashion-classifier.onnx")));

        // A policy the model passes unedited: no edited model from the earlier run may remain, in bin/ or as the item's output.
        File.Delete(Path.Combine(project.Path, "policies", "retire-sneaker.ktu.json"));
        project.File("policies/keep-bags.ktu.json", KeepBags);
        var unedited = DotnetBuild.Run(project.Path, "unedited", "-c", "Release", "-p:KtuGateMode=Remediate");
        Expect(0, unedited, "KtuGate: verdict pass");
        Assert.False(File.Exists(Path.Combine(bin, "fashion-classifier.onnx")));
        Assert.Equal(original, TestPaths.Sha256(Path.Combine(bin, "artifacts", "fashion-classifier.onnx")));

        // An interrupted remediation's candidate and staging folder, the reports, the stamp and the inputs list are build outputs that 'dotnet clean' removes.
        var candidate = Path.Combine(bin, ".fashion-classifier.onnx.4242.candidate.onnx");
        File.WriteAllText(candidate, "partial");
        var staging = Path.Combine(bin, ".ktu-candidate.4242.0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(staging);
        File.WriteAllText(Path.Combine(staging, "fashion-classifier.onnx"), "partial");
        var stampFolder = Path.Combine(project.Path, "obj", "Release", "net10.0", "ktu");
        Assert.True(File.Exists(Path.Combine(stampFolder, "ktu-gate.stamp")));
        var clean = DotnetBuild.Exec(project.Path, ["clean", "-nologo", "-c", "Release", "-p:KtuGateMode=Remediate"]);
        Expect(0, clean);
        Assert.False(File.Exists(candidate));
        Assert.False(Directory.Exists(staging)); // a killed remediation's staging folder; before, 'dotnet clean' left it
        Assert.False(File.Exists(Path.Combine(bin, "ktu", "ktu-report.json")));
        Assert.False(File.Exists(Path.Combine(bin, "ktu", "ktu-report.sarif")));
        Assert.False(File.Exists(Path.Combine(stampFolder, "ktu-gate.stamp")));
        Assert.False(File.Exists(Path.Combine(stampFolder, "ktu-gate.inputs.json")));
    }

    /// <summary>
    /// An application that references the model project (a ProjectReference) copies the model project's files into its own output: it must
    /// get the model the gate passed. Before, the model project listed its files to copy before the gate ran, MSBuild kept that list, and the
    /// application shipped the original while the model project's own output held the remediated one.
    /// </summary>
    [Fact]
    public void A_project_referencing_the_gated_project_ships_the_remediated_model_or_nothing()
    {
        using var folder = new TempFolder();
        DotnetBuild.WriteProject(folder, ShippedItems.Replace("$(GatedModels)", "artifacts/fashion-classifier.onnx", StringComparison.Ordinal), "model");
        folder.CopySamplePolicy("model", 300);
        folder.File("app/App.csproj", """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <OutputType>Exe</OutputType>
              </PropertyGroup>
              <ItemGroup>
                <ProjectReference Include="../model/Release.csproj" ReferenceOutputAssembly="false" />
              </ItemGroup>
            </Project>
            """);
        folder.File("app/Program.cs", "System.Console.WriteLine(\"app\");");
        var app = Path.Combine(folder.Path, "app");
        var shipped = Path.Combine(app, "bin", "Debug", "net10.0", "artifacts", "fashion-classifier.onnx");
        var original = TestPaths.Sha256(TestPaths.SampleModel);

        // Verify: the model fails the gate, so the application's build fails and no model lands in its output.
        Expect(1, DotnetBuild.Run(app, "app-verify"), "error KTU3001");
        Assert.False(File.Exists(shipped));

        // Remediate: the application's output holds the edited model, the one the model project's report names.
        Expect(0, DotnetBuild.Run(app, "app-remediate", "-p:KtuGateMode=Remediate"), "KtuGate: verdict pass");
        var edited = RemediatedSha256(Path.Combine(folder.Path, "model", "bin", "Debug", "net10.0", "ktu", "ktu-report.json"));

        Assert.NotEqual(original, edited);
        Assert.Equal(edited, TestPaths.Sha256(shipped));

        // Publishing the application ships it too, and so does publishing without a build, where the model project is not built: its gate
        // runs before it lists its files to publish (before, 'publish --no-build' shipped the original).
        var publish = Path.Combine(folder.Path, "out");
        Expect(0, DotnetBuild.Exec(app, ["publish", "-nologo", "-clp:NoSummary;ForceNoAlign", "-p:KtuGateMode=Remediate", "-o", publish]), "KtuGate: verdict pass");
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(publish, "artifacts", "fashion-classifier.onnx")));
        var noBuild = Path.Combine(folder.Path, "out-no-build");
        Expect(0, DotnetBuild.Exec(app, ["publish", "--no-build", "-nologo", "-clp:NoSummary;ForceNoAlign", "-p:KtuGateMode=Remediate", "-o", noBuild]));
        Assert.Equal(edited, TestPaths.Sha256(Path.Combine(noBuild, "artifacts", "fashion-classifier.onnx")));
    }

    /// <summary>
    /// A model embedded in the assembly (EmbeddedResource) is read by the compiler, before Build ends: the assembly must embed the model the
    /// gate passed, under the original's resource name. Before, a Remediate build passed and the assembly embedded the original.
    /// </summary>
    [Fact]
    public void A_model_embedded_in_the_assembly_is_the_one_the_gate_passed()
    {
        using var project = new TempFolder();
        DotnetBuild.WriteProject(project, string.Empty);
        File.WriteAllText(Path.Combine(project.Path, "Release.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <OutputType>Exe</OutputType>
              </PropertyGroup>
              <ItemGroup>
                <KtuModel Include="artifacts/fashion-classifier.onnx" Manifest="artifacts/fashion-classifier.ktu.json" />
                <KtuPolicy Include="policies/*.ktu.json" />
                <EmbeddedResource Include="artifacts/fashion-classifier.onnx" />
              </ItemGroup>
            </Project>
            """);
        project.File("Program.cs", """
            var assembly = typeof(Program).Assembly;
            foreach (var name in assembly.GetManifestResourceNames())
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                System.Console.WriteLine($"{name} {System.Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream))}");
            }
            """);
        project.CopySamplePolicy(string.Empty, 300);
        var assembly = Path.Combine(project.Path, "bin", "Debug", "net10.0", "Release.dll");

        // Verify: the model fails the gate, and nothing is compiled with it.
        Expect(1, DotnetBuild.Run(project.Path, "embedded-verify"), "error KTU3001");
        Assert.False(File.Exists(assembly));

        Expect(0, DotnetBuild.Run(project.Path, "embedded-remediate", "-p:KtuGateMode=Remediate"), "KtuGate: verdict pass");
        var edited = RemediatedSha256(Path.Combine(project.Path, "bin", "Debug", "net10.0", "ktu", "ktu-report.json"));

        Assert.NotEqual(TestPaths.Sha256(TestPaths.SampleModel), edited);
        var run = DotnetBuild.Exec(project.Path, [assembly]);
        Assert.Equal($"Release.artifacts.fashion-classifier.onnx {edited}", run.Output.Trim());
    }

    [Fact]
    public void Gate_is_never_skipped_on_a_stale_pass_and_never_silently_absent()
    {
        using var a = ShippingProject();
        using var b = ShippingProject();
        using var shared = new TempFolder();
        var reports = $"-p:KtuReportDir={Path.Combine(shared.Path, "reports")}/";
        a.CopyExemplars("sneaker", "policies/exemplars/sneaker", 40);
        a.File("policies/forget-sneakers.ktu.json", ForgetSneakers);
        b.CopyExemplars("bag", "policies/exemplars/bag", 30);
        b.File("policies/keep-bags.ktu.json", KeepBags);

        // A KtuModel glob that matches nothing is an error; before, the build was green with no gate output.
        Expect(1, DotnetBuild.Run(a.Path, "no-model", "-p:GatedModels=artifacts/*.missing.onnx"), "error KTU5007");

        // Two projects sharing a report folder each keep their own verdict: A fails, B passes, A still fails.
        Expect(1, DotnetBuild.Run(a.Path, "a-first", reports), "error KTU3001");
        Expect(0, DotnetBuild.Run(b.Path, "b-first", reports, "-v:n"), "KtuGate: verdict pass");
        Expect(1, DotnetBuild.Run(a.Path, "a-again", reports), "error KTU3001");

        // Deleting an exemplar (its file is gone, no timestamp moved) reruns the gate.
        File.Delete(Directory.GetFiles(Path.Combine(b.Path, "policies", "exemplars", "bag")).Order(StringComparer.Ordinal).First());
        Expect(0, DotnetBuild.Run(b.Path, "b-deleted", reports, "-v:n"), "KtuGate: the gate runs: ", "is gone", "KtuGate: verdict pass");

        // KtuMaxMemory reaches the gate: a value that is not a size is KTU5020 (not KTU5003), and a valid one is a setting that reruns it.
        Expect(0, DotnetBuild.Run(b.Path, "b-memory", reports, "-p:KtuMaxMemory=8G", "-v:n"), "KtuGate: the gate runs: a setting changed (MaxMemory=8G)", "--max-memory 8G", "KtuGate: verdict pass");
        Expect(1, DotnetBuild.Run(b.Path, "b-memory-invalid", reports, "-p:KtuMaxMemory=lots"), "error KTU5020");
    }
}
