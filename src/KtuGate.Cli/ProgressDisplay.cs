using System.Diagnostics;
using KtuGate.Reporting;

namespace KtuGate.Cli;

/// <summary>Shows a run's progress: on a terminal one line redrawn in place (phase, overall bar, count, time left); in a log a line per phase and concept, and per setting searched.</summary>
/// <param name="writer">Standard error.</param>
/// <param name="live">Whether to redraw one line (a terminal) rather than write plain lines (a log).</param>
/// <param name="width">The terminal's width, read at each redraw so that a resized window still gets one line.</param>
internal sealed class ProgressDisplay(TextWriter writer, bool live, Func<int> width)
{
    private readonly Stopwatch _pass = new();
    private ProbeProgress? _last;
    private int _drawn;

    /// <summary>Takes one report from the gate.</summary>
    public void Report(ProbeProgress p)
    {
        // A pass starts over at 0; so does each phase without a count: time left is estimated from the current pass alone.
        if (_last is null || p.Phase != _last.Phase || p.Model != _last.Model || p.PassDone < _last.PassDone)
        {
            _pass.Restart();
        }

        if (!live)
        {
            if (ProgressText.LogLine(p.Phase, p.Model, p.Concept, p.Done, p.Total, p.Detail) is { } line)
            {
                writer.WriteLine(line);
            }
        }
        else
        {
            var line = ProgressText.LiveLine(p.Phase, Subject(p), p.PassDone, p.PassTotal, _pass.Elapsed, width());
            writer.Write('\r' + line);
            _drawn = line.Length;
        }

        _last = p;
    }

    /// <summary>Removes the live line once the run is over, so the results print on a clean line.</summary>
    public void Clear()
    {
        if (live && _drawn > 0)
        {
            writer.Write('\r' + new string(' ', _drawn) + '\r');
            _drawn = 0;
        }
    }

    /// <summary>Replaces the live line with where the run stopped (Ctrl+C).</summary>
    public void Stopped()
    {
        Clear();
        writer.WriteLine(_last is null ? "stopped; nothing was written" : ProgressText.Stopped(_last.Phase, Subject(_last), _last.PassDone, _last.PassTotal));
    }

    private static string Subject(ProbeProgress p) => (p.Concept.Length == 0 ? p.Model : $"{p.Model}: {p.Concept}") + (p.Detail.Length == 0 ? string.Empty : $", {p.Detail}");
}
