using System.Security.Cryptography;

namespace KtuGate.Tests;

/// <summary>Paths of the repository and its built parts, found from the test assembly's location.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>"debug" or "release": the configuration these tests were built in, from the artifacts layout.</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;

    public static string Sample(params string[] parts) => Path.Combine([RepoRoot, "samples", "FashionGate", .. parts]);

    public static string SampleModel => Sample("artifacts", "fashion-classifier.onnx");

    public static string SampleManifest => Sample("artifacts", "fashion-classifier.ktu.json");

    public static string SamplePolicy => Sample("policies", "retire-sneaker.ktu.json");

    public static string EnginePath => Path.Combine(RepoRoot, "artifacts", "bin", "KtuGate.Cli", Configuration, "ktu.dll");

    public static string TasksAssembly => Path.Combine(RepoRoot, "artifacts", "bin", "KtuGate.Tasks", Configuration, "KtuGate.Tasks.dll");

    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KtuGate.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The tests must run from inside the KtuGate repository.");
    }
}

/// <summary>A temporary folder deleted when the test ends.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ktu-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string relative, string? content = null)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        if (content is not null)
        {
            System.IO.File.WriteAllText(full, content);
        }

        return full;
    }

    /// <summary>Copies the first <paramref name="count"/> sample exemplars of a class into <paramref name="relativeFolder"/>.</summary>
    public void CopyExemplars(string label, string relativeFolder, int count)
    {
        var target = System.IO.Path.Combine(Path, relativeFolder);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(TestPaths.Sample("policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).Take(count))
        {
            System.IO.File.Copy(file, System.IO.Path.Combine(target, System.IO.Path.GetFileName(file)));
        }
    }

    /// <summary>
    /// The sample's retire-sneaker policy copied to <c>policies/retire-sneaker.ktu.json</c> under <paramref name="projectFolder"/>, with the
    /// first <paramref name="perClass"/> exemplars of each class it names beside it; returns the policy's path.
    /// </summary>
    public string CopySamplePolicy(string projectFolder, int perClass)
    {
        var policy = File(System.IO.Path.Combine(projectFolder, "policies", "retire-sneaker.ktu.json"));
        System.IO.File.Copy(TestPaths.SamplePolicy, policy);
        foreach (var label in new[] { "sneaker", "sandal", "ankle-boot", "t-shirt", "bag" })
        {
            CopyExemplars(label, System.IO.Path.Combine(projectFolder, "policies", "exemplars", label), perClass);
        }

        return policy;
    }

    /// <summary>A copy of the sample project under <c>project/</c> (model, manifest, policy, 40 exemplars of each class the policy names) that a test may tamper with; returns its path.</summary>
    public string CopySampleProject()
    {
        var root = System.IO.Path.Combine(Path, "project");
        Directory.CreateDirectory(System.IO.Path.Combine(root, "artifacts"));
        System.IO.File.Copy(TestPaths.SampleModel, System.IO.Path.Combine(root, "artifacts", "fashion-classifier.onnx"));
        System.IO.File.Copy(TestPaths.SampleManifest, System.IO.Path.Combine(root, "artifacts", "fashion-classifier.ktu.json"));
        CopySamplePolicy("project", 40);
        return root;
    }

    /// <summary>The sample's policies copied under <c>policies/</c>, its retire-sneaker policy's <c>remedy</c> replaced by <paramref name="remedy"/> (JSON); returns that policy's path.</summary>
    public string SamplePolicyWithRemedy(string remedy)
    {
        var policy = System.IO.Path.Combine(CopyTree(TestPaths.Sample("policies"), "policies"), "retire-sneaker.ktu.json");
        var text = System.IO.File.ReadAllText(policy);
        var at = text.IndexOf("\"remedy\"", StringComparison.Ordinal);
        System.IO.File.WriteAllText(policy, text[..at] + "\"remedy\": " + remedy + "\n}\n");
        return policy;
    }

    /// <summary>Copies a folder and everything under it into <paramref name="relativeFolder"/>; returns the copy's path.</summary>
    public string CopyTree(string source, string relativeFolder)
    {
        var target = System.IO.Path.Combine(Path, relativeFolder);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var copy = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(source, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(copy)!);
            System.IO.File.Copy(file, copy);
        }

        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless; a test must not fail on cleanup.
        }
    }
}
