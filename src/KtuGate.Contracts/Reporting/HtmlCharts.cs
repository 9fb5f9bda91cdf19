using System.Globalization;
using System.Text;
using KtuGate.Policies;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>The HTML report's inline SVG charts: accuracy bars with their intervals and thresholds, and quality against utility.</summary>
internal static class HtmlCharts
{
    private const int PlotWidth = 360, ValueWidth = 56, Row = 24, AxisHeight = 34;

    /// <summary>One bar: a rate with its interval, coloured by the status of the clauses judged on it.</summary>
    /// <param name="Label">What the bar measures.</param>
    /// <param name="Rate">The rate, with its 95% interval as the whisker.</param>
    /// <param name="Status">"pass", "fail", "undecided" (insufficient evidence, not checked) or "none" (no clause judges it).</param>
    /// <param name="Baseline">The baseline artifact's rate, drawn as a pale bar behind.</param>
    /// <param name="Thresholds">Each threshold on it, with "forget" or "retain" for its colour.</param>
    internal sealed record Bar(string Label, RateInfo Rate, string Status, RateInfo? Baseline, IReadOnlyList<(double Value, string Kind)> Thresholds);

    /// <summary>A point of the quality/utility chart.</summary>
    /// <param name="Label">What it is: a policy, or a remediation setting.</param>
    /// <param name="Quality">Q.</param>
    /// <param name="Utility">U.</param>
    /// <param name="Status">"pass", "fail" or "tried" (a remediation setting other than the one kept).</param>
    internal sealed record Point(string Label, double Quality, double Utility, string Status);

    /// <summary>Horizontal bars on a 0-1 axis, each with its interval whisker, baseline and threshold ticks, its value printed at the end.</summary>
    public static string Bars(string title, IReadOnlyList<Bar> bars)
    {
        var left = Math.Clamp(bars.Max(b => b.Label.Length) * 7 + 12, 80, 300);
        var width = left + PlotWidth + ValueWidth;
        var height = bars.Count * Row + AxisHeight;
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" role=\"img\" aria-label=\"{Html(title)}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n");
        Axis(s, left, bars.Count * Row, "accuracy (share of exemplars)");
        for (var i = 0; i < bars.Count; i++)
        {
            var bar = bars[i];
            var y = i * Row + 3;
            var mid = y + 9;
            s.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{mid + 4}\" class=\"label\">{Html(bar.Label)}</text>\n");
            if (bar.Baseline is { } baseline)
            {
                s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y}\" width=\"{X(baseline.Rate):0.#}\" height=\"18\" class=\"baseline\"><title>baseline {Html(ReportText.Rate(baseline))}</title></rect>\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y + 4}\" width=\"{X(bar.Rate.Rate):0.#}\" height=\"10\" class=\"bar {bar.Status}\"><title>{Html(bar.Label)}: {Html(ReportText.Rate(bar.Rate))}</title></rect>\n");

            // The whisker is drawn over the bar with caps, so an interval ending inside the bar still shows.
            double low = left + X(bar.Rate.CiLow), high = left + X(bar.Rate.CiHigh);
            s.Append(CultureInfo.InvariantCulture, $"<path d=\"M{low:0.#} {mid - 5}v10M{low:0.#} {mid}H{high:0.#}M{high:0.#} {mid - 5}v10\" class=\"ci\"><title>95% CI {bar.Rate.CiLow:0.000}-{bar.Rate.CiHigh:0.000}</title></path>\n");
            foreach (var (value, kind) in bar.Thresholds)
            {
                var x = left + X(value);
                s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"{y - 2}\" x2=\"{x:0.#}\" y2=\"{y + 20}\" class=\"{kind}\"><title>{kind} threshold {Html(ReportText.Number(value))}</title></line>\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + PlotWidth + 8}\" y=\"{mid + 4}\" class=\"value\">{ReportText.RateValue(bar.Rate)}</text>\n");
        }

        return s.Append("</svg>\n").ToString();
    }

    /// <summary>Quality against utility with both axes, the policy's thresholds (Q, U, and the Q-U curve where the harmonic mean equals its floor) and every point.</summary>
    public static string QualityUtility(IReadOnlyList<Point> points, MetricThresholdsInfo? thresholds)
    {
        const int left = 52, top = 12, size = 260, right = 150;
        var lowest = points.SelectMany(p => new[] { p.Quality, p.Utility })
            .Concat(new[] { thresholds?.MinQuality, thresholds?.MinUtility, thresholds?.MinQU }.OfType<double>()).Min();

        // The axes start at the tenth below the lowest value shown, so points near 1 (where remediation lands) are told apart.
        var from = Math.Clamp(Math.Floor((lowest - 0.01) * 10) / 10, 0, 0.9);
        double Px(double v) => left + (Math.Clamp(v, from, 1) - from) / (1 - from) * size;
        double Py(double v) => top + (1 - (Math.Clamp(v, from, 1) - from) / (1 - from)) * size;
        var width = left + size + right;
        var height = top + size + 44;
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart qu\" role=\"img\" aria-label=\"Quality against utility\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n");
        for (var i = 0; i <= 5; i++)
        {
            var v = from + (1 - from) * i / 5;
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Px(v):0.#}\" y1=\"{top}\" x2=\"{Px(v):0.#}\" y2=\"{top + size}\" class=\"grid\"/><text x=\"{Px(v):0.#}\" y=\"{top + size + 16}\" class=\"axis\">{v:0.00}</text>\n");
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{Py(v):0.#}\" x2=\"{left + size}\" y2=\"{Py(v):0.#}\" class=\"grid\"/><text x=\"{left - 6}\" y=\"{Py(v) + 4:0.#}\" class=\"axis end\">{v:0.00}</text>\n");
        }

        s.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{size}\" height=\"{size}\" class=\"frame\"/>\n")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left + size / 2}\" y=\"{top + size + 36}\" class=\"axis title\">quality Q (forgotten share)</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"12\" y=\"{top + size / 2}\" class=\"axis title\" transform=\"rotate(-90 12 {top + size / 2})\">utility U (kept share)</text>\n");
        if (thresholds?.MinQuality is { } q)
        {
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Px(q):0.#}\" y1=\"{top}\" x2=\"{Px(q):0.#}\" y2=\"{top + size}\" class=\"threshold\"><title>Q &gt;= {Html(ReportText.Number(q))}</title></line>\n");
        }

        if (thresholds?.MinUtility is { } u)
        {
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{Py(u):0.#}\" x2=\"{left + size}\" y2=\"{Py(u):0.#}\" class=\"threshold\"><title>U &gt;= {Html(ReportText.Number(u))}</title></line>\n");
        }

        if (thresholds?.MinQU is { } t && t > 0)
        {
            // The harmonic mean 2QU/(Q+U) equals t where U = tQ/(2Q - t): the points above and right of this curve meet the floor.
            var curve = Enumerable.Range(0, 61).Select(i => from + (1 - from) * i / 60.0).Where(x => 2 * x > t)
                .Select(x => (X: x, Y: t * x / (2 * x - t))).Where(p => p.Y >= from && p.Y <= 1).ToList();
            if (curve.Count > 1)
            {
                s.Append("<polyline points=\"").AppendJoin(' ', curve.Select(p => string.Create(CultureInfo.InvariantCulture, $"{Px(p.X):0.#},{Py(p.Y):0.#}")))
                    .Append(CultureInfo.InvariantCulture, $"\" class=\"threshold\"><title>Q-U &gt;= {Html(ReportText.Number(t))}</title></polyline>\n");
            }
        }

        // Settings tried first, so the policies' points are drawn over them.
        foreach (var p in points.OrderBy(p => p.Status == "tried" ? 0 : 1))
        {
            var r = p.Status == "tried" ? 4 : 6;
            s.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Px(p.Quality):0.#}\" cy=\"{Py(p.Utility):0.#}\" r=\"{r}\" class=\"point {p.Status}\"><title>{Html(p.Label)}: Q {Value(p.Quality)}, U {Value(p.Utility)}</title></circle>\n");
        }

        var legend = 0;
        foreach (var p in points.Where(p => p.Status != "tried"))
        {
            var y = top + 10 + legend++ * 18;
            s.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{left + size + 16}\" cy=\"{y}\" r=\"5\" class=\"point {p.Status}\"/><text x=\"{left + size + 26}\" y=\"{y + 4}\" class=\"legend\">{Html(p.Label)}</text>\n");
        }

        if (points.Any(p => p.Status == "tried"))
        {
            var y = top + 10 + legend * 18;
            s.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{left + size + 16}\" cy=\"{y}\" r=\"4\" class=\"point tried\"/><text x=\"{left + size + 26}\" y=\"{y + 4}\" class=\"legend\">settings tried</text>\n");
        }

        return s.Append("</svg>\n").ToString();
    }

    private static double X(double rate) => PlotWidth * Math.Clamp(rate, 0, 1);

    private static void Axis(StringBuilder s, int left, int bottom, string title)
    {
        for (var tick = 0; tick <= 10; tick += 2)
        {
            var x = left + PlotWidth * tick / 10.0;
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:0.#}\" y1=\"0\" x2=\"{x:0.#}\" y2=\"{bottom}\" class=\"grid\"/><text x=\"{x:0.#}\" y=\"{bottom + 13}\" class=\"axis\">{tick / 10.0:0.0}</text>\n");
        }

        s.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + PlotWidth / 2}\" y=\"{bottom + 29}\" class=\"axis title\">{Html(title)}</text>\n");
    }

    /// <summary>
    /// A measured value with three decimals; more where three would put it on the wrong side of <paramref name="threshold"/>, or would show
    /// 1.000 or 0.000 for a value that is not exactly that (a Q-U of 0.9995 is not perfect).
    /// </summary>
    public static string Value(double? value, double? threshold = null)
    {
        if (value is not { } v)
        {
            return "-";
        }

        var text = Thresholds.Value(v, threshold);
        for (var decimals = 4; decimals <= 17 && ((text.StartsWith("1.000", StringComparison.Ordinal) && v < 1) || (text.StartsWith("0.000", StringComparison.Ordinal) && v > 0)); decimals++)
        {
            text = v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        }

        return text;
    }
}
