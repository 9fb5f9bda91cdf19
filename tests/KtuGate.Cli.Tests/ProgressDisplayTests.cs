using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using KtuGate.Tests;

namespace KtuGate.Cli.Tests;

/// <summary><c>ktu check</c> and <c>ktu unlearn</c> on a real terminal (a pseudo-terminal from util-linux <c>script</c>) and in a log.</summary>
public sealed class ProgressDisplayTests
{
    private const int Columns = 120;

    private static readonly string[] s_check = ["check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json", "--execution-provider", "cpu"];

    [Fact]
    public void On_a_terminal_one_line_is_redrawn_in_place_with_phase_bar_count_and_time_left()
    {
        using var temp = new TempFolder();
        var (exit, output) = OnTerminal([.. s_check, "--report-dir", temp.Path]);

        Assert.Equal(1, exit);
        var frames = output.Split('\r').Where(f => f.StartsWith("probing ", StringComparison.Ordinal) || f.StartsWith("writing ", StringComparison.Ordinal)).ToList();
        Assert.Contains(frames, f => f.StartsWith("probing ", StringComparison.Ordinal));
        Assert.Contains(frames, f => f.StartsWith("writing ", StringComparison.Ordinal));

        // One overall count for the run (five concepts of 300), its time left, and every frame as wide as the terminal allows: a stable line.
        Assert.Contains(frames, f => f.Contains("[########################]   1500/1500 ETA    0:00  fashion-classifier.onnx: bag", StringComparison.Ordinal));
        Assert.Contains(frames, f => Regex.IsMatch(f, @"\[#*-+\] +\d+/1500 ETA +\d+:\d\d  fashion-classifier\.onnx: "));
        Assert.All(frames, f => Assert.Equal(Columns - 1, f.TrimEnd('\n').Length));

        // The line is cleared before the results, and nothing of the log's plain lines is written.
        Assert.DoesNotContain("probing fashion-classifier.onnx: sneaker (300 exemplars)", output, StringComparison.Ordinal);
        Assert.Contains("Verdict: FAIL", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Unlearn_on_a_terminal_counts_the_settings_it_searches()
    {
        using var temp = new TempFolder();
        var (exit, output) = OnTerminal(["unlearn", .. s_check[1..], "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", temp.Path]);

        Assert.Equal(0, exit);
        var searching = output.Split('\r').Where(f => f.StartsWith("searching settings ", StringComparison.Ordinal)).ToList();
        Assert.Contains(searching, f => Regex.IsMatch(f, @"^searching settings \[-{24}\] +0/\d+ ETA +--:--  fashion-classifier\.onnx: closed-form +$"));
        Assert.All(searching, f => Assert.Equal(Columns - 1, f.TrimEnd('\n').Length));
    }

    [Fact]
    public void In_a_log_each_phase_is_one_plain_line_and_nothing_is_redrawn()
    {
        using var temp = new TempFolder();
        var (exit, stdout, stderr) = KtuCommandTests.KtuWith(TestPaths.Sample(), [], ["unlearn", .. s_check[1..], "--report-dir", Path.Combine(temp.Path, "report"), "--output-dir", temp.Path]);

        Assert.Equal(0, exit);
        Assert.Contains("recording fashion-classifier.onnx: sneaker (300 exemplars)\n", stderr, StringComparison.Ordinal);
        Assert.Contains("searching settings fashion-classifier.onnx\n", stderr, StringComparison.Ordinal);
        Assert.Matches(@"\nsearching settings fashion-classifier\.onnx: closed-form 0/\d+\n", stderr);
        Assert.Contains($"writing {Path.Combine(temp.Path, "report")}\n", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", stderr + stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ETA", stderr + stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Ctrl_c_on_a_terminal_leaves_a_stopped_line_and_no_report()
    {
        using var temp = new TempFolder();
        var report = Path.Combine(temp.Path, "report");

        // Ctrl+C typed at the terminal as soon as the live line shows the first phase: the terminal sends SIGINT, as it does for a
        // person. The run must still be going when a loaded machine gets round to reading the output: the default remediation ends in
        // about 4 s even at one exemplar per call, so this one trains a layer below the last (scope conv1, every nhl-kl setting: about
        // 25 s on 2 cores) and reads one exemplar per inference call.
        var (exit, output) = OnTerminal(
            ["unlearn", .. s_check[1..], "--batch-size", "1", "--method", "nhl-kl", "--scope", "conv1", "--report-dir", report, "--output-dir", temp.Path],
            seen => seen.Contains("recording ", StringComparison.Ordinal));

        Assert.True(exit == 130, $"exit {exit}, expected 130 (cancelled); what the terminal showed:\n{output}");
        Assert.Matches(@"stopped while (probing|recording|searching settings|writing|verifying) fashion-classifier\.onnx: [a-z-]+ at \d+/\d+ (exemplars|settings); nothing was written", output);
        Assert.False(Directory.Exists(report) && Directory.EnumerateFiles(report).Any(), "a stopped run wrote a report");
        Assert.False(File.Exists(Path.Combine(temp.Path, "fashion-classifier.onnx")));
    }

    [Fact]
    public async Task Sigterm_while_a_setting_trains_through_the_network_stops_it_says_where_and_leaves_the_output_folder_as_it_was()
    {
        using var temp = new TempFolder();
        var report = Path.Combine(temp.Path, "report");
        var output = Path.Combine(temp.Path, "out");

        // CI runners and container stops send SIGTERM, not Ctrl+C. It is sent once a setting trained through the network (scope conv1) has
        // begun, in a log (no terminal): the run must stop as for Ctrl+C, not die with its staging folder left in the output folder.
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = TestPaths.Sample(), RedirectStandardOutput = true, RedirectStandardError = true };
        string[] arguments = [TestPaths.EnginePath, "unlearn", .. s_check[1..], "--method", "nhl-kl", "--scope", "conv1", "--report-dir", report, "--output-dir", output];
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var seen = new StringBuilder();
        var sent = false;
        while (await process.StandardError.ReadLineAsync() is { } line)
        {
            seen.AppendLine(line);
            if (!sent && line.StartsWith("searching settings fashion-classifier.onnx: nhl-kl ", StringComparison.Ordinal))
            {
                sent = true;
                Assert.Equal(0, ExternalTools.Run("kill", "-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ExitCode);
            }
        }

        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "ktu did not stop");
        Assert.True(sent, "the run ended before a setting began:\n" + seen);
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}, expected 130 (cancelled):\n{seen}{await stdout}");
        Assert.Matches(@"stopped while searching settings fashion-classifier\.onnx: nhl-kl(, step \d+ judged: [^\n]*)? at \d+/4 settings; nothing was written", seen.ToString());
        Assert.False(Directory.Exists(report) && Directory.EnumerateFiles(report).Any(), "a stopped run wrote a report");
        Assert.False(Directory.Exists(output), "the output folder the run created (with its staging folder) was left behind");
    }

    /// <summary>Runs ktu in the sample project under a pseudo-terminal <see cref="Columns"/> wide; types Ctrl+C once <paramref name="interruptWhen"/> holds for the output so far.</summary>
    private static (int ExitCode, string Output) OnTerminal(string[] arguments, Func<string, bool>? interruptWhen = null)
    {
        static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        // SIGINT back to its default for ktu: a test run started in the background of a non-interactive shell inherits it ignored, and
        // ktu then rightly ignores Ctrl+C as nohup'd programs do (a person's terminal never starts it so).
        var command = $"stty cols {Columns}; exec env --default-signal=INT dotnet {Quote(TestPaths.EnginePath)} {string.Join(' ', arguments.Select(Quote))}";
        var start = new ProcessStartInfo("script", ["-qfec", command, "/dev/null"])
        {
            WorkingDirectory = TestPaths.Sample(),
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var interrupted = false;
        var reader = Task.Run(() =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = process.StandardOutput.Read(buffer)) > 0)
            {
                output.Append(buffer, 0, read);
                if (!interrupted && interruptWhen?.Invoke(output.ToString()) == true)
                {
                    interrupted = true;
                    process.StandardInput.Write('\u0003');
                    process.StandardInput.Flush();
                }
            }
        });
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "ktu did not finish");
        reader.Wait();
        Assert.True(interruptWhen is null || interrupted, "the run ended before Ctrl+C could be typed:\n" + output);
        return (process.ExitCode, output + stderr.Result);
    }
}
