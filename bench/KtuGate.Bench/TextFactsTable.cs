using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Kinds.TextEmbedding;
using KtuGate.Measurements;
using KtuGate.Models;
using KtuGate.Policies;
using KtuGate.Probing;

/// <summary>
/// Unlearning inside all-MiniLM-L6-v2 against issue #13's targets: the original and an encoder a TextFacts Remediate run wrote (see
/// bench/textfacts.sh, which times the runs), measured on the policy's forgotten facts (templates and paraphrases), their coarse facts,
/// the retained concepts' facts, the held-out facts of the manifest's fact set and the WordNet sets.
/// </summary>
internal static class TextFactsTable
{
    public static void Print(string root, string policyName, string edited)
    {
        var sample = Path.Combine(root, "samples", "TextFacts");
        var model = Path.Combine(root, "artifacts", "minilm", "model.onnx");
        var manifestPath = Path.Combine(sample, "artifacts", "minilm.ktu.json");
        var policyPath = Path.Combine(sample, "policies", policyName + ".ktu.json");
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(manifestPath, diagnostics)!;
        var section = manifest.SectionAs<TextEmbeddingSection>();
        var facts = FactSet.Load(section.Relations, section.FactFiles, diagnostics)!;
        var policy = PolicyParser.Load(policyPath, diagnostics)!;
        var words = WordSets.Load(Path.Combine(sample, "wordnet", "wordnet-synonyms.tsv"), Path.Combine(sample, "wordnet", "wordnet-similarity.tsv"), diagnostics)!;
        List<FactRecord> Read(IEnumerable<string> concepts) => [.. concepts.SelectMany(c => policy.GetConcept(c).Files).Distinct().SelectMany(f => FactSet.ReadFacts(f, diagnostics))];
        var forget = Read(policy.Forget.Select(c => c.Concept));
        var retained = Read(policy.Retain.Where(c => c.Level == KnowledgeLevel.Fine).Select(c => c.Concept));
        var named = forget.Concat(retained).Select(f => (f.Relation, f.Subject)).ToHashSet();
        var heldOut = facts.Facts.Where(f => !named.Contains((f.Relation, f.Subject))).ToList();

        Console.WriteLine("| Encoder | Forgotten facts (fine) | Forgotten, paraphrased | Their coarse facts | Retained facts | Held-out facts | WordNet synonyms | WordNet Spearman |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var (name, path) in new[] { ("MiniLM (original)", model), ("MiniLM (edited)", edited) })
        {
            if (!File.Exists(path))
            {
                continue;
            }

            using var encoder = TextTower.Open(section.Encoder(path, manifest.Output.Name), ExecutionProviderPreference.Cpu, diagnostics, problem: DiagnosticCodes.TextEncoderInvalid)!;
            var probe = new FactProbe(encoder, facts);
            var f = probe.Probe(forget);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Cell(f.Fine)} | {Cell(probe.Probe(forget, FactWordings.Paraphrases).Fine)} | {(f.Coarse is { } c ? Cell(c) : "-")} | {Cell(probe.Probe(retained).Fine)} | {Cell(probe.Probe(heldOut).Fine)} | {Cell(words.SynonymAccuracy(encoder))} | {words.Spearman(encoder):0.0000} |"));
        }
    }

    private static string Cell(Proportion p) => string.Format(CultureInfo.InvariantCulture, "{0} / {1} ({2:0.0}%, upper {3:0.0}%)", p.Successes, p.N, 100 * p.Rate, 100 * p.High);
}
