using KtuGate.Diagnostics;
using KtuGate.Models;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Probing;

/// <summary>What a classifier predicted for a set of exemplars: how many went to each label.</summary>
/// <param name="N">Exemplars that were decoded and classified.</param>
/// <param name="PredictedCounts">For each label index, how many exemplars were predicted as it.</param>
/// <param name="Samples">Up to a few exemplar files per predicted label, in probing order, for reports to show.</param>
public sealed record ProbeTally(int N, IReadOnlyList<int> PredictedCounts, IReadOnlyList<IReadOnlyList<string>> Samples);

/// <summary>Runs exemplar images through a classifier in batches and counts its predictions.</summary>
/// <remarks>Exemplars are streamed: memory holds one batch, however many exemplars there are.</remarks>
public sealed class ClassifierProbe
{
    private const int SamplesPerLabel = 4;
    private readonly LoadedModel _model;
    private readonly int _batchSize;

    /// <summary>Makes a probe over an open model.</summary>
    /// <param name="model">The model; the probe does not own it.</param>
    /// <param name="batchSize">Exemplars per inference call.</param>
    public ClassifierProbe(LoadedModel model, int batchSize = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _model = model;
        _batchSize = batchSize;
    }

    /// <summary>Classifies every exemplar and counts the predictions; undecodable files are reported (KTU2008) and left out of n.</summary>
    /// <param name="files">The exemplar files, read one batch at a time.</param>
    /// <param name="diagnostics">Receives KTU2008 for each file that is not a readable image.</param>
    /// <param name="progress">Told how many exemplars have been classified, after every batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    public ProbeTally Probe(IEnumerable<string> files, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var manifest = _model.Manifest;
        var input = manifest.Input;
        var perExemplar = input.Channels * input.Height * input.Width;
        var labels = manifest.Labels.Count;
        var counts = new int[labels];
        var samples = Enumerable.Range(0, labels).Select(_ => new List<string>()).ToArray();
        var buffer = new float[_batchSize * perExemplar];
        var batchFiles = new List<string>(_batchSize);
        var n = 0;

        void Flush()
        {
            if (batchFiles.Count == 0)
            {
                return;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var predictions = Predict(buffer, batchFiles.Count, perExemplar, labels);
            for (var i = 0; i < predictions.Length; i++)
            {
                counts[predictions[i]]++;
                if (samples[predictions[i]].Count < SamplesPerLabel)
                {
                    samples[predictions[i]].Add(batchFiles[i]);
                }
            }

            n += batchFiles.Count;
            batchFiles.Clear();
            progress?.Report(n);
        }

        foreach (var file in files)
        {
            var slice = buffer.AsSpan(batchFiles.Count * perExemplar, perExemplar);
            var error = ImageDecoder.TryDecode(file, input, manifest.Preprocess, slice);
            if (error is not null)
            {
                diagnostics.Add(DiagnosticCodes.ExemplarUnreadable, new SourceLocation(file), file, error);
                continue;
            }

            batchFiles.Add(file);
            if (batchFiles.Count == _batchSize)
            {
                Flush();
            }
        }

        Flush();
        return new ProbeTally(n, counts, samples);
    }

    private int[] Predict(float[] buffer, int count, int perExemplar, int labels)
    {
        var input = _model.Manifest.Input;
        var shape = input.Shape.ToArray();
        shape[0] = count;
        using var tensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, count * perExemplar), shape);
        using var runOptions = new RunOptions();
        using var outputs = _model.Session.Run(runOptions, [input.Name], [tensor], [_model.Manifest.Output.Name]);
        var scores = outputs[0].GetTensorDataAsSpan<float>();
        var predictions = new int[count];
        for (var i = 0; i < count; i++)
        {
            var row = scores.Slice(i * labels, labels);
            var best = 0;
            for (var j = 1; j < labels; j++)
            {
                if (row[j] > row[best])
                {
                    best = j;
                }
            }

            predictions[i] = best;
        }

        return predictions;
    }
}
