using System.Runtime.InteropServices;
using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using Microsoft.ML.OnnxRuntime;

namespace ResNetTower;

/// <summary>Runs the backbone on a folder of images, decoded and preprocessed by the gate's own <see cref="ImageDecoder"/> as the manifest says, so the projection is fitted on exactly the features the gate will see.</summary>
internal static class FeatureDump
{
    private const int BatchSize = 32;

    /// <summary>Writes OUTPUT.f32 (float32 rows of <see cref="Composer.FeatureWidth"/>) and OUTPUT.json (each row's file and its class, the file's folder); returns the exit code.</summary>
    public static int Run(string manifestPath, string backbonePath, string imageFolder, string outputPrefix)
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(manifestPath, diagnostics);
        if (manifest?.Input is not { } input || manifest.Preprocess is not { } preprocess)
        {
            foreach (var d in diagnostics.Items)
            {
                Console.Error.WriteLine(d);
            }

            return 2;
        }

        var files = Directory.EnumerateFiles(imageFolder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        var size = input.Channels * input.Height * input.Width;
        using var session = new InferenceSession(backbonePath);
        using var runOptions = new RunOptions();
        var features = new List<float>(files.Count * Composer.FeatureWidth);
        for (var start = 0; start < files.Count; start += BatchSize)
        {
            var batch = files.Skip(start).Take(BatchSize).ToList();
            var data = new float[batch.Count * size];
            for (var i = 0; i < batch.Count; i++)
            {
                var problem = ImageDecoder.TryDecode(batch[i], input, preprocess, data.AsSpan(i * size, size));
                if (problem is not null)
                {
                    Console.Error.WriteLine($"{batch[i]}: {problem}");
                    return 1;
                }
            }

            using var tensor = OrtValue.CreateTensorValueFromMemory(data, [batch.Count, input.Channels, input.Height, input.Width]);
            using var outputs = session.Run(runOptions, [input.Name], [tensor], [Composer.FeaturesOutput]);
            features.AddRange(outputs[0].GetTensorDataAsSpan<float>());
            Console.WriteLine($"{start + batch.Count} of {files.Count}");
        }

        var index = new
        {
            dim = Composer.FeatureWidth,
            files = files.Select(f => new { path = Path.GetRelativePath(imageFolder, f), label = Path.GetFileName(Path.GetDirectoryName(f)) }),
        };
        WriteAtomically($"{outputPrefix}.f32", MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(features)).ToArray());
        WriteAtomically($"{outputPrefix}.json", JsonSerializer.SerializeToUtf8Bytes(index));
        return 0;
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }
}
