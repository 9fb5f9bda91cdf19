using System.Globalization;
using System.Text;
using KtuGate.Diagnostics;
using KtuGate.Measurements;
using KtuGate.Onnx;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// General utility of a text encoder on WordNet-derived word sets (built reproducibly from Debian's wordnet-base by
/// samples/TextFacts/wordnet/make_wordnet_sets.py): synonym triples and Wu-Palmer-scored pairs.
/// </summary>
/// <param name="Triples">(word, synonym, unrelated word): a general-purpose encoder puts the synonym nearer the word.</param>
/// <param name="Pairs">(word, word, Wu-Palmer similarity of their first senses).</param>
public sealed record WordSets(IReadOnlyList<(string Word, string Synonym, string Unrelated)> Triples, IReadOnlyList<(string A, string B, double WuPalmer)> Pairs)
{
    /// <summary>The largest word-set file read: 4 MiB (the sample's take 10 KB).</summary>
    public const long MaxFileBytes = 4 * 1024 * 1024;

    /// <summary>Reads the two tab-separated files (a header line, then one row per line); a bad row is reported at its line (KTU2042).</summary>
    /// <returns>The sets, or null when a file has errors.</returns>
    public static WordSets? Load(string synonymsPath, string similarityPath, DiagnosticBag diagnostics)
    {
        var local = new DiagnosticBag();
        var triples = Rows(synonymsPath, local).Select(r => (r.Cells[0], r.Cells[1], r.Cells[2])).ToList();
        var pairs = new List<(string, string, double)>();
        foreach (var (cells, line) in Rows(similarityPath, local))
        {
            if (double.TryParse(cells[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var wup) && wup is >= 0 and <= 1)
            {
                pairs.Add((cells[0], cells[1], wup));
            }
            else
            {
                local.Add(DiagnosticCodes.FactRecordInvalid, new SourceLocation(similarityPath, line, 1), $"the similarity '{cells[2]}' must be a number from 0 to 1");
            }
        }

        diagnostics.AddRange(local.Items);
        return local.HasErrors ? null : new WordSets(triples, pairs);
    }

    /// <summary>Synonym accuracy: the share of triples whose synonym is nearer (cosine) the word than the unrelated word.</summary>
    public Proportion SynonymAccuracy(TextTower encoder)
    {
        encoder.Prefetch(Triples.SelectMany(t => new[] { t.Word, t.Synonym, t.Unrelated }));
        return new(Triples.Count(t => encoder.Embed(t.Word) is var word && VectorMath.Cosine(word, encoder.Embed(t.Synonym)) > VectorMath.Cosine(word, encoder.Embed(t.Unrelated))), Triples.Count);
    }

    /// <summary>Spearman's rank correlation of the pairs' embedding cosine with their Wu-Palmer similarity (ties get their mean rank).</summary>
    public double Spearman(TextTower encoder)
    {
        encoder.Prefetch(Pairs.SelectMany(p => new[] { p.A, p.B }));
        var cosines = Pairs.Select(p => VectorMath.Cosine(encoder.Embed(p.A), encoder.Embed(p.B))).ToArray();
        var wup = Pairs.Select(p => p.WuPalmer).ToArray();
        return Pearson(Ranks(cosines), Ranks(wup));
    }

    private static double[] Ranks(double[] values)
    {
        var order = Enumerable.Range(0, values.Length).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Length];
        for (var start = 0; start < order.Length;)
        {
            var end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
            {
                end++;
            }

            for (var k = start; k <= end; k++)
            {
                ranks[order[k]] = (start + end) / 2.0 + 1;
            }

            start = end + 1;
        }

        return ranks;
    }

    private static double Pearson(double[] x, double[] y)
    {
        var (mx, my) = (x.Average(), y.Average());
        var (sxy, sxx, syy) = (0.0, 0.0, 0.0);
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }

        return sxx == 0 || syy == 0 ? 0 : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>The rows of a TSV file with three non-empty cells, after its header; bad rows reported at their lines.</summary>
    private static List<(string[] Cells, int Line)> Rows(string path, DiagnosticBag diagnostics)
    {
        var rows = new List<(string[], int)>();
        string text;
        try
        {
            using var stream = ContainedFile.OpenRegular(path, MaxFileBytes, out var problem);
            if (stream is null)
            {
                diagnostics.Add(DiagnosticCodes.FactRecordInvalid, new SourceLocation(path), $"'{path}' cannot be read: {problem}");
                return rows;
            }

            using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            diagnostics.Add(DiagnosticCodes.FactRecordInvalid, new SourceLocation(path), $"'{path}' cannot be read: {e.Message}");
            return rows;
        }

        var lines = text.Split('\n');
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var cells = line.Split('\t');
            if (cells.Length != 3 || cells.Any(c => c.Length == 0))
            {
                diagnostics.Add(DiagnosticCodes.FactRecordInvalid, new SourceLocation(path, i + 1, 1), "a row must have three non-empty tab-separated cells");
                continue;
            }

            rows.Add((cells, i + 1));
        }

        return rows;
    }
}
