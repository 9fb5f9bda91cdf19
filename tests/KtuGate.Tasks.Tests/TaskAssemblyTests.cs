using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using KtuGate.Diagnostics;

namespace KtuGate.Tasks.Tests;

/// <summary>
/// The assemblies MSBuild loads (the tasks and the contracts they reference) hold no engine type and reference no engine
/// assembly (issue #10 item 5): the packed tools/net/ folder has no ONNX Runtime, Skia, OnnxSharp or tokenizers beside them.
/// </summary>
public sealed class TaskAssemblyTests
{
    /// <summary>The engine's assemblies: ONNX Runtime, SkiaSharp, OnnxSharp (and its Protobuf), the tokenizers, and KtuGate.Core itself.</summary>
    private static readonly string[] s_engine =
    [
        "Microsoft.ML.OnnxRuntime", "SkiaSharp", "OnnxSharp", "Google.Protobuf", "Microsoft.ML.Tokenizers", "KtuGate.Core",
    ];

    public static TheoryData<string> LoadedByMsBuild => new() { typeof(KtuRunGate).Assembly.Location, typeof(Diagnostic).Assembly.Location };

    [Theory]
    [MemberData(nameof(LoadedByMsBuild))]
    public void Assembly_MSBuild_loads_references_no_engine_assembly(string assemblyPath)
    {
        var references = References(assemblyPath);
        Assert.NotEmpty(references);
        var engine = references.Where(r => s_engine.Any(e => r == e || r.StartsWith(e + ".", StringComparison.Ordinal))).ToList();
        Assert.Empty(engine);
    }

    [Fact]
    public void Tasks_reference_the_contracts_and_no_other_KtuGate_assembly()
    {
        var ours = References(typeof(KtuRunGate).Assembly.Location).Where(r => r.StartsWith("KtuGate", StringComparison.Ordinal)).ToList();
        Assert.Equal(["KtuGate.Contracts"], ours);
    }

    /// <summary>The names of the assemblies the file at <paramref name="assemblyPath"/> references, read from its metadata (nothing is loaded).</summary>
    private static List<string> References(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return [.. metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))];
    }
}
