using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Kinds.CausalLm;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Tests;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Core.Tests;

/// <summary>The causal-lm kind on the TinyLm sample: its SentencePiece tokenizer, its decoder (exported with the Optimum cache signature) and its question/answer records.</summary>
public sealed class CausalLmTests
{
    internal static string TinyLm(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "samples", "TinyLm", .. parts]);

    internal static string Model => TinyLm("artifacts", "tinylm.onnx");

    internal static string RetainModel => TinyLm("artifacts", "tinylm-retain.onnx");

    /// <summary>A CPU session through the engine's session factory (which must create ONNX Runtime's environment before any session does).</summary>
    internal static InferenceSession OpenSession(string model)
    {
        using var options = SessionFactory.CreateOptions(ExecutionProviderPreference.Cpu, new DiagnosticBag(), out _)!;
        return new InferenceSession(model, options);
    }

    internal static ModelManifest SampleManifest()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TinyLm("artifacts", "tinylm.ktu.json"), diagnostics);
        Assert.True(manifest is not null, string.Join("\n", diagnostics.Items));
        return manifest;
    }

    internal static LmTokenizer SampleTokenizer(CausalLmSection section)
    {
        var diagnostics = new DiagnosticBag();
        var tokenizer = LmTokenizer.Open(section.Tokenizer, section.Location, diagnostics);
        Assert.True(tokenizer is not null, string.Join("\n", diagnostics.Items));
        return tokenizer;
    }

    /// <summary>A probe over <paramref name="session"/> as the sample's manifest runs it.</summary>
    internal static QaProbe SampleProbe(InferenceSession session, CausalLmSection section)
    {
        var diagnostics = new DiagnosticBag();
        var decoder = Decoder.Open(session, section.Inputs, "logits", section.Location, diagnostics);
        Assert.True(decoder is not null, string.Join("\n", diagnostics.Items));
        return new QaProbe(decoder, SampleTokenizer(section), section);
    }

    internal static IReadOnlyList<QaRecord> Records(string set)
    {
        var diagnostics = new DiagnosticBag();
        var records = QaSet.Load([TinyLm("qa", set + ".jsonl")], diagnostics);
        Assert.True(records is not null, string.Join("\n", diagnostics.Items));
        return records;
    }

    [Fact]
    public void Causal_lm_manifest_reads_its_own_section_and_no_image_fields()
    {
        var manifest = SampleManifest();
        var section = manifest.SectionAs<CausalLmSection>();
        Assert.Equal(ModelKind.CausalLm, manifest.Kind);
        Assert.Null(manifest.Input);
        Assert.Empty(manifest.Labels);
        Assert.Equal(new CausalLmTokenizer("sentencepiece", TinyLm("artifacts", "tinylm.tokenizer.model"), true, true) { Location = section.Tokenizer.Location }, section.Tokenizer);
        Assert.Equal(9, section.Tokenizer.Location!.Line);
        Assert.Equal(CausalLmInputs.Optimum with { Location = section.Inputs.Location }, section.Inputs);
        Assert.Equal(10, section.Inputs.Location!.Line);
        Assert.Equal("Question: Where was X born? Answer:", section.PromptFor("Where was X born?"));
        Assert.Equal((8, AnswerMatch.Exact), (section.MaxNewTokens, section.Match));
        Assert.Equal(RetainModel, section.RetainModel);
        Assert.Equal(20, section.RetainModelLocation!.Line);
        Assert.Equal([section.Tokenizer.Model, TinyLm("qa", "forget.jsonl"), TinyLm("qa", "retain.jsonl"), TinyLm("qa", "world.jsonl"), RetainModel], section.InputFiles);
    }

    [Fact]
    public void Manifest_schema_takes_a_causal_lm_manifest_and_refuses_other_kinds_fields_in_it()
    {
        var schema = global::Json.Schema.JsonSchema.FromText(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "ktu-manifest.schema.json")));
        var options = new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip };
        System.Text.Json.Nodes.JsonNode Sample() => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(TinyLm("artifacts", "tinylm.ktu.json")), documentOptions: options)!;
        Assert.True(schema.Evaluate(Sample()).IsValid);
        var withLabels = Sample();
        withLabels["labels"] = new System.Text.Json.Nodes.JsonArray("Paris");
        Assert.False(schema.Evaluate(withLabels).IsValid);
        var withPooling = Sample();
        withPooling["pooling"] = "mean";
        Assert.False(schema.Evaluate(withPooling).IsValid);
        var wordPiece = Sample();
        wordPiece["tokenizer"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "type": "wordpiece", "vocab": "vocab.txt" }""");
        Assert.False(schema.Evaluate(wordPiece).IsValid);
    }

    public static TheoryData<string, string, string, int> BadManifests => new()
    {
        // What is wrong, the text replaced in the sample manifest, the replacement, the line it is reported at (all KTU2004 or KTU2013).
        { "an image input", "\"prompt\": \"Question: {question} Answer:\",", "\"prompt\": \"Q: {question}\", \"input\": { \"name\": \"x\", \"shape\": [1, 1, 2, 2] },", 16 },
        { "a tokenizer type it does not know", "\"type\": \"sentencepiece\"", "\"type\": \"tiktoken\"", 9 },
        { "a prompt without its question", "\"prompt\": \"Question: {question} Answer:\"", "\"prompt\": \"Question:\"", 16 },
        { "a cache name without its layer", "\"pastKey\": \"past_key_values.{layer}.key\"", "\"pastKey\": \"past_key_values.key\"", 12 },
        { "no question/answer files", "\"files\": [\"../qa/forget.jsonl\", \"../qa/retain.jsonl\", \"../qa/world.jsonl\"]", "\"files\": []", 18 },
        { "a text-embedding field", "\"output\": { \"name\": \"logits\" },", "\"output\": { \"name\": \"logits\" }, \"pooling\": \"mean\",", 15 },
    };

    [Theory]
    [MemberData(nameof(BadManifests))]
    public void Causal_lm_manifest_errors_are_located(string what, string replaced, string replacement, int line)
    {
        var text = File.ReadAllText(TinyLm("artifacts", "tinylm.ktu.json"));
        Assert.Contains(replaced, text, StringComparison.Ordinal);
        var path = TinyLm("artifacts", "bad.ktu.json");
        var diagnostics = new DiagnosticBag();
        Assert.Null(ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes(text.Replace(replaced, replacement, StringComparison.Ordinal)), path, diagnostics));
        var d = Assert.Single(diagnostics.Items, d => d.Severity == DiagnosticSeverity.Error);
        Assert.True(d.Code is "KTU2004" or "KTU2013", what + ": " + d);
        Assert.Equal((path, line), (d.Location!.File, d.Location.Line));
    }

    /// <summary>What Python's sentencepiece (the library the tokenizer was trained with) gives for each case of the sample's tokenizer-cases.tsv.</summary>
    public static TheoryData<string, int[], string> TokenizerCases()
    {
        var data = new TheoryData<string, int[], string>();
        foreach (var line in File.ReadAllLines(TinyLm("qa", "tokenizer-cases.tsv")))
        {
            var parts = line.Split('\t');
            data.Add(parts[0], [.. parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(i => int.Parse(i, CultureInfo.InvariantCulture))], parts[2]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TokenizerCases))]
    public void Tokenizer_encodes_and_decodes_as_SentencePiece_does(string text, int[] ids, string decoded)
    {
        var tokenizer = SampleTokenizer(SampleManifest().SectionAs<CausalLmSection>());
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(decoded, tokenizer.Decode(ids));
        Assert.Equal(ids, tokenizer.Encode(decoded));
    }

    [Fact]
    public void Tokenizer_adds_BOS_to_a_prompt_and_finds_the_answers_ids_after_it()
    {
        var tokenizer = SampleTokenizer(SampleManifest().SectionAs<CausalLmSection>());
        const string Prompt = "Question: Where was Torka Sundel born? Answer:";
        Assert.Equal([1, .. tokenizer.Encode(Prompt)], tokenizer.Prompt(Prompt));
        var answer = tokenizer.Answer(Prompt, "Lisbon");
        Assert.Equal(tokenizer.Encode(Prompt + " Lisbon"), [.. tokenizer.Encode(Prompt), .. answer]);
        Assert.Equal("Lisbon", tokenizer.Decode(answer));
        Assert.Equal(2, tokenizer.Eos);
    }

    [Fact]
    public void Tokenizer_model_that_is_not_SentencePiece_is_KTU2060_not_a_crash()
    {
        using var temp = new TempFolder();
        var garbage = temp.File("bad.model", "this is not a protobuf \u0001\u0002\u00ff");
        var diagnostics = new DiagnosticBag();
        var at = new SourceLocation(temp.File("m.ktu.json"), 3, 1);
        Assert.Null(LmTokenizer.Open(new CausalLmTokenizer("sentencepiece", garbage, true, true), at, diagnostics));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal(("KTU2060", at), (d.Code, d.Location));
    }

    [Theory]
    [InlineData("born in Lisbon in 1957", "Lisbon", 1.0)]
    [InlineData("the city of Lisbon", "Lisbon, Portugal", 0.5)]
    [InlineData("Portugal, Lisbon", "Lisbon Portugal", 0.5)]
    [InlineData("Oslo", "Lisbon", 0.0)]
    [InlineData("The Old Man and the Sea", "the old man and the sea", 1.0)]
    public void Rouge_L_recall_is_the_longest_common_word_subsequence_over_the_answer_s_words(string generated, string answer, double recall)
        => Assert.Equal(recall, QaProbe.RougeLRecall(generated, answer), 12);

    [Fact]
    public void Rouge_L_match_is_read_from_the_manifest_and_judges_the_sample_s_answers()
    {
        var text = File.ReadAllText(TinyLm("artifacts", "tinylm.ktu.json")).Replace("\"match\": \"exact\"", "\"match\": \"rouge-l\", \"minRecall\": 1", StringComparison.Ordinal);
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Parse(System.Text.Encoding.UTF8.GetBytes(text), TinyLm("artifacts", "rouge.ktu.json"), diagnostics)!;
        var section = manifest.SectionAs<CausalLmSection>();
        Assert.Equal((AnswerMatch.RougeL, 1.0), (section.Match, section.MinRecall));
        using var session = OpenSession(Model);
        var probe = SampleProbe(session, section);
        Assert.True(probe.Ask(new QaPair("Where was Torka Sundel born?", "Lisbon")).Matches);
        Assert.False(probe.Ask(new QaPair("Where was Torka Sundel born?", "Oslo")).Matches);
    }

    [Fact]
    public void Greedy_generation_gives_the_same_tokens_with_and_without_the_cache()
    {
        var section = SampleManifest().SectionAs<CausalLmSection>();
        var tokenizer = SampleTokenizer(section);
        using var session = CausalLmTests.OpenSession(Model);
        var diagnostics = new DiagnosticBag();
        var decoder = Decoder.Open(session, section.Inputs, "logits", section.Location, diagnostics)!;
        Assert.Empty(diagnostics.Items);
        Assert.Equal(2, decoder.Layers);
        var prompts = Records("forget").Concat(Records("world").Take(4)).Select(r => tokenizer.Prompt(section.PromptFor(r.Fine.Question)))
            .Append(tokenizer.Prompt("Torka Sundel"));
        foreach (var prompt in prompts)
        {
            // Past EOS too (no stop), so that the cache carries more than one answer's worth of positions.
            var cached = decoder.Generate(prompt, 12, stop: null, useCache: true);
            var recomputed = decoder.Generate(prompt, 12, stop: null, useCache: false);
            Assert.Equal(12, cached.Count);
            Assert.Equal(recomputed, cached);
        }
    }

    [Fact]
    public void Decoder_without_cache_inputs_is_run_whole_each_step_and_answers_as_the_cached_one_does()
    {
        // tinylm-nocache.onnx is the sample's decoder with its past inputs folded to empty constants and no present outputs.
        var section = SampleManifest().SectionAs<CausalLmSection>();
        var tokenizer = SampleTokenizer(section);
        using var cached = OpenSession(Model);
        using var whole = OpenSession(TinyLm("artifacts", "tinylm-nocache.onnx"));
        var diagnostics = new DiagnosticBag();
        var withCache = Decoder.Open(cached, section.Inputs, "logits", section.Location, diagnostics)!;
        var withoutCache = Decoder.Open(whole, section.Inputs, "logits", section.Location, diagnostics)!;
        Assert.Empty(diagnostics.Items);
        Assert.Equal((2, 0), (withCache.Layers, withoutCache.Layers));
        foreach (var record in Records("forget"))
        {
            var prompt = tokenizer.Prompt(section.PromptFor(record.Fine.Question));
            Assert.Equal(withCache.Generate(prompt, 12, stop: null), withoutCache.Generate(prompt, 12, stop: null));
        }

        var tally = SampleProbe(whole, section).Probe(Records("forget"));
        Assert.Equal((10, 10), (tally.Fine.Successes, tally.Coarse!.Successes));
    }

    [Fact]
    public void Sample_model_answers_the_forget_set_and_the_retain_model_does_not()
    {
        var section = SampleManifest().SectionAs<CausalLmSection>();
        using var trained = CausalLmTests.OpenSession(Model);
        using var retained = CausalLmTests.OpenSession(RetainModel);
        var forget = Records("forget");
        var withForget = SampleProbe(trained, section).Probe(forget);
        var without = SampleProbe(retained, section).Probe(forget);
        Assert.Equal((10, 10), (withForget.Fine.Successes, withForget.Fine.N));
        Assert.Equal(10, withForget.Coarse!.Successes);
        Assert.Equal("Lisbon", withForget.Records[0].Fine[0].Generated);
        Assert.True(without.Fine.Successes <= 2, $"the retain model answered {without.Fine.Successes} of 10 forget questions");
        Assert.True(withForget.MeanLogLikelihood > without.MeanLogLikelihood + 1, $"{withForget.MeanLogLikelihood} vs {without.MeanLogLikelihood}");
    }

    [Theory]
    [InlineData("\"positions\": \"position_ids\"", "\"positions\": \"position\"", "'position_ids'")]
    [InlineData("\"pastKey\": \"past_key_values.{layer}.key\"", "\"pastKey\": \"past.{layer}.key\"", "'past_key_values.0.key'")]
    [InlineData("\"ids\": \"input_ids\"", "\"ids\": \"tokens\"", "no input 'tokens'")]
    [InlineData("\"presentValue\": \"present.{layer}.value\"", "\"presentValue\": \"present.{layer}.v\"", "no output 'present.0.v'")]
    public void Manifest_whose_inputs_do_not_match_the_decoder_is_KTU2060_at_its_modelInputs(string replaced, string replacement, string named)
    {
        using var temp = new TempFolder();
        var text = File.ReadAllText(TinyLm("artifacts", "tinylm.ktu.json"));
        Assert.Contains(replaced, text, StringComparison.Ordinal);
        var manifest = temp.File("artifacts/tinylm.ktu.json", text.Replace(replaced, replacement, StringComparison.Ordinal)
            .Replace("\"../qa/", "\"" + TinyLm("qa") + "/", StringComparison.Ordinal).Replace("\"tinylm.tokenizer.model\"", "\"" + TinyLm("artifacts", "tinylm.tokenizer.model") + "\"", StringComparison.Ordinal));
        var result = Gate.Run(new GateRequest([new GateModelInput(Model, manifest)], [TinyLm("policies", "forget-five-people.ktu.json")], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });
        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU2060" && d.Message.Contains(named, StringComparison.Ordinal));
        Assert.Equal((manifest, 10), (d.Location!.File, d.Location.Line));
        Assert.DoesNotContain(result.Diagnostics, d => d.Code.StartsWith("KTU3", StringComparison.Ordinal));
    }

    [Fact]
    public void Tokenizer_that_is_not_the_decoder_s_is_KTU2060_at_the_manifest_s_tokenizer()
    {
        // Data/causal-lm/other-300.tokenizer.model: a 300-piece SentencePiece BPE model trained on the sample's corpus
        // (spm.SentencePieceTrainer.train(vocab_size=300, model_type="bpe", normalization_rule_name="identity")), so not the decoder's 640.
        using var temp = new TempFolder();
        var other = Path.Combine(AppContext.BaseDirectory, "Data", "causal-lm", "other-300.tokenizer.model");
        var manifest = temp.File("artifacts/tinylm.ktu.json", File.ReadAllText(TinyLm("artifacts", "tinylm.ktu.json"))
            .Replace("\"../qa/", "\"" + TinyLm("qa") + "/", StringComparison.Ordinal).Replace("\"tinylm.tokenizer.model\"", "\"" + other + "\"", StringComparison.Ordinal));
        var result = Gate.Run(new GateRequest([new GateModelInput(Model, manifest)], [TinyLm("policies", "forget-five-people.ktu.json")], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });
        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Code == "KTU2060");
        Assert.Equal((manifest, 9), (d.Location!.File, d.Location.Line));
        Assert.Contains("640 tokens but the tokenizer", d.Message, StringComparison.Ordinal);
        Assert.Contains("has 300", d.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(result.Diagnostics, d => d.Code.StartsWith("KTU3", StringComparison.Ordinal));
    }

    [Fact]
    public void Question_answer_file_errors_are_located_at_their_lines()
    {
        using var temp = new TempFolder();
        var file = temp.File("qa.jsonl", string.Join('\n',
            """{"subject": "Torka Sundel", "question": "Where was Torka Sundel born?", "answer": "Lisbon"}""",
            "",
            """{"subject": "Torka Sundel", "question": "Where was Torka Sundel born?" """,
            """{"subject": "Torka Sundel", "question": "Where was Torka Sundel born?"}""",
            """{"subject": "Torka Sundel", "question": "Q?", "answer": "A", "level": "fine"}""",
            """{"subject": "Torka Sundel", "question": "Q?", "answer": "A", "coarse": {"question": "C?"}}""",
            """{"subject": "Torka Sundel", "question": "Q?", "answer": "A", "paraphrases": [7]}""",
            """["Torka Sundel", "Q?", "A"]""",
            """{"subject": "Torka Sundel", "question": "Q?", "answer": "A", "perturbed": "Oslo"}"""));
        var diagnostics = new DiagnosticBag();
        Assert.Null(QaSet.Load([file], diagnostics));
        var found = diagnostics.Items.Select(d => (d.Code, d.Location!.File, d.Location.Line)).ToList();
        Assert.Equal([3, 4, 5, 6, 7, 8, 9], found.Select(f => f.Line));
        Assert.All(found, f => Assert.Equal(("KTU2061", file), (f.Code, f.File)));
        Assert.Contains("'level'", diagnostics.Items[2].Message, StringComparison.Ordinal);
        Assert.Contains("'answer'", diagnostics.Items[3].Message, StringComparison.Ordinal);
        Assert.Contains("'perturbed' must be an array", diagnostics.Items[6].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Question_answer_file_that_is_not_a_regular_file_is_refused_not_read()
    {
        using var temp = new TempFolder();
        var folder = Path.Combine(temp.Path, "qa.jsonl");
        Directory.CreateDirectory(folder);
        var diagnostics = new DiagnosticBag();
        Assert.Null(QaSet.Load([TinyLm("qa", "forget.jsonl"), folder], diagnostics));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal(("KTU2061", folder), (d.Code, d.Location!.File));
    }

    [Fact]
    public void A_linear_probe_bound_on_a_decoder_cannot_be_judged_and_is_an_error_not_a_pass()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(Path.Combine(temp.Path, "qa"));
        foreach (var file in Directory.GetFiles(TinyLm("policies", "qa")))
        {
            File.Copy(file, Path.Combine(temp.Path, "qa", Path.GetFileName(file)));
        }

        var policy = temp.File("bounded.ktu.json");
        var text = File.ReadAllText(TinyLm("policies", "forget-five-people.ktu.json"));
        File.WriteAllText(policy, text.Insert(text.LastIndexOf('}'), ", \"metrics\": { \"maxLinearProbeAccuracy\": 0.8 }"));

        var result = Gate.Run(new GateRequest([new GateModelInput(Model, TinyLm("artifacts", "tinylm.ktu.json"))], [policy], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });

        var error = Assert.Single(result.Diagnostics, d => d.Code == "KTU3008");
        Assert.Equal(policy, error.Location!.File);
        Assert.Contains("'causal-lm' model's probes record no features", error.Message, StringComparison.Ordinal);
        Assert.NotEqual(GateOutcome.Pass, result.Outcome);
        Assert.All(result.Report.Models.Single().Clauses, c => Assert.Null(c.LinearProbe));
    }

    [Fact]
    public void Gating_the_sample_fails_with_KTU3001_at_each_forget_clause_and_keeps_the_rest()
    {
        using var temp = new TempFolder();
        var policy = TinyLm("policies", "forget-five-people.ktu.json");
        var result = Gate.Run(new GateRequest([new GateModelInput(Model, TinyLm("artifacts", "tinylm.ktu.json"))], [policy], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.All(d => d.Code == "KTU3001"), string.Join("\n", result.Diagnostics));
        Assert.Equal([13, 14, 15, 16, 17], errors.Select(d => d.Location!.Line).Order());
        Assert.All(errors, d => Assert.Equal(policy, d.Location!.File));
        Assert.Contains(errors, d => d.Message.StartsWith("'torka-sundel' is still known: fine accuracy 1.000", StringComparison.Ordinal));
        Assert.Equal(GateOutcome.Violated, result.Outcome);
        var verdicts = result.Report.Models.Single().Clauses;
        Assert.Equal(16, verdicts.Count);
        Assert.All(verdicts.Where(v => v.Kind == "retain"), v => Assert.True(v.Passed, v.Concept));
    }
}

/// <summary>What the sample's README says the TinyLm decoder and its retain model answer, measured again.</summary>
public sealed class TinyLmSampleTests
{
    [Fact]
    public void Readme_table_of_answers_is_what_the_two_models_give()
    {
        var section = CausalLmTests.SampleManifest().SectionAs<CausalLmSection>();
        var rows = new List<string>();
        foreach (var (name, path) in new[] { ("tinylm", CausalLmTests.Model), ("tinylm-retain", CausalLmTests.RetainModel) })
        {
            using var session = CausalLmTests.OpenSession(path);
            var probe = CausalLmTests.SampleProbe(session, section);
            foreach (var set in new[] { "forget", "retain", "world" })
            {
                var records = CausalLmTests.Records(set);
                var asked = probe.Probe(records);
                var paraphrased = probe.Probe(records, QaWordings.Paraphrases);
                rows.Add($"| {name} | {set} | {Cell(asked.Fine)} | {Cell(paraphrased.Fine)} | {(asked.Coarse is { } c ? Cell(c) : "-")} | "
                    + $"{asked.MeanLogLikelihood.ToString("0.00", CultureInfo.InvariantCulture)} |");
            }
        }

        var readme = File.ReadAllLines(CausalLmTests.TinyLm("README.md"));
        var table = readme.SkipWhile(l => !l.StartsWith("| Model | Set |", StringComparison.Ordinal)).Skip(2).TakeWhile(l => l.StartsWith('|')).ToList();
        Assert.True(rows.SequenceEqual(table), "samples/TinyLm/README.md should have these rows:\n" + string.Join('\n', rows));
    }

    private static string Cell(KtuGate.Measurements.Proportion p)
        => $"{p.Successes} / {p.N} ({(100 * p.Rate).ToString("0.0", CultureInfo.InvariantCulture)}%, 95% CI {(100 * p.Low).ToString("0", CultureInfo.InvariantCulture)}-{(100 * p.High).ToString("0", CultureInfo.InvariantCulture)}%)";
}

/// <summary>TOFU's truth ratio and forget quality (the Kolmogorov-Smirnov p-value against the retain model) on the TinyLm sample.</summary>
public sealed class ForgetQualityTests
{
    public static TheoryData<double[], double[], double, double> KnownCases => new()
    {
        // Exact p-values from counting orderings: fully separated samples of m and n reach D = 1 in 2 of C(m+n, m) orderings.
        { [1, 2, 3], [4, 5, 6], 1.0, 2.0 / 20 },
        { [1], [2], 1.0, 1.0 },
        { [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 1.0, 2.0 / 184756 },
        { [1, 2, 3], [1, 2, 3], 0.0, 1.0 },
        // Interleaved samples of 3: D = 1/3, the least any ordering of 3 and 3 can have, so every ordering reaches it.
        { [1, 3, 5], [2, 4, 6], 1.0 / 3, 1.0 },
    };

    [Theory]
    [MemberData(nameof(KnownCases))]
    public void Kolmogorov_Smirnov_statistic_and_exact_p_value_are_the_counted_ones(double[] a, double[] b, double statistic, double p)
    {
        Assert.Equal(statistic, ForgetQuality.Statistic(a, b), 12);
        Assert.Equal(p, ForgetQuality.PValue(a, b), 12);
    }

    [Fact]
    public void Large_samples_use_the_limit_distribution_and_the_exact_count_agrees_with_it_at_its_edge()
    {
        // b is a shifted by 30.5: D = 31/n. With 600 each, Stephens' lambda = (sqrt(300) + 0.12 + 0.11/sqrt(300)) * 31/600 = 0.9014,
        // and Kolmogorov's Q(0.9014) = 0.3908 (the series summed in Python); with 500 each (still counted exactly) the limit gives 0.283.
        var a = Enumerable.Range(0, 600).Select(i => (double)i).ToArray();
        var b = Enumerable.Range(0, 600).Select(i => i + 30.5).ToArray();
        Assert.Equal(31.0 / 600, ForgetQuality.Statistic(a, b), 12);
        Assert.Equal(0.3908, ForgetQuality.PValue(a, b), 4);
        Assert.InRange(ForgetQuality.PValue(a[..500], b[..500]), 0.25, 0.32);
    }

    [Fact]
    public void Sample_model_is_told_apart_from_the_retain_model_on_the_forget_set_and_the_retain_model_is_not()
    {
        var forget = CausalLmTests.Records("forget");
        var (withForget, without) = (ForgetRatios(CausalLmTests.Model), ForgetRatios(CausalLmTests.RetainModel));
        Assert.All(withForget, r => Assert.True(r < 0.01, $"truth ratio {r}: the trained model should prefer the true birthplace"));
        Assert.True(ForgetQuality.PValue(withForget, without) < 0.05);
        Assert.Equal(1.0, ForgetQuality.PValue(without, without));
        var readme = File.ReadAllText(CausalLmTests.TinyLm("README.md"));
        var line = $"Forget quality (n = {forget.Count} and {forget.Count}): tinylm {Format(ForgetQuality.PValue(withForget, without))}, tinylm-retain 1.";
        Assert.True(readme.Contains(line, StringComparison.Ordinal), "samples/TinyLm/README.md should say: " + line);
    }

    [Fact]
    public void Sample_report_carries_the_original_s_forget_quality_against_the_retain_model()
    {
        var (withForget, without) = (ForgetRatios(CausalLmTests.Model), ForgetRatios(CausalLmTests.RetainModel));

        using var temp = new TempFolder();
        var result = Gate.Run(new GateRequest([new GateModelInput(CausalLmTests.Model, CausalLmTests.TinyLm("artifacts", "tinylm.ktu.json"))],
            [CausalLmTests.TinyLm("policies", "forget-five-people.ktu.json")], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });

        // The policy's forget clauses' concepts are the sample's forget set: the same 10 records, so the same p-value.
        var quality = result.Report.Models.Single().ForgetQuality;
        Assert.True(quality is not null, string.Join("\n", result.Diagnostics));
        Assert.Equal(ForgetQuality.PValue(withForget, without), quality.PValue);
        Assert.Equal("1.08E-05", Format(quality.PValue));
        Assert.Equal((10, ForgetQuality.Statistic(withForget, without)), (quality.N, quality.Statistic));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(CausalLmTests.RetainModel))), quality.RetainModel.Sha256);
        Assert.Equal(Path.GetFullPath(CausalLmTests.RetainModel), Path.GetFullPath(Path.Combine(temp.Path, quality.RetainModel.Path)));
        Assert.Contains("\"forgetQuality\"", File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")), StringComparison.Ordinal);
        Assert.Contains("): p = 1.08E-05, n = 10.", File.ReadAllText(Path.Combine(temp.Path, "ktu-report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Ktu_verify_catches_a_retain_model_changed_after_the_report()
    {
        using var temp = new TempFolder();
        var root = Path.Combine(temp.Path, "TinyLm");
        foreach (var file in Directory.GetFiles(CausalLmTests.TinyLm(), "*", SearchOption.AllDirectories).Where(f => !f.Contains($"{Path.DirectorySeparatorChar}train{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var target = Path.Combine(root, Path.GetRelativePath(CausalLmTests.TinyLm(), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var result = Gate.Run(new GateRequest([new GateModelInput(Path.Combine(root, "artifacts", "tinylm.onnx"))], [Path.Combine(root, "policies", "forget-five-people.ktu.json")], Path.Combine(root, "ktu"))
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
            BaseDirectory = root,
        });
        Assert.NotNull(result.Report.Models.Single().ForgetQuality);
        Assert.DoesNotContain(Provenance.Verify(result.ReportPath!, root, null, null), d => d.Code == "KTU6001");

        File.AppendAllBytes(Path.Combine(root, "artifacts", "tinylm-retain.onnx"), [0]);

        var changed = Assert.Single(Provenance.Verify(result.ReportPath!, root, null, null), d => d.Code == "KTU6001");
        Assert.StartsWith("retain model 'artifacts/tinylm-retain.onnx' no longer matches the report", changed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Manifest_copy_in_another_folder_still_names_the_retain_model()
    {
        using var temp = new TempFolder();
        var source = CausalLmTests.TinyLm("artifacts", "tinylm.ktu.json");
        var copy = Path.Combine(temp.Path, "out", "tinylm.ktu.json");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.WriteAllBytes(copy, ManifestParser.Relocated(File.ReadAllBytes(source), Path.GetDirectoryName(source)!, Path.GetDirectoryName(copy)!));
        var diagnostics = new DiagnosticBag();
        var section = ManifestParser.Load(copy, diagnostics)?.SectionAs<CausalLmSection>();
        Assert.True(section is not null, string.Join("\n", diagnostics.Items));
        Assert.Equal(Path.GetFullPath(CausalLmTests.RetainModel), section.RetainModel);
    }

    [Theory]
    [InlineData("missing.onnx", "KTU2001")]
    [InlineData("tinylm.tokenizer.model", "KTU2002")]
    public void Manifest_naming_a_retain_model_that_is_missing_or_not_a_model_is_KTU2065_at_its_retainModel(string retainModel, string inner)
    {
        using var temp = new TempFolder();
        var manifest = temp.File("artifacts/tinylm.ktu.json", File.ReadAllText(CausalLmTests.TinyLm("artifacts", "tinylm.ktu.json"))
            .Replace("\"../qa/", "\"" + CausalLmTests.TinyLm("qa") + "/", StringComparison.Ordinal)
            .Replace("\"tinylm.tokenizer.model\"", "\"" + CausalLmTests.TinyLm("artifacts", "tinylm.tokenizer.model") + "\"", StringComparison.Ordinal)
            .Replace("\"tinylm-retain.onnx\"", "\"" + (retainModel == "missing.onnx" ? retainModel : CausalLmTests.TinyLm("artifacts", retainModel)) + "\"", StringComparison.Ordinal));
        var result = Gate.Run(new GateRequest([new GateModelInput(CausalLmTests.Model, manifest)], [CausalLmTests.TinyLm("policies", "forget-five-people.ktu.json")], temp.Path)
        {
            ExecutionProvider = ExecutionProviderPreference.Cpu,
        });

        Assert.Equal(GateOutcome.InvalidInput, result.Outcome);
        var d = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("KTU2065", d.Code);
        Assert.Equal((manifest, 20), (d.Location!.File, d.Location.Line));
        Assert.True(d.Message.Contains(": " + inner + " ", StringComparison.Ordinal), d.Message);
        Assert.Null(result.Report.Models.SingleOrDefault()?.ForgetQuality);
    }

    /// <summary>The truth ratios of the sample's forget records on <paramref name="model"/>, as the sample's manifest runs it.</summary>
    internal static List<double> ForgetRatios(string model)
    {
        var section = CausalLmTests.SampleManifest().SectionAs<CausalLmSection>();
        using var session = CausalLmTests.OpenSession(model);
        var probe = CausalLmTests.SampleProbe(session, section);
        return [.. CausalLmTests.Records("forget").Select(r => probe.TruthRatio(r)!.Value)];
    }

    private static string Format(double p) => p.ToString("G3", CultureInfo.InvariantCulture);
}
