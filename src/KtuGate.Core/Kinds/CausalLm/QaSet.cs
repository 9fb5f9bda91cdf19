using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Probing;

namespace KtuGate.Kinds.CausalLm;

/// <summary>One question and the answer that shows the model knows it.</summary>
/// <param name="Question">The question, put in the manifest's prompt.</param>
/// <param name="Answer">The answer expected.</param>
public sealed record QaPair(string Question, string Answer);

/// <summary>One question/answer record about a subject, read from a line of a JSON Lines file.</summary>
/// <param name="Subject">The entity the record is about (a fictitious author, a country): the label a concept binds to.</param>
/// <param name="Fine">The specific fact (where the author was born).</param>
/// <param name="Paraphrases">The fine question in other wordings, probed for robustness.</param>
/// <param name="Coarse">What must stay known about the subject (that the author is a writer), or null.</param>
/// <param name="Location">The file and line it was read from.</param>
public sealed record QaRecord(string Subject, QaPair Fine, IReadOnlyList<string> Paraphrases, QaPair? Coarse, SourceLocation Location) : Exemplar(Location)
{
    /// <summary>Wrong answers to the fine question (other cities), against which TOFU's truth ratio weighs the true one.</summary>
    public IReadOnlyList<string> Perturbed { get; init; } = [];
}

/// <summary>Reads question/answer files: one JSON object per line, every problem reported at its file and line (KTU2061).</summary>
public static class QaSet
{
    /// <summary>The largest question/answer file read: 16 MiB (the sample's 700 records take 150 KB).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    private static readonly string[] s_fields = ["subject", "question", "answer", "paraphrases", "perturbed", "coarse"];

    /// <summary>Every record of <paramref name="files"/>, in file and line order; null when any has errors.</summary>
    public static IReadOnlyList<QaRecord>? Load(IEnumerable<string> files, DiagnosticBag diagnostics)
    {
        var local = new DiagnosticBag();
        var records = files.SelectMany(f => Read(f, local)).ToList();
        diagnostics.AddRange(local.Items);
        return local.HasErrors ? null : records;
    }

    /// <summary>Reads the records of one JSON Lines file, blank lines skipped.</summary>
    /// <remarks>Untrusted input: the file must be a regular file of at most <see cref="MaxFileBytes"/> (a FIFO or device is refused, never read).</remarks>
    public static IReadOnlyList<QaRecord> Read(string path, DiagnosticBag diagnostics)
    {
        var records = new List<QaRecord>();
        foreach (var record in JsonLinesFile.Records(path, MaxFileBytes, DiagnosticCodes.QaRecordInvalid, "record", s_fields, diagnostics))
        {
            var (subject, question, answer) = (record.Text("subject"), record.Text("question"), record.Text("answer"));
            var (paraphrases, perturbed) = (record.Texts("paraphrases"), record.Texts("perturbed"));
            var coarse = Coarse(record);
            if (record.Ok && subject is not null && question is not null && answer is not null)
            {
                records.Add(new QaRecord(subject, new QaPair(question, answer), paraphrases, coarse, record.Location) { Perturbed = perturbed });
            }
        }

        return records;
    }

    /// <summary>The record's coarse question and answer, or null (refusing the record where 'coarse' is there but not a whole pair).</summary>
    private static QaPair? Coarse(JsonLineRecord record)
    {
        switch (record.Value.Find("coarse")?.Value)
        {
            case null:
                return null;
            case JsonTreeObject pair:
                foreach (var unknown in pair.Properties.Where(p => p.Name is not ("question" or "answer")))
                {
                    record.Report(unknown.NameLocation, $"unknown property '{unknown.Name}' in 'coarse'; expected: question, answer");
                }

                var (question, answer) = (record.Text("question", pair, "'coarse'"), record.Text("answer", pair, "'coarse'"));
                if (question is null || answer is null)
                {
                    // Reported by Text; the record is refused rather than kept without the coarse fact it names.
                    record.Refuse();
                    return null;
                }

                return new QaPair(question, answer);
            case var other:
                record.Report(other.Location, $"'coarse' must be an object {{question, answer}}, not {other.KindName}");
                return null;
        }
    }
}
