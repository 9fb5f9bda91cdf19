using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>
/// The image probe decodes the next batch while ONNX Runtime runs the current one (<see cref="ImageBatches"/>): on the real FashionGate
/// classifier, what a caller sees must be what the plain decode-then-run loop gave, and every way a run can end must end it.
/// </summary>
public sealed class ImagePipelineTests
{
    private static LoadedModel OpenSample(DiagnosticBag diagnostics) => ProbeTests.OpenSample(diagnostics, ExecutionProviderPreference.Cpu);

    private static string[] Sneakers(int count) => [.. ProbeTests.Exemplars("sneaker").Take(count)];

    [Fact]
    public void Decode_errors_batches_and_progress_come_in_the_order_of_the_files_on_the_callers_thread()
    {
        using var temp = new TempFolder();
        var good = Sneakers(5);
        var bad1 = temp.File("bad1.png", "not an image");
        var bad2 = temp.File("bad2.png", "not an image either");
        string[] files = [good[0], good[1], bad1, good[2], good[3], good[4], bad2];
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var caller = Environment.CurrentManagedThreadId;
        var events = new List<string>();
        var progress = new SynchronousProgress(n => events.Add($"progress {n} after {diagnostics.Items.Count} errors"));

        var n = ImageBatches.Run(model, files, 2, diagnostics, progress, CancellationToken.None, null, (rows, _, batch) =>
        {
            Assert.Equal(caller, Environment.CurrentManagedThreadId);
            Assert.Equal(batch.Count * model.Manifest.Labels.Count, rows.Length);
            events.Add($"batch {string.Join(",", batch.Select(f => Array.IndexOf(files, f)))} after {diagnostics.Items.Count} errors");
        });

        Assert.Equal(5, n);
        Assert.Equal(
            [
                "batch 0,1 after 0 errors", "progress 2 after 0 errors",
                "batch 3,4 after 1 errors", "progress 4 after 1 errors",
                "batch 5 after 2 errors", "progress 5 after 2 errors",
            ],
            events);
        Assert.Equal([bad1, bad2], diagnostics.Items.Where(d => d.Code == "KTU2008").Select(d => d.Location!.File));
    }

    [Fact]
    public void Pipelined_predictions_equal_one_exemplar_at_a_time()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var files = Sneakers(67);
        float[] Rows(int batchSize)
        {
            var all = new List<float>();
            ImageBatches.Run(model, files, batchSize, diagnostics, null, CancellationToken.None, null, (rows, _, _) => all.AddRange(rows.ToArray()));
            return [.. all];
        }

        var one = Rows(1);
        var many = Rows(16);

        Assert.Equal(67 * model.Manifest.Labels.Count, many.Length);
        Assert.Equal(one.Length, many.Length);
        Assert.All(one.Zip(many), p => Assert.Equal(p.First, p.Second, 1e-4f));
    }

    [Fact]
    public void A_file_list_that_throws_surfaces_its_own_exception_after_the_batches_before_it()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var good = Sneakers(4);
        IEnumerable<string> Files()
        {
            foreach (var file in good)
            {
                yield return file;
            }

            throw new IOException("the exemplar folder went away");
        }

        var ran = new List<int>();
        var thrown = Assert.Throws<IOException>(() => ImageBatches.Run(model, Files(), 2, diagnostics, null, CancellationToken.None, null, (_, _, batch) => ran.Add(batch.Count)));

        Assert.Equal("the exemplar folder went away", thrown.Message);
        Assert.Equal([2, 2], ran);
    }

    [Fact]
    public void A_callback_that_throws_or_a_cancellation_stops_the_decoder_too()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var files = Sneakers(40);
        var decoded = 0;
        IEnumerable<string> Counted()
        {
            foreach (var file in files)
            {
                Interlocked.Increment(ref decoded);
                yield return file;
            }
        }

        Assert.Throws<InvalidOperationException>(() => ImageBatches.Run(model, Counted(), 4, diagnostics, null, CancellationToken.None, null, (_, _, _) => throw new InvalidOperationException("stop")));

        // The decoder is at most the buffers ahead of the failed batch, and the run returned only after it stopped.
        var afterFailure = Volatile.Read(ref decoded);
        Assert.InRange(afterFailure, 4, 4 * (ImageBatches.Buffers + 1) + 1);

        using var cancel = new CancellationTokenSource();
        var batches = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => ImageBatches.Run(model, files, 4, diagnostics, null, cancel.Token, null, (_, _, _) =>
        {
            batches++;
            cancel.Cancel();
        }));
        Assert.Equal(1, batches);
        Assert.Empty(diagnostics.Items);
    }

    /// <summary>Reports on the thread that reports (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
