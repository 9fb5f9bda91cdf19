using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

/// <summary>What the gate tells a progress display, and the line a terminal shows for it.</summary>
public sealed class ProgressTests
{
    [Fact]
    public void Live_line_has_fixed_columns_an_overall_bar_the_count_and_the_time_left()
    {
        var line = ProgressText.LiveLine(ProgressText.Probing, "fashion-classifier.onnx: sneaker", 300, 1200, TimeSpan.FromSeconds(10), 120);

        Assert.Equal(120, line.Length);
        const string expected = "probing            [######------------------]    300/1200 ETA    0:30  fashion-classifier.onnx: sneaker";
        Assert.Equal(expected, line[..expected.Length]);

        // Another phase, count and name keep every column where it was: a redraw never shifts the line.
        var later = ProgressText.LiveLine(ProgressText.Recording, "fashion-clip.onnx: general: ankle boot", 1199, 1200, TimeSpan.FromMinutes(75), 120);
        Assert.Equal(line.IndexOf(']', StringComparison.Ordinal), later.IndexOf(']', StringComparison.Ordinal));
        Assert.Equal(line.IndexOf("ETA", StringComparison.Ordinal), later.IndexOf("ETA", StringComparison.Ordinal));
        Assert.Contains("1199/1200 ETA    0:03", later, StringComparison.Ordinal);

        // A phase without a count says how long it has run; a narrow terminal gets a cut line, never a wrapped one.
        var searching = ProgressText.LiveLine(ProgressText.SearchingSettings, "fashion-classifier.onnx", 0, 0, TimeSpan.FromSeconds(65), 120);
        const string expectedSearching = "searching settings [                        ]             for    1:05  fashion-classifier.onnx ";
        Assert.Equal(expectedSearching, searching[..expectedSearching.Length]);
        Assert.Equal(line.IndexOf(']', StringComparison.Ordinal), searching.IndexOf(']', StringComparison.Ordinal));
        Assert.Equal(60, ProgressText.LiveLine(ProgressText.Probing, "fashion-classifier.onnx: sneaker", 300, 1200, TimeSpan.FromSeconds(10), 60).Length);
    }

    [Fact]
    public void Searching_settings_shows_the_method_s_settings_judged_of_its_settings_live_in_a_log_and_when_stopped()
    {
        var line = ProgressText.LiveLine(ProgressText.SearchingSettings, "fashion-classifier.onnx: closed-form", 3, 12, TimeSpan.FromSeconds(6), 120);
        const string expected = "searching settings [######------------------]        3/12 ETA    0:18  fashion-classifier.onnx: closed-form";
        Assert.Equal(expected, line[..expected.Length]);

        // Each setting gets its own line in a log (which the MSBuild task logs as progress); the announcement before the first has no count.
        Assert.Equal("searching settings fashion-classifier.onnx: closed-form 3/12", ProgressText.LogLine(ProgressText.SearchingSettings, "fashion-classifier.onnx", "closed-form", 3, 12));
        Assert.Equal("searching settings fashion-classifier.onnx", ProgressText.LogLine(ProgressText.SearchingSettings, "fashion-classifier.onnx", string.Empty, 0, 0));
        Assert.True(ProgressText.IsLogLine("searching settings fashion-classifier.onnx: closed-form 3/12"));

        // A setting trained through the network can run for minutes: each of its checkpoints gets a line too.
        var checkpoint = ProgressText.LogLine(ProgressText.SearchingSettings, "resnet-clip.onnx", "nhl-kl", 0, 4, "step 10 judged: 2 clauses missed: KTU3001, KTU3004");
        Assert.Equal("searching settings resnet-clip.onnx: nhl-kl 0/4, step 10 judged: 2 clauses missed: KTU3001, KTU3004", checkpoint);
        Assert.True(ProgressText.IsLogLine(checkpoint!));

        // Probing still logs a concept once, at its start.
        Assert.Equal("probing m.onnx: bag (300 exemplars)", ProgressText.LogLine(ProgressText.Probing, "m.onnx", "bag", 0, 300));
        Assert.Null(ProgressText.LogLine(ProgressText.Probing, "m.onnx", "bag", 64, 300));

        Assert.Equal("stopped while searching settings m.onnx: nhl-kl at 2/9 settings; nothing was written", ProgressText.Stopped(ProgressText.SearchingSettings, "m.onnx: nhl-kl", 2, 9));
    }

    [Fact]
    public void Live_line_and_stopped_line_make_names_inert()
    {
        var line = ProgressText.LiveLine(ProgressText.Probing, "evil\u001b[2J\r.onnx", 1, 2, TimeSpan.Zero, 200);
        Assert.DoesNotContain("\u001b", line, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", line, StringComparison.Ordinal);
        Assert.Equal(@"stopped while probing evil\u001B[2J.onnx: bag at 64/300 exemplars; nothing was written", ProgressText.Stopped(ProgressText.Probing, "evil\u001b[2J.onnx: bag", 64, 300));
    }

    [Fact]
    public void Remediate_reports_its_phases_in_order_and_counts_the_whole_pass()
    {
        using var temp = new TempFolder();
        var seen = new List<ProbeProgress>();
        var result = Gate.Run(new GateRequest([new GateModelInput(TestPaths.SampleModel, TestPaths.SampleManifest)], [TestPaths.SamplePolicy], Path.Combine(temp.Path, "report"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            Mode = GateMode.Remediate,
            OutputDirectory = temp.Path,
            BaseDirectory = TestPaths.Sample(),
            Progress = new SyncProgress(seen.Add),
        });

        Assert.Equal(GateOutcome.Pass, result.Outcome);
        Assert.Equal([ProgressText.Recording, ProgressText.SearchingSettings, ProgressText.Verifying, ProgressText.Writing], seen.Select(p => p.Phase).Distinct());

        // Recording (the verify pass of Remediate) counts every exemplar of its five concepts towards one end, reached at its last report.
        var recording = seen.Where(p => p.Phase == ProgressText.Recording).ToList();
        Assert.All(recording, p => Assert.Equal(1500, p.PassTotal));
        Assert.Equal(1500, recording[^1].PassDone);
        Assert.True(recording.Zip(recording.Skip(1)).All(pair => pair.Second.PassDone >= pair.First.PassDone), "the overall count never goes back within a pass");
        Assert.All(seen.Where(p => p.Phase is ProgressText.Writing), p => Assert.Equal(0, p.PassTotal));

        // Searching announces itself once (while the judge is set up), then counts each method's settings as it tries them.
        var searching = seen.Where(p => p.Phase == ProgressText.SearchingSettings).ToList();
        Assert.Equal((string.Empty, 0), (searching[0].Concept, searching[0].PassTotal));
        var settings = searching.Skip(1).ToList();
        Assert.NotEmpty(settings);
        Assert.All(settings, p => Assert.True(p is { Concept: "closed-form", Total: > 1 } && p.PassTotal == p.Total && p.PassDone == p.Done && p.Done < p.Total, $"{p}"));
        Assert.Equal(Enumerable.Range(0, settings.Count), settings.Select(p => p.Done));

        // Verifying (the written artifact probed on the held-out exemplars) counts its own pass, once the search kept a setting.
        var verifying = seen.Where(p => p.Phase == ProgressText.Verifying).ToList();
        Assert.True(verifying.Count > 0 && verifying[^1].PassDone == verifying[^1].PassTotal && verifying[^1].PassTotal is > 0 and < 1500, $"{verifying.Count} reports");
        Assert.True(seen.IndexOf(verifying[0]) > seen.FindLastIndex(p => p.Phase == ProgressText.SearchingSettings), "verifying follows the search");
    }
}
