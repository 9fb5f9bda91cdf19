using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using KtuGate.Diagnostics;
using KtuGate.Models;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>
/// Streams exemplar images through an image model one batch at a time, decoding the next batch while the model runs the current one:
/// memory holds <see cref="Buffers"/> batches, however many exemplars there are.
/// </summary>
/// <remarks>
/// Decoding (SkiaSharp) and inference (ONNX Runtime) overlap: a decoder task fills one buffer while the caller's thread runs the model on
/// the other. The decoder never touches the diagnostics or the caller's callback: each batch carries its own decode errors, added on the
/// caller's thread just before that batch runs, so diagnostics, callbacks and progress come in the same order as a plain loop gives.
/// </remarks>
internal static class ImageBatches
{
    /// <summary>Standard deviation of the noise <see cref="Perturbation.Noise"/> adds, in the model's normalised input units.</summary>
    public const float NoiseSigma = 0.1f;

    /// <summary>How many batch buffers exist at once: one being run, one being decoded.</summary>
    public const int Buffers = 2;

    /// <summary>One decoded batch: its values, the files in it, and the files before it that could not be decoded.</summary>
    private sealed record DecodedBatch(float[] Buffer, List<string> Files, List<(string File, string Error)> Unreadable);

    /// <summary>Decodes the files in batches, runs the model on each and hands its output rows (and, if asked, an inner tensor's) to <paramref name="onBatch"/>.</summary>
    /// <param name="model">The image model.</param>
    /// <param name="files">The exemplars; undecodable ones are reported (KTU2008) and skipped. Enumerated on the decoder task.</param>
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
        var perExemplar = input.Channels * input.Height * input.Width;
        string[] names = extraOutput is null ? [model.Manifest.Output.Name] : [model.Manifest.Output.Name, extraOutput];
        var n = 0;

        // The decoder stops when this run stops, for whatever reason (cancellation, a failed batch, the callback throwing).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var ready = new BlockingCollection<DecodedBatch>(boundedCapacity: 1);
        using var free = new BlockingCollection<float[]>(Buffers);
        for (var b = 0; b < Buffers; b++)
        {
            free.Add(new float[batchSize * perExemplar]);
        }

        var decoder = Task.Run(() => Decode(files, batchSize, input, model.Manifest.Preprocess!, perturbation, perExemplar, free, ready, stop.Token), CancellationToken.None);
        try
        {
            foreach (var batch in ready.GetConsumingEnumerable(stop.Token))
            {
                foreach (var (file, error) in batch.Unreadable)
                {
                    diagnostics.Add(DiagnosticCodes.ExemplarUnreadable, new SourceLocation(file), file, error);
                }

                if (batch.Files.Count > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var shape = input.Shape.ToArray();
                    shape[0] = batch.Files.Count;
                    using (var tensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.Buffer.AsMemory(0, batch.Files.Count * perExemplar), shape))
                    using (var runOptions = new RunOptions())
                    using (var outputs = model.Session.Run(runOptions, [input.Name], [tensor], names))
                    {
                        onBatch(outputs[0].GetTensorDataAsSpan<float>(), extraOutput is null ? default : outputs[1].GetTensorDataAsSpan<float>(), batch.Files);
                    }

                    n += batch.Files.Count;
                    progress?.Report(n);
                }

                free.Add(batch.Buffer, stop.Token);
            }
        }
        finally
        {
            stop.Cancel();
            try
            {
                decoder.Wait(CancellationToken.None);
            }
            catch (AggregateException)
            {
                // Observed below where it is the run's failure; otherwise the run's own exception is already on its way.
            }
        }

        // A decoder that failed (an enumeration or decoding that threw) ended the batches early: its exception is the run's.
        if (decoder.Exception?.InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return n;
    }

    /// <summary>The decoder task: fills free buffers with decoded, perturbed exemplars and hands each full (or last) batch over.</summary>
    private static void Decode(
        IEnumerable<string> files, int batchSize, InputSpec input, PreprocessSpec preprocess, Perturbation perturbation, int perExemplar,
        BlockingCollection<float[]> free, BlockingCollection<DecodedBatch> ready, CancellationToken stop)
    {
        try
        {
            var batch = new DecodedBatch(free.Take(stop), new List<string>(batchSize), []);
            foreach (var file in files)
            {
                stop.ThrowIfCancellationRequested();
                var slice = batch.Buffer.AsSpan(batch.Files.Count * perExemplar, perExemplar);
                var error = ImageDecoder.TryDecode(file, input, preprocess, slice);
                if (error is not null)
                {
                    batch.Unreadable.Add((file, error));
                    continue;
                }

                Perturb(slice, input, perturbation, file);
                batch.Files.Add(file);
                if (batch.Files.Count == batchSize)
                {
                    ready.Add(batch, stop);
                    batch = new DecodedBatch(free.Take(stop), new List<string>(batchSize), []);
                }
            }

            // The last, partial batch (or only the unreadable files after the last full one).
            ready.Add(batch, stop);
        }
        finally
        {
            ready.CompleteAdding();
        }
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
