using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>
/// A text-embedding model (a sentence encoder such as all-MiniLM-L6-v2): the artifact is the encoder, and its knowledge is facts,
/// probed by <see cref="FactProbe"/>. A gate run reads and checks the manifest, the encoder and the fact set, then refuses to judge
/// (KTU2044): fact probes are not yet wired into the gate's clauses, and a build must fail rather than pass what was not checked.
/// </summary>
internal sealed class TextEmbeddingKind : IModelKind
{
    /// <inheritdoc/>
    public ModelKind Kind => ModelKind.TextEmbedding;

    /// <inheritdoc/>
    public string OutputRule => "a text encoder's output must be float32 token states [batch, tokens, dim] or embeddings [batch, dim]";

    /// <inheritdoc/>
    public string? OutputWidthProblem(ModelManifest manifest, int width) => null;

    /// <inheritdoc/>
    /// <remarks>No unlearning method edits inside a transformer yet (issue #13 item 5 waits on whole-graph gradients).</remarks>
    public string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput)
        => " that an unlearning method supports in a text encoder (none edits inside a transformer yet)";

    /// <inheritdoc/>
    public KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics)
    {
        var section = manifest.SectionAs<TextEmbeddingSection>();
        var local = new DiagnosticBag();
        var facts = FactSet.Load(section.Relations, section.FactFiles, local);
        var encoder = TextTower.Open(section.Encoder(artifact, manifest.Output.Name), provider, local, limits, DiagnosticCodes.TextEncoderInvalid);
        diagnostics.AddRange(local.Items);
        if (!local.HasErrors && facts is not null)
        {
            diagnostics.Add(DiagnosticCodes.TextEmbeddingNotGated, new SourceLocation(manifest.Path), Path.GetFileName(artifact), facts.Facts.Count);
        }

        return new Session(encoder);
    }

    /// <summary>The encoder, open for the run; nothing is probed through the gate yet.</summary>
    private sealed class Session(TextTower? encoder) : KindSession
    {
        public override bool CanProbe => false;

        public override IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record)
            => throw new InvalidOperationException(NotWired);

        public override SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias)
            => throw new InvalidOperationException(NotWired);

        public override ScoreSpace Space() => throw new InvalidOperationException(NotWired);

        public override void Dispose() => encoder?.Dispose();

        private const string NotWired = "A text-embedding model is not probed through the gate yet (KTU2044 fails the run first).";
    }
}
