using KtuGate.Diagnostics;
using KtuGate.Models;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>Streams exemplar images through an image model one batch at a time: memory holds one batch, however many exemplars there are.</summary>
internal static class ImageBatches
{
    /// <summary>Standard deviation of the noise <see cref="Perturbation.Noise"/> adds, in the model's normalised input units.</summary>
    public const float NoiseSigma = 0.1f;

    /// <summary>Decodes the files in batches, runs the model on each and hands its output rows (and, if asked, an inner tensor's) to <paramref name="onBatch"/>.</summary>
    /// <param name="model">The image model.</param>
    /// <param name="files">The exemplars; undecodable ones are reported (KTU2008) and skipped.</param>
    /// <param name="batchSize">Exemplars per inference call.</param>
    /// <param name="diagnostics">Receives KTU2008.</param>
    /// <param name="progress">Told how many exemplars have been run, after each batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <param name="extraOutput">An inner tensor to fetch too (a graph output the model was given for it), or null.</param>
    /// <param name="onBatch">Gets the output (rows of <see cref="LoadedModel.OutputWidth"/> floats), the inner tensor's rows (empty without one) and the batch's files.</param>
    /// <param name="perturbation">How each exemplar is changed after decoding.</param>
    /// <returns>How many exemplars were run.</returns>
    public static int Run(
        LoadedModel model, IEnumerable<string> files, int batchSize, DiagnosticBag diagnostics, IProgress<int>? progress,
        CancellationToken cancellationToken, string? extraOutput, PairAction onBatch, Perturbation perturbation = Perturbation.None)
    {
        var input = model.Manifest.Input ?? throw new InvalidOperationException($"The manifest '{model.Manifest.Path}' describes no image input; its kind does not probe images.");
        var preprocess = model.Manifest.Preprocess!;
        var perExemplar = input.Channels * input.Height * input.Width;
        var buffer = new float[batchSize * perExemplar];
        var batchFiles = new List<string>(batchSize);
        var n = 0;

        void Flush()
        {
            if (batchFiles.Count == 0)
            {
                return;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var shape = input.Shape.ToArray();
            shape[0] = batchFiles.Count;
            using var tensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, batchFiles.Count * perExemplar), shape);
            using var runOptions = new RunOptions();
            string[] names = extraOutput is null ? [model.Manifest.Output.Name] : [model.Manifest.Output.Name, extraOutput];
            using var outputs = model.Session.Run(runOptions, [input.Name], [tensor], names);
            onBatch(outputs[0].GetTensorDataAsSpan<float>(), extraOutput is null ? default : outputs[1].GetTensorDataAsSpan<float>(), batchFiles);
            n += batchFiles.Count;
            batchFiles.Clear();
            progress?.Report(n);
        }

        foreach (var file in files)
        {
            var slice = buffer.AsSpan(batchFiles.Count * perExemplar, perExemplar);
            var error = ImageDecoder.TryDecode(file, input, preprocess, slice);
            if (error is not null)
            {
                diagnostics.Add(DiagnosticCodes.ExemplarUnreadable, new SourceLocation(file), file, error);
                continue;
            }

            Perturb(slice, input, perturbation, file);

            batchFiles.Add(file);
            if (batchFiles.Count == batchSize)
            {
                Flush();
            }
        }

        Flush();
        return n;
    }

    /// <summary>Receives one batch's output rows, the inner tensor's rows, and the files.</summary>
    public delegate void PairAction(ReadOnlySpan<float> rows, ReadOnlySpan<float> extra, IReadOnlyList<string> files);

    /// <summary>Mirrors the image left to right, or adds seeded Gaussian noise (the seed comes from the file name, so runs repeat).</summary>
    private static void Perturb(Span<float> image, InputSpec input, Perturbation perturbation, string file)
    {
        switch (perturbation)
        {
            case Perturbation.Flip:
                for (var c = 0; c < input.Channels; c++)
                {
                    for (var y = 0; y < input.Height; y++)
                    {
                        for (int left = 0, right = input.Width - 1; left < right; left++, right--)
                        {
                            var a = Index(input, c, y, left);
                            var b = Index(input, c, y, right);
                            (image[a], image[b]) = (image[b], image[a]);
                        }
                    }
                }

                break;
            case Perturbation.Noise:
                var random = new Random(StableSeed(Path.GetFileName(file)));
                for (var i = 0; i < image.Length; i++)
                {
                    // Box-Muller.
                    var u1 = 1.0 - random.NextDouble();
                    var u2 = random.NextDouble();
                    image[i] += NoiseSigma * (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
                }

                break;
        }
    }

    // FNV-1a over the name: string.GetHashCode is randomised per process, and the noise must repeat across runs.
    private static int StableSeed(string name)
    {
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
    }

    private static int Index(InputSpec input, int c, int y, int x)
        => input.Layout == TensorLayout.Nchw ? (c * input.Height + y) * input.Width + x : (y * input.Width + x) * input.Channels + c;

    /// <summary>The index of the largest value.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var j = 1; j < values.Length; j++)
        {
            if (values[j] > values[best])
            {
                best = j;
            }
        }

        return best;
    }
}

/// <summary>A light change to an exemplar, to see whether forgetting holds beyond the exact images.</summary>
public enum Perturbation
{
    /// <summary>The exemplar as it is.</summary>
    None,

    /// <summary>Mirrored left to right.</summary>
    Flip,

    /// <summary>With seeded Gaussian noise added.</summary>
    Noise,
}
