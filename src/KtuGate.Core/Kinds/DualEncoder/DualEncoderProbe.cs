using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;

namespace KtuGate.Kinds.DualEncoder;

/// <summary>Zero-shot probing of a CLIP-style dual encoder: each exemplar's image embedding is compared with prompt embeddings, among fine labels and among coarse groups.</summary>
/// <remarks>A label's (or group's) text embedding is the unit-length mean of its prompts' embeddings (prompt ensembling); every prompt is embedded once per run.</remarks>
public sealed class DualEncoderProbe : IConceptProbe
{
    private readonly LoadedModel _imageTower;
    private readonly TextTower _textTower;
    private readonly int _batchSize;
    private readonly float[][] _fine;
    private readonly float[][] _coarse;

    /// <summary>Makes a probe; neither tower is owned by it.</summary>
    public DualEncoderProbe(LoadedModel imageTower, TextTower textTower, int batchSize = 64)
    {
        _imageTower = imageTower;
        _textTower = textTower;
        _batchSize = batchSize;
        (_fine, _coarse) = Directions(imageTower.Manifest, textTower);
    }

    /// <summary>Each label's and each coarse group's text embedding: the unit-length mean of its prompts' embeddings.</summary>
    public static (float[][] Fine, float[][] Coarse) Directions(ModelManifest manifest, TextTower textTower)
    {
        var section = manifest.SectionAs<DualEncoderSection>();
        float[] Ensemble(IReadOnlyList<string> prompts) => VectorMath.MeanDirection(prompts.Select(textTower.Embed));
        return (manifest.Labels.Select(l => Ensemble(Prompts(section, section.PromptsOfLabel(l), l))).ToArray(),
            manifest.Coarse.Select(g => Ensemble(Prompts(section, section.PromptsOfGroup(g.Name), g.Name))).ToArray());
    }

    /// <summary>The prompts a label or group is embedded with: its own where the manifest gives them (they stand in for the templates), else each template with its name.</summary>
    internal static IReadOnlyList<string> Prompts(DualEncoderSection section, IReadOnlyList<string>? own, string name)
        => own ?? section.PromptTemplates.Select(t => Prompt(t, name)).ToList();

    /// <summary>How exemplars are changed before probing (none by default).</summary>
    public Perturbation Perturbation { get; init; }

    /// <summary>Where to record an inner tensor's rows (the image tower must have it as a graph output), or null.</summary>
    public SiteActivations? Record { get; init; }

    /// <summary>Each label's text embedding (the unit-length mean of its prompts'), in label order.</summary>
    public IReadOnlyList<float[]> FineDirections => _fine;

    /// <summary>Each coarse group's text embedding, in manifest order.</summary>
    public IReadOnlyList<float[]> CoarseDirections => _coarse;

    /// <summary>A prompt from a template and a name, with one determiner where both bring one.</summary>
    /// <remarks>
    /// A name may bring its own article (an alias "a running shoe"). Where the word before the slot is an article too, the template's
    /// gives way ("a photo of a {}" and "an ankle boot": "a photo of an ankle boot"); where it is another determiner, the name's does
    /// ("a photo of my {}" and "a running shoe": "a photo of my running shoe", never "my a running shoe").
    /// </remarks>
    public static string Prompt(string template, string name)
    {
        var slot = template.IndexOf("{}", StringComparison.Ordinal);
        var before = slot < 0 ? string.Empty : template[..slot].TrimEnd();
        var lastWord = before[(before.LastIndexOf(' ') + 1)..];
        var article = s_articles.FirstOrDefault(a => name.Length > a.Length + 1 && name.StartsWith(a + " ", StringComparison.OrdinalIgnoreCase));
        if (article is not null && s_articles.Contains(lastWord, StringComparer.OrdinalIgnoreCase))
        {
            var at = before.Length - lastWord.Length;
            template = template[..at] + template[slot..];
        }
        else if (article is not null && s_determiners.Contains(lastWord, StringComparer.OrdinalIgnoreCase))
        {
            name = name[(article.Length + 1)..];
        }

        return template.Replace("{}", name, StringComparison.Ordinal);
    }

    private static readonly string[] s_articles = ["a", "an", "the"];

    private static readonly string[] s_determiners = ["my", "your", "our", "his", "her", "its", "their", "this", "that", "these", "those", "one"];

    /// <inheritdoc />
    public ProbeTally Probe(IReadOnlyList<Exemplar> exemplars, int fineLabel, IReadOnlyList<string> wordings, DiagnosticBag diagnostics, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        wordings = fineLabel < 0 ? [] : wordings;
        var dim = _textTower.Dimension;
        var wordingEmbeddings = wordings.Select(_textTower.Embed).ToArray();
        var tally = new TallyBuilder(_fine.Length, _coarse.Length, fineLabel, wordings);
        var scores = new float[_fine.Length];
        var coarseScores = new float[_coarse.Length];
        var wordingScores = new float[wordingEmbeddings.Length];
        var n = ImageBatches.Run(_imageTower, Exemplar.Files(exemplars), _batchSize, diagnostics, progress, cancellationToken, Record?.Tensor, (rows, extra, batch) =>
        {
            Record?.Add(Perturbation, extra, batch);
            for (var i = 0; i < batch.Count; i++)
            {
                var image = rows.Slice(i * dim, dim);
                Scores(image, _fine, scores);
                Scores(image, _coarse, coarseScores);
                Scores(image, wordingEmbeddings, wordingScores);
                tally.Add(batch[i], scores, coarseScores, wordingScores);
            }
        }, Perturbation);
        return tally.Build(n);
    }

    private static void Scores(ReadOnlySpan<float> image, float[][] directions, float[] scores)
    {
        for (var j = 0; j < directions.Length; j++)
        {
            scores[j] = VectorMath.Dot(image, directions[j]);
        }
    }
}
