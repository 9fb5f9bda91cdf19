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
public sealed record QaRecord(string Subject, QaPair Fine, IReadOnlyList<string> Paraphrases, QaPair? Coarse, SourceLocation Location)
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
        if (JsonLinesFile.ReadBounded(path, MaxFileBytes, DiagnosticCodes.QaRecordInvalid, diagnostics) is not { } bytes)
        {
            return [];
        }

        var records = new List<QaRecord>();
        var lineNumber = 0;
        foreach (var line in JsonLinesFile.Lines(bytes))
        {
            lineNumber++;
            if (line.Span.Trim(" \t\r"u8).IsEmpty)
            {
                continue;
            }

            if (ReadLine(line.Span, path, lineNumber, diagnostics) is { } record)
            {
                records.Add(record);
            }
        }

        return records;
    }

    private static QaRecord? ReadLine(ReadOnlySpan<byte> line, string path, int lineNumber, DiagnosticBag diagnostics)
    {
        // Each line is parsed alone; its locations are moved to the line's number in the file.
        var root = JsonTreeReader.Parse(line, path, out var errors);
        SourceLocation At(SourceLocation l) => l with { Line = lineNumber };
        foreach (var error in errors)
        {
            diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(error.Location), error.Message);
        }

        if (root is null || errors.Count > 0)
        {
            return null;
        }

        if (root is not JsonTreeObject record)
        {
            diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(root.Location), $"a record must be an object {{subject, question, answer, paraphrases, perturbed, coarse}}, not {root.KindName}");
            return null;
        }

        var ok = true;
        foreach (var unknown in record.Properties.Where(p => !s_fields.Contains(p.Name)))
        {
            diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(unknown.NameLocation), $"unknown property '{unknown.Name}'; expected: {string.Join(", ", s_fields)}");
            ok = false;
        }

        string? Text(JsonTreeObject from, string name, string where)
        {
            switch (from.Find(name)?.Value)
            {
                case JsonTreeString { Value.Length: > 0 } s:
                    return s.Value;
                case null:
                    diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(from.Location), $"{where} has no '{name}'");
                    return null;
                case var other:
                    diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(other.Location), $"'{name}' must be a non-empty string, not {other.KindName}");
                    return null;
            }
        }

        var (subject, question, answer) = (Text(record, "subject", "the record"), Text(record, "question", "the record"), Text(record, "answer", "the record"));
        List<string> Texts(string name)
        {
            var texts = new List<string>();
            switch (record.Find(name)?.Value)
            {
                case null:
                    break;
                case JsonTreeArray array:
                    foreach (var item in array.Items)
                    {
                        if (item is JsonTreeString { Value.Length: > 0 } text)
                        {
                            texts.Add(text.Value);
                        }
                        else
                        {
                            diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(item.Location), $"'{name}' must hold non-empty strings, not {item.KindName}");
                            ok = false;
                        }
                    }

                    break;
                case var other:
                    diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(other.Location), $"'{name}' must be an array of strings, not {other.KindName}");
                    ok = false;
                    break;
            }

            return texts;
        }

        var paraphrases = Texts("paraphrases");
        var perturbed = Texts("perturbed");

        QaPair? coarse = null;
        switch (record.Find("coarse")?.Value)
        {
            case null:
                break;
            case JsonTreeObject pair:
                foreach (var unknown in pair.Properties.Where(p => p.Name is not ("question" or "answer")))
                {
                    diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(unknown.NameLocation), $"unknown property '{unknown.Name}' in 'coarse'; expected: question, answer");
                    ok = false;
                }

                var (coarseQuestion, coarseAnswer) = (Text(pair, "question", "'coarse'"), Text(pair, "answer", "'coarse'"));
                coarse = coarseQuestion is null || coarseAnswer is null ? null : new QaPair(coarseQuestion, coarseAnswer);
                ok &= coarse is not null;
                break;
            case var other:
                diagnostics.Add(DiagnosticCodes.QaRecordInvalid, At(other.Location), $"'coarse' must be an object {{question, answer}}, not {other.KindName}");
                ok = false;
                break;
        }

        return ok && subject is not null && question is not null && answer is not null
            ? new QaRecord(subject, new QaPair(question, answer), paraphrases, coarse, new SourceLocation(path, lineNumber, 1)) { Perturbed = perturbed }
            : null;
    }
}
