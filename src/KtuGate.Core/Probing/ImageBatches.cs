using KtuGate.Diagnostics;
using KtuGate.Models;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>Streams exemplar images through an image model one batch at a time: memory holds one batch, however many exemplars there are.</summary>
internal static class ImageBatches
{
    /// <summary>Decodes the files in batches, runs the model on each and hands its output rows to <paramref name="onBatch"/>.</summary>
    /// <param name="model">The image model.</param>
    /// <param name="files">The exemplars; undecodable ones are reported (KTU2008) and skipped.</param>
    /// <param name="batchSize">Exemplars per inference call.</param>
    /// <param name="diagnostics">Receives KTU2008.</param>
    /// <param name="progress">Told how many exemplars have been run, after each batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <param name="onBatch">Gets the output (rows of <see cref="LoadedModel.OutputWidth"/> floats) and the batch's files.</param>
    /// <returns>How many exemplars were run.</returns>
    public static int Run(
        LoadedModel model, IEnumerable<string> files, int batchSize, DiagnosticBag diagnostics, IProgress<int>? progress,
        CancellationToken cancellationToken, SpanAction onBatch)
        => Run(model, files, batchSize, diagnostics, progress, cancellationToken, null, (rows, _, batch) => onBatch(rows, batch));

    /// <summary>As <see cref="Run(LoadedModel, IEnumerable{string}, int, DiagnosticBag, IProgress{int}?, CancellationToken, SpanAction)"/>, also fetching the inner tensor <paramref name="extraOutput"/> (a graph output the model was given for it).</summary>
    public static int Run(
        LoadedModel model, IEnumerable<string> files, int batchSize, DiagnosticBag diagnostics, IProgress<int>? progress,
        CancellationToken cancellationToken, string? extraOutput, PairAction onBatch)
    {
        var input = model.Manifest.Input;
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
            var error = ImageDecoder.TryDecode(file, input, model.Manifest.Preprocess, buffer.AsSpan(batchFiles.Count * perExemplar, perExemplar));
            if (error is not null)
            {
                diagnostics.Add(DiagnosticCodes.ExemplarUnreadable, new SourceLocation(file), file, error);
                continue;
            }

            batchFiles.Add(file);
            if (batchFiles.Count == batchSize)
            {
                Flush();
            }
        }

        Flush();
        return n;
    }

    /// <summary>Receives one batch's output rows and files.</summary>
    public delegate void SpanAction(ReadOnlySpan<float> rows, IReadOnlyList<string> files);

    /// <summary>Receives one batch's output rows, the inner tensor's rows, and the files.</summary>
    public delegate void PairAction(ReadOnlySpan<float> rows, ReadOnlySpan<float> extra, IReadOnlyList<string> files);

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
