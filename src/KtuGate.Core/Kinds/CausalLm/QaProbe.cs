using KtuGate.Measurements;

namespace KtuGate.Kinds.CausalLm;

/// <summary>Which wordings of a record's question are asked.</summary>
public enum QaWordings
{
    /// <summary>The record's question (what a policy is judged on).</summary>
    Questions,

    /// <summary>The record's paraphrases (robustness: knowledge, not a phrasing).</summary>
    Paraphrases,
}

/// <summary>
/// Probes a decoder for question/answer records: a question is answered when greedy generation (with the cache) after its prompt
/// matches the record's answer by the manifest's rule; the answer's teacher-forced log-likelihood is measured beside it.
/// Fine level is the record's question (or, for robustness, each of its paraphrases); coarse level its coarse question.
/// </summary>
/// <remarks>Each distinct question is generated once per probe; the decoder and tokenizer are not owned.</remarks>
public sealed class QaProbe
{
    private readonly Decoder _decoder;
    private readonly LmTokenizer _tokenizer;
    private readonly CausalLmSection _section;
    private readonly Dictionary<QaPair, QaAnswer> _answers = [];

    /// <summary>Makes a probe over an open decoder, its tokenizer and its manifest section (prompt, generation, match rule).</summary>
    public QaProbe(Decoder decoder, LmTokenizer tokenizer, CausalLmSection section)
    {
        _decoder = decoder;
        _tokenizer = tokenizer;
        _section = section;
    }

    /// <summary>Probes every record: its question (or each paraphrase) at fine level and its coarse question, where it has one.</summary>
    /// <param name="records">The records.</param>
    /// <param name="wordings">The records' questions (<see cref="QaWordings.Questions"/>) or their paraphrases.</param>
    /// <param name="cancellationToken">Stops between records.</param>
    public QaTally Probe(IEnumerable<QaRecord> records, QaWordings wordings = QaWordings.Questions, CancellationToken cancellationToken = default)
    {
        var (n, fine, coarseN, coarse) = (0, 0, 0, 0);
        var outcomes = new List<QaOutcome>();
        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IReadOnlyList<string> questions = wordings == QaWordings.Questions ? [record.Fine.Question] : record.Paraphrases;
            var asked = questions.Select(q => Ask(new QaPair(q, record.Fine.Answer))).ToList();
            var coarseAnswer = record.Coarse is { } c ? Ask(c) : null;
            n += asked.Count;
            fine += asked.Count(a => a.Matches);
            if (coarseAnswer is not null)
            {
                coarseN += asked.Count;
                coarse += coarseAnswer.Matches ? asked.Count : 0;
            }

            outcomes.Add(new QaOutcome(record, asked, coarseAnswer));
        }

        return new QaTally(new Proportion(fine, n), coarseN == 0 ? null : new Proportion(coarse, coarseN), outcomes);
    }

    /// <summary>What the model answers to one question, and how likely it finds the expected answer.</summary>
    public QaAnswer Ask(QaPair pair)
    {
        if (!_answers.TryGetValue(pair, out var answer))
        {
            var prompt = _section.PromptFor(pair.Question);
            var ids = _tokenizer.Prompt(prompt);
            var generated = _tokenizer.Decode(_decoder.Generate(ids, _section.MaxNewTokens, _tokenizer.StopAtEos ? _tokenizer.Eos : null)).Trim();
            var logLikelihood = _decoder.AnswerLogLikelihood(ids, _tokenizer.Answer(prompt, pair.Answer));
            answer = _answers[pair] = new QaAnswer(pair, generated, Matches(generated, pair.Answer), logLikelihood);
        }

        return answer;
    }

    /// <summary>
    /// TOFU's truth ratio of a record: the mean, over its perturbed answers, of each one's per-token probability, over the true
    /// answer's (both length-normalised, after the question's prompt); null for a record without perturbed answers. Near 0 the
    /// model prefers the truth; near 1 or above it cannot tell the truth from the wrong answers.
    /// </summary>
    public double? TruthRatio(QaRecord record)
    {
        if (record.Perturbed.Count == 0)
        {
            return null;
        }

        var prompt = _section.PromptFor(record.Fine.Question);
        var ids = _tokenizer.Prompt(prompt);
        double PerToken(string answer) => Math.Exp(_decoder.AnswerLogLikelihood(ids, _tokenizer.Answer(prompt, answer)));
        return record.Perturbed.Average(PerToken) / PerToken(record.Fine.Answer);
    }

    private bool Matches(string generated, string expected) => _section.Match switch
    {
        AnswerMatch.Contains => generated.Contains(expected.Trim(), StringComparison.OrdinalIgnoreCase),
        AnswerMatch.RougeL => RougeLRecall(generated, expected) >= _section.MinRecall,
        _ => string.Equals(generated, expected.Trim(), StringComparison.OrdinalIgnoreCase),
    };

    /// <summary>ROUGE-L recall: the longest common subsequence of the two texts' words (case ignored, punctuation dropped) over the reference's word count.</summary>
    public static double RougeLRecall(string candidate, string reference)
    {
        static string[] Words(string text) => [.. System.Text.RegularExpressions.Regex.Matches(text.ToLowerInvariant(), @"[\p{L}\p{N}]+").Select(m => m.Value)];
        var (c, r) = (Words(candidate), Words(reference));
        if (r.Length == 0)
        {
            return 0;
        }

        var previous = new int[c.Length + 1];
        for (var i = 1; i <= r.Length; i++)
        {
            var current = new int[c.Length + 1];
            for (var j = 1; j <= c.Length; j++)
            {
                current[j] = r[i - 1] == c[j - 1] ? previous[j - 1] + 1 : Math.Max(previous[j], current[j - 1]);
            }

            previous = current;
        }

        return (double)previous[c.Length] / r.Length;
    }
}

/// <summary>What a decoder answered to one question.</summary>
/// <param name="Pair">The question and the answer expected.</param>
/// <param name="Generated">The greedy continuation of its prompt, trimmed.</param>
/// <param name="Matches">Whether it matches the expected answer by the manifest's rule.</param>
/// <param name="LogLikelihood">The expected answer's mean log-probability per token after the prompt.</param>
public sealed record QaAnswer(QaPair Pair, string Generated, bool Matches, double LogLikelihood);

/// <summary>One record's result.</summary>
/// <param name="Record">The record.</param>
/// <param name="Fine">Its question's answer (or each paraphrase's).</param>
/// <param name="Coarse">Its coarse question's answer, or null where it has none.</param>
public sealed record QaOutcome(QaRecord Record, IReadOnlyList<QaAnswer> Fine, QaAnswer? Coarse);

/// <summary>What a question/answer probe measured.</summary>
/// <param name="Fine">Fine probes (record × wording) answered.</param>
/// <param name="Coarse">Fine probes of records with a coarse question whose coarse question was answered; null when none has one.</param>
/// <param name="Records">Per record, its answers.</param>
public sealed record QaTally(Proportion Fine, Proportion? Coarse, IReadOnlyList<QaOutcome> Records)
{
    /// <summary>The mean length-normalised log-likelihood of the expected fine answers.</summary>
    public double MeanLogLikelihood => Records.SelectMany(r => r.Fine).Select(a => a.LogLikelihood).DefaultIfEmpty(0).Average();
}
