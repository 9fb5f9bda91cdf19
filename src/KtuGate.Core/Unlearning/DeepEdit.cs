using System.Globalization;
using KtuGate.Diagnostics;
using KtuGate.Gradients;
using KtuGate.Kinds;
using KtuGate.Onnx;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KtuGate.Unlearning;

/// <summary>A deep edit to try: a gradient method at one setting over a scope, trained only when its turn comes.</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Solve">
/// Trains, given an acceptance test asked at checkpoints with the trained initializers' current values, stopping at the first it accepts
/// (or, where the token is cancelled, before the next step with <see cref="OperationCanceledException"/>); returns the weights, the
/// settings as reports record them and how many parameters differ from the original's.
/// </param>
internal sealed record DeepCandidate(string Method, Func<Func<IReadOnlyList<InitializerOverride>, bool>, CancellationToken, (IReadOnlyList<InitializerOverride> Weights, string Settings, long Changed)> Solve);

/// <summary>What a deep edit trains: the model, the initializers its scope names and how exemplars become the model's input.</summary>
/// <param name="Model">The original model.</param>
/// <param name="Artifact">The original artifact's path (its own session gives the KL terms' reference).</param>
/// <param name="Scope">The scope's entries, as the policy or command line gave them.</param>
/// <param name="Trained">The initializers they name, in the model's order.</param>
/// <param name="Input">How an exemplar file becomes the model's input.</param>
/// <param name="Output">The tensor the class scores are read from (the edit site's output).</param>
internal sealed record DeepProblem(ModelProto Model, string Artifact, IReadOnlyList<string> Scope, IReadOnlyList<string> Trained, TrainingInput Input, string Output)
{
    /// <summary>Where a policy bounds the linear probe: the feature-level term tried after the output losses alone.</summary>
    public FeatureTerm? Feature { get; init; }
}

/// <summary>
/// The feature-level term of a deep edit: at the probe point (a graph tensor, the edit site's input), each forget exemplar's features are
/// pulled towards its siblings' original mean, and each retain exemplar's held to its own original features.
/// </summary>
/// <param name="Tensor">The probe point.</param>
/// <param name="ForgetTargets">Per forget exemplar file, the features it is pulled towards (its siblings' mean, as the original model gives them).</param>
internal sealed record FeatureTerm(string Tensor, IReadOnlyDictionary<string, float[]> ForgetTargets);

/// <summary>
/// Unlearning through the whole network: a gradient method's loss (<see cref="MethodLoss"/>) over the model's scores, differentiated with
/// respect to every initializer of the scope (<see cref="GradientBuilder"/>) and minimised by AdamW (<see cref="GradientTrainer"/>) on
/// mini-batches of the exemplars the last-layer methods are fitted on, fed as the model's inputs.
/// </summary>
/// <remarks>
/// The same exemplars, targets and per-exemplar weights as <see cref="GradientMethod"/>: forget terms weighted 1/#forget, the retain KL
/// λ/#retain and the coarse KL λ/#forget per batch. Settings are searched gentlest first; every <see cref="CheckpointInterval"/> steps the
/// caller's judge is asked, so a setting stops at its first passing checkpoint. Where the problem has a <see cref="FeatureTerm"/> (a policy
/// bounds the linear probe), settings with the feature-level term follow those with the output losses alone.
/// </remarks>
internal static class DeepEdit
{
    /// <summary>How often a setting's weights are offered to the judge.</summary>
    public const int CheckpointInterval = 10;

    /// <summary>The most steps one setting runs.</summary>
    public const int MaxSteps = 60;

    /// <summary>Forget exemplars per step (all of them where fewer).</summary>
    public const int ForgetBatch = 64;

    /// <summary>Retain exemplars per step (all of them where fewer).</summary>
    public const int RetainBatch = 128;

    /// <summary>AdamW's decay towards the original weights, as the last-layer methods use.</summary>
    private const double Decay = 1e-3;

    private static readonly double[] s_learningRates = [3e-4, 1e-3];

    /// <summary>The most steps a setting with the feature-level term runs: moving what lies below the last layer takes longer than moving its output.</summary>
    public const int FeatureSteps = 200;

    /// <summary>The feature-level term's weights tried (relative to the original features' mean squared norm), gentlest first.</summary>
    private static readonly double[] s_featureWeights = [30, 300];

    private static readonly double[] s_featureLearningRates = [1e-3, 3e-3];

    /// <summary>The settings a method tries over a deep scope, gentlest first: each learning rate with each of its KL weights.</summary>
    public static IReadOnlyList<GradientSettings> Search(GradientMethod method)
        => [.. from lr in s_learningRates from kl in method.Search.Select(s => s.KlWeight).Distinct() select new GradientSettings(method.Name, lr, kl, MaxSteps)];

    /// <summary>The method's deep edits of <paramref name="problem"/> over <paramref name="deep"/>'s scope, gentlest first.</summary>
    /// <returns>The candidates, or null after a coded error (KTU4010/KTU4011 from the gradient builder; KTU4013 where the scope cannot be trained).</returns>
    public static IReadOnlyList<DeepCandidate>? Candidates(GradientMethod method, UnlearningProblem problem, DeepProblem deep, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var scopeText = string.Join(", ", deep.Scope);
        if (!Trainable(deep.Model, deep.Trained, scopeText, diagnostics, location))
        {
            return null;
        }

        var (directions, groupOfClass, sampled) = GradientMethod.Setup(problem);
        var examples = new List<GradientExample>(sampled.Count);
        foreach (var (file, example) in sampled)
        {
            var (values, why) = deep.Input.Read(file);
            if (values is null)
            {
                diagnostics.Add(DiagnosticCodes.ExemplarUnreadable, new SourceLocation(file), file, why);
                return null;
            }

            examples.Add(example with { Activation = values });
        }

        var space = problem.Space;
        var loss = MethodLoss.Build(deep.Output, method.Term, directions, groupOfClass, space.Normalized, space.Scale, space.GradientMargin);
        var built = GradientBuilder.Build(deep.Model, deep.Trained, loss, diagnostics, deep.Artifact);
        if (built is null)
        {
            return null;
        }

        List<double[]> reference;
        try
        {
            reference = References(deep, examples, directions, space.Normalized, space.Scale);
        }
        catch (OnnxRuntimeException e)
        {
            diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, scopeText, $"the model did not run on a batch of exemplars ({e.Message})");
            return null;
        }

        var batches = new Batches(examples, directions.Count, reference, deep.Input, null);
        var settings = Search(method);
        if (deep.Feature is not { } feature)
        {
            return [.. settings.Select(setting => new DeepCandidate(method.Name, (accept, stop) => Train(built, (t, kl) => batches.Feeds(t, kl, 0), setting, scopeText, accept, stop)))];
        }

        var targets = sampled.Select(s => s.Example.Forbidden is null ? s.Example.Activation : feature.ForgetTargets.GetValueOrDefault(s.File)).ToList();
        var width = targets.First(t => t is not null)!.Length;
        var withFeatures = GradientBuilder.Build(deep.Model, deep.Trained,
            MethodLoss.Build(deep.Output, method.Term, directions, groupOfClass, space.Normalized, space.Scale, space.GradientMargin, (feature.Tensor, width)), diagnostics, deep.Artifact);
        if (withFeatures is null)
        {
            return null;
        }

        // The output losses alone first; only where they leave the concept readable, the feature-level term, with the strongest retention.
        var featureBatches = new Batches(examples, directions.Count, reference, deep.Input, targets);
        var kl = method.Search.Max(s => s.KlWeight);
        return [.. settings.Select(setting => new DeepCandidate(method.Name, (accept, stop) => Train(built, (t, k) => batches.Feeds(t, k, 0), setting, scopeText, accept, stop))),
                .. from lr in s_featureLearningRates
                   from weight in s_featureWeights
                   select new DeepCandidate(method.Name, (accept, stop) => Train(
                       withFeatures, (t, k) => featureBatches.Feeds(t, k, weight), new GradientSettings(method.Name, lr, kl, FeatureSteps), scopeText, accept, stop, weight))];
    }

    /// <summary>Whether every trained initializer is float32 stored in the model, which the trainer reads and overrides (else KTU4013).</summary>
    internal static bool Trainable(ModelProto model, IReadOnlyList<string> trained, string scopeText, DiagnosticBag diagnostics, SourceLocation? location)
    {
        var external = model.Graph.Initializer.FirstOrDefault(t => trained.Contains(t.Name)
            && (t.DataType != (int)TensorProto.Types.DataType.Float || t.DataLocation == TensorProto.Types.DataLocation.External));
        if (external is not null)
        {
            diagnostics.Add(DiagnosticCodes.ScopeNotTrainable, location, scopeText, $"weight '{external.Name}' is not float32 stored in the model");
        }

        return external is null;
    }

    /// <summary>One setting: AdamW from the original weights until the judge accepts a checkpoint or the steps run out.</summary>
    /// <remarks>
    /// Step t is fed <paramref name="feeds"/>(t, the setting's KL weight), one batch in one or more parts; a kind's own edit (a decoder's, in Kinds/CausalLm) trains the same way on
    /// its own batches. <paramref name="featureWeight"/>, where the loss has a feature-level term, is recorded in the settings' text.
    /// <paramref name="shapesVary"/>: the batches' shapes change from step to step (padded token sequences). <paramref name="stop"/> is
    /// asked before each step.
    /// </remarks>
    internal static (IReadOnlyList<InitializerOverride>, string, long) Train(
        GradientModel built, Func<int, double, IReadOnlyList<IReadOnlyDictionary<string, Func<OrtValue>>>> feeds, GradientSettings settings, string scope,
        Func<IReadOnlyList<InitializerOverride>, bool> accept, CancellationToken stop, double? featureWeight = null, bool shapesVary = false)
    {
        // Batches of texts change shape every step (texts, tokens, candidates): ONNX Runtime's per-shape memory patterns and its arena
        // would keep every step's blocks (measured: MiniLM over 16 GB within a few dozen steps), so such a trainer allocates per run. Basic
        // graph optimisations only: the full set took longer to open (14.2 s against 12.1 s for MiniLM's) and no step ran faster.
        using var options = shapesVary ? new SessionOptions { EnableMemoryPattern = false, EnableCpuMemArena = false, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC } : null;
        using var trainer = new GradientTrainer(built, options);
        var shapes = built.Weights.ToDictionary(w => w.Name, w => w.Dims.ToArray());
        IReadOnlyList<InitializerOverride> Current() => [.. trainer.Weights.Select(w => new InitializerOverride(w.Key, (float[])w.Value.Clone(), shapes[w.Key]))];
        var feature = featureWeight is { } f ? string.Create(CultureInfo.InvariantCulture, $" feature={f}") : string.Empty;
        string Text(int steps) => string.Create(CultureInfo.InvariantCulture, $"scope={scope} lr={settings.LearningRate} kl={settings.KlWeight}{feature} steps={steps}");
        for (var step = 1; step <= settings.Steps; step++)
        {
            // A step through a large network takes seconds and a setting minutes: Ctrl+C is heard between steps, not only between settings.
            stop.ThrowIfCancellationRequested();
            trainer.Step(feeds(step - 1, settings.KlWeight), settings.LearningRate, Decay);
            if (step % CheckpointInterval == 0 && step < settings.Steps && Current() is var weights && accept(weights))
            {
                return (weights, Text(step), trainer.ChangedParameters);
            }
        }

        return (Current(), Text(settings.Steps), trainer.ChangedParameters);
    }

    /// <summary>The original model's class distribution on each exemplar: the KL terms' reference.</summary>
    private static List<double[]> References(DeepProblem deep, IReadOnlyList<GradientExample> examples, IReadOnlyList<double[]> directions, bool normalize, double scale)
    {
        _ = Probing.SessionFactory.OnnxRuntimeVersion;
        using var session = new InferenceSession(deep.Artifact);
        var size = deep.Input.Shape.Aggregate(1L, (a, b) => a * b);
        var reference = new List<double[]>(examples.Count);
        const int block = 64;
        for (var start = 0; start < examples.Count; start += block)
        {
            var count = Math.Min(block, examples.Count - start);
            var values = new float[count * size];
            for (var k = 0; k < count; k++)
            {
                examples[start + k].Activation.CopyTo(values, k * size);
            }

            using var input = OrtValue.CreateTensorValueFromMemory(values, [count, .. deep.Input.Shape]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, [deep.Input.Name], [input], [deep.Output]);
            var y = outputs[0].GetTensorDataAsSpan<float>();
            var width = y.Length / count;
            for (var k = 0; k < count; k++)
            {
                var row = new double[width];
                for (var o = 0; o < width; o++)
                {
                    row[o] = y[k * width + o];
                }

                reference.Add(GradientEdit.Softmax(GradientEdit.ScoresOf(row, directions, normalize, scale)));
            }
        }

        return reference;
    }

    /// <summary>The mini-batches: step t takes the next <see cref="ForgetBatch"/> forget and <see cref="RetainBatch"/> retain exemplars, cycling, fed in <see cref="GradientTrainer.Parts"/>.</summary>
    /// <remarks>Where <c>targets</c> are given (per exemplar, its probe-point target; null for a forget exemplar with none), the feature-level term is fed too.</remarks>
    private sealed class Batches(IReadOnlyList<GradientExample> examples, int classes, IReadOnlyList<double[]> reference, TrainingInput input, IReadOnlyList<float[]?>? targets)
    {
        private readonly int[] _forget = [.. Enumerable.Range(0, examples.Count).Where(i => examples[i].Forbidden is not null)];
        private readonly int[] _retain = [.. Enumerable.Range(0, examples.Count).Where(i => examples[i].Forbidden is null)];

        // The term is scaled by the original features' mean squared norm, so that its weight means the same whatever their magnitude.
        private readonly double _featureScale = targets is null ? 1 : targets.OfType<float[]>().Average(t => t.Sum(x => (double)x * x)) + 1e-12;

        public IReadOnlyList<IReadOnlyDictionary<string, Func<OrtValue>>> Feeds(int step, double klWeight, double featureWeight)
        {
            var f = Math.Min(ForgetBatch, _forget.Length);
            var r = Math.Min(RetainBatch, _retain.Length);
            var batch = Enumerable.Range(0, f).Select(i => _forget[(step * f + i) % _forget.Length])
                .Concat(Enumerable.Range(0, r).Select(j => _retain[(step * r + j) % _retain.Length])).ToArray();
            var size = input.Shape.Aggregate(1L, (a, b) => a * b);

            // Each part is weighted as a share of the whole batch (1/f, λ/r), so that the parts' losses add up to the batch's.
            return [.. GradientTrainer.Parts(batch.Length, size).Select(p => Part(batch[p.Start..(p.Start + p.Count)], f, r, size, klWeight, featureWeight))];
        }

        private Dictionary<string, Func<OrtValue>> Part(int[] rows, int f, int r, long size, double klWeight, double featureWeight)
        {
            var n = rows.Length;
            double[] Mask(Func<GradientExample, int, bool> picked)
            {
                var mask = new double[n * classes];
                for (var k = 0; k < n; k++)
                {
                    for (var c = 0; c < classes; c++)
                    {
                        mask[k * classes + c] = picked(examples[rows[k]], c) ? 1 : 0;
                    }
                }

                return mask;
            }

            double[] PerRow(Func<GradientExample, double> value) => [.. rows.Select(k => value(examples[k]))];
            static bool Forgets(GradientExample e) => e.Forbidden is not null;
            var feeds = new Dictionary<string, Func<OrtValue>>
            {
                [input.Name] = () =>
                {
                    var values = new float[n * size];
                    for (var k = 0; k < n; k++)
                    {
                        examples[rows[k]].Activation.CopyTo(values, k * size);
                    }

                    return OrtValue.CreateTensorValueFromMemory(values, [n, .. input.Shape]);
                },
                [MethodLoss.Forbidden] = () => OrtValue.CreateTensorValueFromMemory(Mask((e, c) => e.Forbidden?.Contains(c) == true), [n, classes]),
                [MethodLoss.Allowed] = () => OrtValue.CreateTensorValueFromMemory(Mask((e, c) => e.Allowed?.Contains(c) == true), [n, classes]),
                [MethodLoss.Reference] = () => OrtValue.CreateTensorValueFromMemory(rows.SelectMany(k => reference[k]).ToArray(), [n, classes]),
                [MethodLoss.IsForget] = () => OrtValue.CreateTensorValueFromMemory(PerRow(e => Forgets(e) ? 1 : 0), [n]),
                [MethodLoss.ForgetWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(e => Forgets(e) ? 1.0 / f : 0), [n]),
                [MethodLoss.RetainWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(e => Forgets(e) ? 0 : klWeight / r), [n]),
                [MethodLoss.CoarseWeight] = () => OrtValue.CreateTensorValueFromMemory(PerRow(e => Forgets(e) && e.KeepCoarse ? klWeight / f : 0), [n]),
            };
            if (targets is not null)
            {
                var width = targets.OfType<float[]>().First().Length;
                feeds[MethodLoss.FeatureTarget] = () =>
                {
                    var values = new double[n * width];
                    for (var k = 0; k < n; k++)
                    {
                        if (targets[rows[k]] is { } target)
                        {
                            for (var j = 0; j < width; j++)
                            {
                                values[k * width + j] = target[j];
                            }
                        }
                    }

                    return OrtValue.CreateTensorValueFromMemory(values, [n, width]);
                };
                feeds[MethodLoss.FeatureWeight] = () => OrtValue.CreateTensorValueFromMemory(
                    rows.Select(k => targets[k] is null ? 0 : featureWeight / (Forgets(examples[k]) ? f : r) / _featureScale).ToArray(), [n]);
            }

            return feeds;
        }
    }
}
