using KtuGate.Diagnostics;
using KtuGate.Kinds;

namespace KtuGate.Models;

/// <summary>What a model artifact is and how to run it: the manifest beside the ONNX file.</summary>
/// <param name="Path">The manifest file as given.</param>
/// <param name="Kind">The model kind.</param>
/// <param name="Input">The image tensor the probes feed, or null for a kind whose model takes text (its section names its inputs).</param>
/// <param name="Preprocess">How an exemplar image becomes that tensor, or null for a kind whose model takes text.</param>
/// <param name="Output">The tensor the probes read.</param>
/// <param name="Labels">The fine labels, in output order (none for a kind whose knowledge is not labels, e.g. facts).</param>
/// <param name="Coarse">Coarse groups: each names the fine labels that belong to it.</param>
public sealed record ModelManifest(
    string Path,
    ModelKind Kind,
    InputSpec? Input,
    PreprocessSpec? Preprocess,
    OutputSpec Output,
    IReadOnlyList<string> Labels,
    IReadOnlyList<CoarseGroup> Coarse)
{
    /// <summary>The linear layer remediation edits (a MatMul or Gemm node's name), or null for the last one before the output.</summary>
    public string? EditSite { get; init; }

    /// <summary>The kind's own part of the manifest, read by the kind's section reader (see <see cref="ManifestKinds"/>).</summary>
    public ManifestSection Section { get; init; } = ManifestSection.None;

    /// <summary>The kind's section as the type its kind reads.</summary>
    /// <exception cref="InvalidOperationException">The manifest's section is of another kind (a bug: the parser pairs them).</exception>
    public T SectionAs<T>()
        where T : ManifestSection
        => Section as T ?? throw new InvalidOperationException($"The manifest '{Path}' has no {typeof(T).Name}; its kind is {Kind}.");

    /// <summary>The format version this build reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The coarse group index of each fine label, or -1 for a label in no group.</summary>
    public IReadOnlyList<int> CoarseOfLabel { get; } = Labels.Select(l => FindGroup(Coarse, l)).ToArray();

    private static int FindGroup(IReadOnlyList<CoarseGroup> coarse, string label)
    {
        for (var i = 0; i < coarse.Count; i++)
        {
            if (coarse[i].Labels.Contains(label))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>The kinds of model a manifest can describe.</summary>
public enum ModelKind
{
    /// <summary>An image classifier: one score per fine label.</summary>
    Classifier,

    /// <summary>An image tower and a text tower compared by similarity (CLIP-style).</summary>
    DualEncoder,

    /// <summary>A text embedding model.</summary>
    TextEmbedding,

    /// <summary>A causal language model.</summary>
    CausalLm,
}

/// <summary>How tensor dimensions are ordered.</summary>
public enum TensorLayout
{
    /// <summary>Batch, channels, height, width.</summary>
    Nchw,

    /// <summary>Batch, height, width, channels.</summary>
    Nhwc,
}

/// <summary>The model input the probes feed.</summary>
/// <param name="Name">The ONNX input name.</param>
/// <param name="Shape">The shape; -1 marks a dimension the model leaves free (the batch).</param>
/// <param name="Layout">The dimension order.</param>
/// <param name="Location">Where the input is described.</param>
public sealed record InputSpec(string Name, IReadOnlyList<long> Shape, TensorLayout Layout, SourceLocation Location)
{
    /// <summary>Channels per pixel, from the shape and layout.</summary>
    public int Channels => (int)Shape[Layout == TensorLayout.Nchw ? 1 : 3];

    /// <summary>Height in pixels.</summary>
    public int Height => (int)Shape[Layout == TensorLayout.Nchw ? 2 : 1];

    /// <summary>Width in pixels.</summary>
    public int Width => (int)Shape[Layout == TensorLayout.Nchw ? 3 : 2];
}

/// <summary>How an image becomes an input tensor: resize, colour, then <c>(pixel * scale - mean) / std</c> per channel.</summary>
/// <param name="Color">Grayscale or RGB.</param>
/// <param name="Scale">Multiplies the 0-255 pixel value first.</param>
/// <param name="Mean">Per-channel mean subtracted after scaling.</param>
/// <param name="Std">Per-channel standard deviation divided by last.</param>
public sealed record PreprocessSpec(ColorMode Color, double Scale, IReadOnlyList<double> Mean, IReadOnlyList<double> Std);

/// <summary>How pixels become channels.</summary>
public enum ColorMode
{
    /// <summary>One channel of luminance.</summary>
    Grayscale,

    /// <summary>Three channels, red, green, blue.</summary>
    Rgb,
}

/// <summary>The model output the probes read.</summary>
/// <param name="Name">The ONNX output name.</param>
/// <param name="Location">Where the output is described.</param>
public sealed record OutputSpec(string Name, SourceLocation Location);

/// <summary>A coarse concept of the model and the fine labels under it.</summary>
public sealed record CoarseGroup(string Name, IReadOnlyList<string> Labels);
