using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Onnx;
using KtuGate.Policies;
using KtuGate.Probing;
using KtuGate.Reporting;
using KtuGate.Unlearning;

namespace KtuGate.Kinds;

/// <summary>One kind of model a manifest can name (its <c>kind</c>): everything the gate does that depends on what kind of model it has.</summary>
/// <remarks>Each kind is one folder under <c>Kinds/</c>, found by <see cref="ModelKinds"/> for each kind <see cref="ManifestKinds.Supported"/> lists; the gate never asks which kind it has.</remarks>
internal interface IModelKind
{
    /// <summary>The kind's name in manifests, e.g. <c>classifier</c>.</summary>
    string Name => ManifestKinds.NameOf(Kind);

    /// <summary>The manifest's kind value this implements.</summary>
    ModelKind Kind { get; }

    /// <summary>What the model's output must be, for the message when it is not float32 of one of <see cref="OutputRanks"/>.</summary>
    string OutputRule { get; }

    /// <summary>The ranks the model's output may have ([batch, n] by default).</summary>
    IReadOnlyList<int> OutputRanks => [2];

    /// <summary>Why the model's output width does not fit the manifest, or null when it does (or is not fixed).</summary>
    string? OutputWidthProblem(ModelManifest manifest, int width);

    /// <summary>Why a linear layer cannot be the kind's edit site, or null when it can.</summary>
    /// <param name="manifest">The manifest.</param>
    /// <param name="site">The site found.</param>
    /// <param name="siteOutput">The tensor the site's node writes.</param>
    /// <returns>Null, or the words KTU4001 adds after "no edit site", e.g. " whose output is the classifier's scores".</returns>
    string? SiteProblem(ModelManifest manifest, EditSite site, string siteOutput);

    /// <summary>What <c>ktu init</c> drafts for a model of this kind whose output is <paramref name="outputWidth"/> wide.</summary>
    /// <param name="outputWidth">The width of the model's float [batch, n] output.</param>
    /// <param name="labels">The labels the user named, or null for placeholders.</param>
    /// <param name="textTower">A text tower the user named, or null (kinds that take none ignore it).</param>
    KindDraft Draft(int outputWidth, IReadOnlyList<string>? labels, ManifestScaffold.TextTowerDraft? textTower);

    /// <summary>
    /// How many probes an exemplar file gives, for thresholds judged before any model runs (KTU3007): null (the default) where each file is
    /// one exemplar (an image); a kind whose files hold records counts what its probe will run (a fact's names × templates, a question).
    /// </summary>
    /// <param name="manifest">The model's manifest.</param>
    Func<string, int>? ProbeCounter(ModelManifest manifest) => null;

    /// <summary>
    /// Whether the kind's probes record the features just below an edit site, which a linear-probe bound
    /// (<c>metrics.maxLinearProbeAccuracy</c>) reads: true (the default) for image kinds; a kind that probes whole texts or generated
    /// answers records none, and a bound on its model is KTU3008 (said by <c>ktu validate</c> too, before any model runs).
    /// </summary>
    bool RecordsSiteFeatures => true;

    /// <summary>Opens what probing a model of this kind needs for a whole run (a text tower, for instance); problems go to <paramref name="diagnostics"/>.</summary>
    /// <param name="manifest">The model's manifest.</param>
    /// <param name="artifact">The model artifact (a kind whose artifact is its encoder reads it here).</param>
    /// <param name="provider">Where ONNX Runtime runs.</param>
    /// <param name="limits">What a model may declare.</param>
    /// <param name="diagnostics">Receives the problems.</param>
    KindSession Open(ModelManifest manifest, string artifact, ExecutionProviderPreference provider, ModelLimits limits, DiagnosticBag diagnostics);
}

/// <summary>A kind's part of a drafted manifest.</summary>
/// <param name="Labels">The labels to write (placeholders where the user named none).</param>
/// <param name="Problem">Why the labels do not fit the model, or null.</param>
/// <param name="Note">The draft's opening comment: what the author must check.</param>
/// <param name="Sections">Manifest lines that go after <c>output</c> (each a property with its trailing comma), e.g. a text tower.</param>
internal sealed record KindDraft(IReadOnlyList<string> Labels, string? Problem, string Note, IReadOnlyList<string> Sections);

/// <summary>A kind's resources for one model in one run: it makes the model's probes and reads what they return.</summary>
internal abstract class KindSession : IDisposable
{
    /// <summary>Whether the model can be probed at all (a dual encoder whose text tower would not open cannot).</summary>
    public virtual bool CanProbe => true;

    /// <summary>
    /// The manifest the gate binds policies' concepts to and measures with: the parsed one, or one whose labels and coarse groups
    /// the kind read elsewhere (a text encoder's are its facts' subjects).
    /// </summary>
    public virtual ModelManifest Labelled(ModelManifest manifest) => manifest;

    /// <summary>
    /// The manifest of a kind whose knowledge is about subjects (a text encoder's fact subjects, a language model's record subjects):
    /// each subject a label and its own coarse group (the subject and <paramref name="groupSuffix"/>), and the label and group its probe
    /// counts misses in last.
    /// </summary>
    protected static ModelManifest LabelledBySubjects(ModelManifest manifest, IEnumerable<string> subjects, string missLabel, string missGroup, string groupSuffix)
    {
        List<string> labels = [.. subjects.Distinct(StringComparer.Ordinal), missLabel];
        var groups = labels.Select(l => new CoarseGroup(l == missLabel ? missGroup : $"{l} {groupSuffix}", [l])).ToList();
        return new ModelManifest(manifest.Path, manifest.Kind, manifest.Input, manifest.Preprocess, manifest.Output, labels, groups)
        {
            EditSite = manifest.EditSite,
            Section = manifest.Section,
        };
    }

    /// <summary>Checks the open model against what the kind needs beyond the manifest (e.g. the embedding width).</summary>
    public virtual void CheckModel(LoadedModel model, DiagnosticBag diagnostics)
    {
    }

    /// <summary>
    /// A concept's exemplars, loaded from its files: an image kind's are the files themselves (the default, each decoded when a probe runs it);
    /// a kind whose files hold records reads them, each at its file and line, problems to <paramref name="diagnostics"/>.
    /// </summary>
    /// <param name="files">The concept's exemplar files (after any hold-out split).</param>
    /// <param name="diagnostics">Receives the problems.</param>
    public virtual IReadOnlyList<Exemplar> Exemplars(IReadOnlyList<string> files, DiagnosticBag diagnostics) => Exemplar.Images(files);

    /// <summary>A probe that runs <paramref name="model"/> with ONNX Runtime.</summary>
    public abstract IConceptProbe Probe(LoadedModel model, int batchSize, Perturbation perturbation, SiteActivations? record);

    /// <summary>A probe that judges a new weight of the edit site from the site's recorded inputs, without running the model.</summary>
    public abstract SiteProbe SiteProbe(SiteActivations activations, double[,] weight, double[] bias);

    /// <summary>The wordings a concept is probed with one at a time (none for a kind that takes no prompts).</summary>
    public virtual IReadOnlyList<string> Wordings(Policy policy, Concept concept, int fineLabel) => [];

    /// <summary>Adds what the kind read or measured besides the clauses to a model's report (a text tower's digests, a decoder's forget quality).</summary>
    /// <param name="report">The pass's report so far.</param>
    /// <param name="model">The pass's model as it was probed, or null where an edit was judged from recorded inputs.</param>
    /// <param name="policies">The policies the pass judged.</param>
    /// <param name="baseDirectory">The folder the report's paths are relative to.</param>
    /// <param name="digests">The run's digest cache.</param>
    /// <param name="diagnostics">Receives the problems.</param>
    public virtual ModelReport Describe(ModelReport report, LoadedModel? model, IReadOnlyList<Policy> policies, string baseDirectory, DigestCache? digests, DiagnosticBag diagnostics) => report;

    /// <summary>The score space an edit of the site is solved in.</summary>
    public abstract ScoreSpace Space();

    /// <summary>How an exemplar file becomes the model's input, for an edit that trains through the whole network; null where the kind cannot say (deep scopes are then refused, KTU4013).</summary>
    public virtual TrainingInput? TrainingInput(ModelManifest manifest) => null;

    /// <summary>
    /// Where the kind unlearns with losses of its own through the whole model (a decoder's answer tokens) rather than over the class scores
    /// of an edit site: how it does; null (the default) where the gate's <see cref="UnlearningProblem"/> describes its edits.
    /// </summary>
    public virtual KindUnlearning? Unlearning => null;

    /// <inheritdoc/>
    public virtual void Dispose()
    {
    }
}

/// <summary>How the edit site's output becomes class scores, for unlearning methods.</summary>
/// <param name="Fine">Per label, its direction in the site's output space.</param>
/// <param name="Coarse">Per coarse group, its direction; the same as <paramref name="Fine"/> where the groups have none of their own.</param>
/// <param name="CoarseHasOwnDirections">Whether coarse concepts are predicted among the groups' own directions (a dual encoder's group prompts).</param>
/// <param name="Normalized">Whether scores read the unit-length output (a dual encoder) rather than the raw scores.</param>
/// <param name="Scale">The score scale gradient methods use (a dual encoder's logit scale; 1 for raw scores).</param>
/// <param name="GradientMargin">The hinge margin of gradient methods, in score units.</param>
/// <param name="ClosedFormMargin">One unit of the closed form's margin, given the typical norm of the site's outputs on forget exemplars.</param>
internal sealed record ScoreSpace(
    IReadOnlyList<double[]> Fine, IReadOnlyList<double[]> Coarse, bool CoarseHasOwnDirections, bool Normalized, double Scale, double GradientMargin,
    Func<double, double> ClosedFormMargin)
{
    /// <summary>The directions of the fine (false) or coarse (true) space.</summary>
    public IReadOnlyList<double[]> Directions(bool coarse) => coarse ? Coarse : Fine;
}

/// <summary>How exemplar files become the model's input tensor, for training through the whole network.</summary>
/// <param name="Name">The model input fed.</param>
/// <param name="Shape">One exemplar's shape (the input's shape without the batch axis).</param>
/// <param name="Read">One exemplar's values (the product of <paramref name="Shape"/> floats), or null with why it cannot be read.</param>
internal sealed record TrainingInput(string Name, long[] Shape, Func<string, (float[]? Values, string? Problem)> Read)
{
    /// <summary>The images a manifest's <c>input</c> and <c>preprocess</c> describe, decoded as the probes decode them.</summary>
    public static TrainingInput Images(ModelManifest manifest)
    {
        var input = manifest.Input!;
        var preprocess = manifest.Preprocess!;
        var size = input.Channels * input.Height * input.Width;
        return new TrainingInput(input.Name, [.. input.Shape.Skip(1)], file =>
        {
            var values = new float[size];
            return ImageDecoder.TryDecode(file, input, preprocess, values) is { } problem ? (null, problem) : (values, null);
        });
    }
}

/// <summary>A kind's own unlearning: its default scope, the registry's methods it can run, and their candidates over a scope of the whole model.</summary>
internal abstract class KindUnlearning
{
    /// <summary>
    /// The scopes tried in turn where no policy writes <c>remedy.scope</c> and the request names none, cheapest first (each with every
    /// method's settings before the next); one that names nothing in the model is passed over.
    /// </summary>
    public abstract IReadOnlyList<IReadOnlyList<string>> DefaultScopes { get; }

    /// <summary>Why the kind cannot run <paramref name="method"/>, or null where it can.</summary>
    public abstract string? CannotRun(UnlearningMethod method);

    /// <summary>The method's candidates, gentlest first, each trained only when its turn comes; null after a coded error.</summary>
    public abstract IReadOnlyList<DeepCandidate>? Candidates(GradientMethod method, KindUnlearningProblem problem, DiagnosticBag diagnostics, SourceLocation? location);

    /// <summary>The kept edit's recovery profile (how much of each forget clause a linear probe reads at each depth, before and after); null where the kind records none.</summary>
    /// <param name="model">The original model.</param>
    /// <param name="weights">The kept edit's trained initializers.</param>
    /// <param name="clauses">Each policy's forget clauses: the policy, the concept and its exemplar files.</param>
    /// <param name="folder">The remediation's staging folder, where a model with more outputs may be written for ONNX Runtime to open.</param>
    public virtual IReadOnlyList<RecoveryDepth>? Recovery(global::Onnx.ModelProto model, IReadOnlyList<InitializerOverride> weights,
        IReadOnlyList<(string Policy, string Concept, IReadOnlyList<string> Files)> clauses, string folder) => null;
}

/// <summary>What a kind's own unlearning trains: the model, the initializers of the scope, and the exemplar files to forget and to keep.</summary>
/// <param name="Model">The original model.</param>
/// <param name="Artifact">The original artifact's path (its own session gives the retain terms' reference).</param>
/// <param name="Scope">The scope's entries, as the policy or command line gave them.</param>
/// <param name="Trained">The initializers they name, in the model's order.</param>
/// <param name="Forget">The exemplar files of the failing forget clauses' concepts that the edit is fitted on.</param>
/// <param name="Retain">The exemplar files of retained concepts and general sets that the edit is fitted on.</param>
internal sealed record KindUnlearningProblem(global::Onnx.ModelProto Model, string Artifact, IReadOnlyList<string> Scope, IReadOnlyList<string> Trained, IReadOnlyList<string> Forget, IReadOnlyList<string> Retain);
