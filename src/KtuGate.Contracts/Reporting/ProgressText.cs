using System.Globalization;
using System.Text;

namespace KtuGate.Reporting;

/// <summary>How a run's progress is worded: the one live line a terminal shows, and the plain lines a log gets (which the MSBuild task recognises).</summary>
public static class ProgressText
{
    /// <summary>Classifying exemplars.</summary>
    public const string Probing = "probing";

    /// <summary>Classifying exemplars while recording the edit site's inputs, which remediation edits from.</summary>
    public const string Recording = "recording";

    /// <summary>Remediation trying settings.</summary>
    public const string SearchingSettings = "searching settings";

    /// <summary>Classifying exemplars with the artifact remediation wrote: only a probed pass ships.</summary>
    public const string Verifying = "verifying";

    /// <summary>Writing the reports.</summary>
    public const string Writing = "writing";

    /// <summary>Every phase, as lines begin with it.</summary>
    public static IReadOnlyList<string> Phases { get; } = [Probing, Recording, SearchingSettings, Verifying, Writing];

    private const int PhaseWidth = 18, BarWidth = 24;

    /// <summary>
    /// The line a log gets for one report, or null where none is due: the start of a phase (or of a concept in it), e.g. "probing
    /// fashion-classifier.onnx: sneaker (300 exemplars)", and, while searching, each setting of a method, with the method's settings judged
    /// so far, e.g. "searching settings fashion-classifier.onnx: closed-form 3/12", and a deep setting's checkpoints, e.g. "searching settings
    /// fashion-classifier.onnx: nhl-kl 0/4, step 10 judged: 1 clause missed: KTU3001".
    /// </summary>
    /// <remarks>Model and concept names come from the command line and policies: made inert, so a name cannot forge a line or drive the terminal.</remarks>
    /// <param name="phase">One of <see cref="Phases"/>.</param>
    /// <param name="model">The model's file name (or the report folder, when writing).</param>
    /// <param name="concept">The concept probed, or the unlearning method whose settings are searched; empty for neither.</param>
    /// <param name="done">Exemplars (settings) done.</param>
    /// <param name="total">Exemplars (settings) in all; 0 for a phase without a count.</param>
    /// <param name="detail">While searching, the setting's last checkpoint; empty for none.</param>
    public static string? LogLine(string phase, string model, string concept, int done, int total, string detail = "")
    {
        if (phase == SearchingSettings && total > 0)
        {
            return TextSafety.Printable(string.Create(CultureInfo.InvariantCulture, $"{phase} {model}: {concept} {done}/{total}{(detail.Length > 0 ? ", " + detail : string.Empty)}"));
        }

        return done != 0 ? null
            : TextSafety.Printable(concept.Length == 0 ? $"{phase} {model}".TrimEnd() : string.Create(CultureInfo.InvariantCulture, $"{phase} {model}: {concept} ({total} exemplars)"));
    }

    /// <summary>Whether a line of the engine's standard error is a progress line (see <see cref="LogLine"/>).</summary>
    public static bool IsLogLine(string line) => Phases.Any(p => line.StartsWith(p + " ", StringComparison.Ordinal) || line == p);

    /// <summary>
    /// The live line, exactly <paramref name="width"/> characters so that each redraw covers the last: the phase, an overall bar, the count
    /// and the time left (or spent, for a phase without a count) in fixed columns, then what is being worked on.
    /// </summary>
    /// <param name="phase">One of <see cref="Phases"/>.</param>
    /// <param name="subject">What the phase works on, e.g. "fashion-classifier.onnx: sneaker".</param>
    /// <param name="done">Exemplars done in the pass.</param>
    /// <param name="total">Exemplars the pass has; 0 for a phase without a count.</param>
    /// <param name="elapsed">Time since the pass began.</param>
    /// <param name="width">The terminal's width.</param>
    public static string LiveLine(string phase, string subject, int done, int total, TimeSpan elapsed, int width)
    {
        var s = new StringBuilder(phase.PadRight(PhaseWidth)).Append(' ');
        if (total > 0)
        {
            var filled = (int)Math.Round(BarWidth * Math.Clamp((double)done / total, 0, 1));
            var count = string.Create(CultureInfo.InvariantCulture, $"{done}/{total}");
            var eta = done == 0 ? "--:--" : Clock(TimeSpan.FromTicks((long)(elapsed.Ticks * (double)(total - done) / done)));
            s.Append('[').Append('#', filled).Append('-', BarWidth - filled).Append("] ").Append(count.PadLeft(11)).Append(" ETA ").Append(eta.PadLeft(7));
        }
        else
        {
            s.Append('[').Append(' ', BarWidth).Append("] ").Append(' ', 11).Append(" for ").Append(Clock(elapsed).PadLeft(7));
        }

        s.Append("  ").Append(TextSafety.Printable(subject));
        var line = s.ToString();
        return line.Length >= width ? line[..Math.Max(0, width)] : line.PadRight(width);
    }

    /// <summary>
    /// The line left when Ctrl+C stops a run, e.g. "stopped while probing fashion-classifier.onnx: sneaker at 128/1500 exemplars; nothing was
    /// written" (while searching, the count is of settings).
    /// </summary>
    public static string Stopped(string phase, string subject, int done, int total)
        => TextSafety.Printable($"stopped while {phase} {subject}".TrimEnd()
            + (total > 0 ? string.Create(CultureInfo.InvariantCulture, $" at {done}/{total} {(phase == SearchingSettings ? "settings" : "exemplars")}") : string.Empty)
            + "; nothing was written");

    private static string Clock(TimeSpan t)
        => t.TotalHours >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}") : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
}
