using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Kinds;

namespace KtuGate.Models;

/// <summary>Reads a model manifest, reporting every problem with its file, line and column.</summary>
public static class ManifestParser
{
    private static readonly string[] s_layouts = ["NCHW", "NHWC"];
    private static readonly string[] s_colors = ["grayscale", "rgb"];

    /// <summary>
    /// The top-level fields: the common ones, every supported kind's section fields (a field of another kind's section gets a
    /// clearer error than "unknown"), then <c>editSite</c>, in the order the unknown-property message has always listed them.
    /// </summary>
    private static readonly string[] s_fields =
    [
        "ktuManifest", "kind", "description", "input", "preprocess", "output", "labels", "coarse",
        .. ManifestKinds.SectionReaders.SelectMany(r => r.Fields).Distinct(StringComparer.Ordinal), "editSite",
    ];

    /// <summary>The common fields only a model that takes images has.</summary>
    private static readonly string[] s_imageFields = ["input", "preprocess", "labels", "coarse"];

    /// <summary>The manifest path KtuGate looks for beside an artifact when none is named: <c>model.onnx</c> → <c>model.ktu.json</c>.</summary>
    public static string DefaultPathFor(string artifactPath)
        => Path.ChangeExtension(artifactPath, ".ktu.json");

    /// <summary>
    /// A manifest's bytes for a copy placed in <paramref name="toFolder"/>: the same text where it names no file by a relative path,
    /// else rewritten (comments dropped) with each relative path it names (<c>$schema</c>, the text tower's model and vocabulary) made
    /// relative to the new folder, so the copy names the same files.
    /// </summary>
    /// <param name="utf8">The manifest as read (already checked by <see cref="Load"/>).</param>
    /// <param name="fromFolder">The folder the manifest was read from.</param>
    /// <param name="toFolder">The folder the copy goes to.</param>
    public static byte[] Relocated(byte[] utf8, string fromFolder, string toFolder)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(utf8, null, new System.Text.Json.JsonDocumentOptions
        {
            CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        })!.AsObject();
        var moved = false;
        void Rebase(System.Text.Json.Nodes.JsonObject? owner, string name)
        {
            if (owner?[name] is System.Text.Json.Nodes.JsonArray items)
            {
                // A list of paths (a text encoder's fact files): each rebased the same way.
                for (var i = 0; i < items.Count; i++)
                {
                    if (items[i] is System.Text.Json.Nodes.JsonValue item && item.TryGetValue<string>(out var each) && Rebased(each) is { } rebasedItem)
                    {
                        items[i] = rebasedItem;
                    }
                }
            }
            else if (owner?[name] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var path) && Rebased(path) is { } rebased)
            {
                owner[name] = rebased;
            }
        }

        string? Rebased(string path)
        {
            if (Path.IsPathRooted(path) || Uri.TryCreate(path, UriKind.Absolute, out _))
            {
                return null;
            }

            var rebased = Path.GetRelativePath(toFolder, Path.GetFullPath(Path.Combine(fromFolder, path))).Replace('\\', '/');
            moved |= rebased != path;
            return rebased;
        }

        Rebase(root, "$schema");
        foreach (var (owner, field) in ManifestKinds.SectionReaders.SelectMany(r => r.Paths))
        {
            Rebase(root[owner] as System.Text.Json.Nodes.JsonObject, field);
        }
        if (!moved)
        {
            return utf8;
        }

        var text = root.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = Reporting.InertJsonEncoder.Instance,
            NewLine = "\n",
        });
        return System.Text.Encoding.UTF8.GetBytes(text + "\n");
    }

    /// <summary>Reads and checks a manifest file.</summary>
    /// <returns>The manifest, or null when it has errors.</returns>
    public static ModelManifest? Load(string path, DiagnosticBag diagnostics)
        => JsonDialect.Manifest.Load(path, null, diagnostics, (root, local) => Read(root, path, local));

    /// <summary>Checks a manifest's bytes.</summary>
    public static ModelManifest? Parse(byte[] utf8, string path, DiagnosticBag diagnostics)
        => JsonDialect.Manifest.Load(path, utf8, diagnostics, (root, local) => Read(root, path, local));

    private static ModelManifest? Read(JsonTreeObject rootObject, string path, DiagnosticBag diagnostics)
    {
        var top = new ObjectReader(rootObject, "the manifest", JsonDialect.Manifest, diagnostics, s_fields);
        var version = top.Integer("ktuManifest", 0, int.MaxValue, required: true);
        if (version is { } v && v != ModelManifest.FormatVersion)
        {
            top.Report(DiagnosticCodes.ManifestInvalid, top.Get("ktuManifest")!.Location,
                $"Manifest format version {v} is not supported; this KtuGate reads version {ModelManifest.FormatVersion}");
            return null;
        }

        top.String("description");
        var kindName = top.OneOf("kind", ManifestKinds.Names, required: true);
        if (kindName is not null && !ManifestKinds.Supported.Contains(ManifestKinds.Reserved[kindName]))
        {
            top.Report(DiagnosticCodes.ManifestInvalid, top.Get("kind")!.Location,
                $"Model kind '{kindName}' is reserved by the manifest format but not yet probed by this KtuGate; supported: "
                + string.Join(", ", ManifestKinds.Supported.Select(k => $"'{ManifestKinds.NameOf(k)}'")));
        }

        var sectionReader = kindName is null ? null : ManifestKinds.SectionReaders.FirstOrDefault(r => r.Kind == ManifestKinds.Reserved[kindName]);
        var section = ReadSection(top, path, kindName, sectionReader);

        // A kind whose model takes text has no image input, preprocessing or labels: its section says what it reads instead.
        var feedsImages = sectionReader?.FeedsImages != false;
        if (!feedsImages)
        {
            foreach (var name in s_imageFields.Where(n => top.Get(n) is not null))
            {
                top.Report(DiagnosticCodes.ManifestInvalid, top.Get(name)!.Location, $"'{name}' belongs to the manifest of a model that takes images, not a {kindName}");
            }
        }

        var input = feedsImages ? ReadInput(top) : null;
        var preprocess = feedsImages ? ReadPreprocess(top, input) : null;
        OutputSpec? output = null;
        if (top.Object("output", "'output'", true, "name") is { } o && o.String("name", required: true) is { } outputName)
        {
            output = new OutputSpec(outputName, o.Location);
        }

        var labels = feedsImages ? ReadLabels(top) : [];
        var coarse = feedsImages ? ReadCoarse(top, labels, diagnostics) : [];
        if (section is not null)
        {
            sectionReader?.CheckNames?.Invoke(section, labels, coarse, diagnostics);
        }

        if (diagnostics.HasErrors || kindName is null || section is null || (feedsImages && (input is null || preprocess is null)) || output is null)
        {
            return null;
        }

        return new ModelManifest(path, ManifestKinds.Reserved[kindName], input, preprocess, output, labels, coarse)
        {
            EditSite = top.String("editSite"),
            Section = section,
        };
    }

    /// <summary>The fine labels, in output order: at least one, none twice.</summary>
    private static List<string> ReadLabels(ObjectReader top)
    {
        var labelValues = top.Strings("labels", required: true);
        var labels = new List<string>();
        foreach (var label in labelValues)
        {
            if (labels.Contains(label.Value))
            {
                top.Report(DiagnosticCodes.ManifestInvalid, label.Location, $"Label '{label.Value}' is listed twice");
            }

            labels.Add(label.Value);
        }

        if (top.Get("labels") is JsonTreeArray { Items.Count: 0 } empty)
        {
            top.Report(DiagnosticCodes.ManifestInvalid, empty.Location, "'labels' must name at least one label");
        }

        return labels;
    }

    /// <summary>
    /// Delegates the kind's own fields to its section reader; a field another kind's section owns is an error here. Null when the
    /// kind is not supported (already reported) or its section has errors.
    /// </summary>
    private static ManifestSection? ReadSection(ObjectReader top, string path, string? kindName, ManifestSectionReader? reader)
    {
        foreach (var other in ManifestKinds.SectionReaders.Where(r => r != reader))
        {
            foreach (var name in other.Fields.Where(n => top.Get(n) is not null && reader?.Fields.Contains(n) != true))
            {
                top.Report(DiagnosticCodes.ManifestInvalid, top.Get(name)!.Location, $"'{name}' belongs to a {ManifestKinds.NameOf(other.Kind)} manifest, not a {kindName}");
            }
        }

        return reader?.Read(top, path);
    }

    private static InputSpec? ReadInput(ObjectReader top)
    {
        var reader = top.Object("input", "'input'", true, "name", "shape", "layout");
        if (reader is null)
        {
            return null;
        }

        var name = reader.String("name", required: true);
        var layoutName = reader.OneOf("layout", s_layouts) ?? "NCHW";
        var shapeArray = reader.Array("shape", required: true);
        if (shapeArray is null || name is null)
        {
            return null;
        }

        var shape = new List<long>();
        foreach (var dim in shapeArray.Items)
        {
            switch (dim)
            {
                case JsonTreeString:
                    shape.Add(-1);
                    break;
                case JsonTreeNumber n when n.Value == -1 || (n.Value >= 1 && n.Value == Math.Floor(n.Value)):
                    shape.Add((long)n.Value);
                    break;
                default:
                    reader.Report(DiagnosticCodes.ManifestInvalidValue, dim.Location, "shape[]", "a positive integer, -1 or a symbolic name", dim.KindName);
                    return null;
            }
        }

        if (shape.Count != 4 || shape.Skip(1).Any(d => d < 1))
        {
            reader.Report(DiagnosticCodes.ManifestInvalid, shapeArray.Location,
                $"An image classifier's input shape must be [batch, C, H, W] (NCHW) or [batch, H, W, C] (NHWC) with fixed C, H and W; got [{string.Join(", ", shape)}]");
            return null;
        }

        return new InputSpec(name, shape, layoutName == "NHWC" ? TensorLayout.Nhwc : TensorLayout.Nchw, reader.Location);
    }

    private static PreprocessSpec? ReadPreprocess(ObjectReader top, InputSpec? input)
    {
        var reader = top.Object("preprocess", "'preprocess'", true, "color", "scale", "mean", "std");
        if (reader is null)
        {
            return null;
        }

        var color = reader.OneOf("color", s_colors, required: true);
        var scale = reader.Number("scale", double.Epsilon, double.MaxValue) ?? 1.0 / 255;
        var channels = color == "rgb" ? 3 : 1;
        var mean = reader.Numbers("mean") ?? Enumerable.Repeat(0.0, channels).ToList();
        var std = reader.Numbers("std") ?? Enumerable.Repeat(1.0, channels).ToList();
        if (color is null)
        {
            return null;
        }

        if (mean.Count != channels || std.Count != channels)
        {
            reader.Report(DiagnosticCodes.ManifestInvalid, reader.Location, $"'mean' and 'std' need {channels} value(s) for color '{color}'");
            return null;
        }

        if (std.Any(s => s <= 0))
        {
            reader.Report(DiagnosticCodes.ManifestInvalid, reader.Location, "'std' values must be positive");
            return null;
        }

        if (input is not null && input.Channels != channels)
        {
            reader.Report(DiagnosticCodes.ManifestInvalid, reader.Location,
                $"Color '{color}' gives {channels} channel(s), but the input shape has {input.Channels}");
            return null;
        }

        return new PreprocessSpec(color == "rgb" ? ColorMode.Rgb : ColorMode.Grayscale, scale, mean, std);
    }

    private static List<CoarseGroup> ReadCoarse(ObjectReader top, List<string> labels, DiagnosticBag diagnostics)
    {
        var groups = new List<CoarseGroup>();
        var raw = top.RawObject("coarse");
        if (raw is null)
        {
            return groups;
        }

        var owner = new Dictionary<string, string>();
        foreach (var property in raw.Properties)
        {
            if (property.Value is not JsonTreeArray array)
            {
                diagnostics.Add(DiagnosticCodes.ManifestInvalidValue, property.Value.Location, property.Name, "an array of labels", property.Value.KindName);
                continue;
            }

            var members = new List<string>();
            foreach (var item in array.Items)
            {
                if (item is not JsonTreeString s)
                {
                    diagnostics.Add(DiagnosticCodes.ManifestInvalidValue, item.Location, property.Name + "[]", "a label", item.KindName);
                }
                else if (!labels.Contains(s.Value))
                {
                    diagnostics.Add(DiagnosticCodes.ManifestInvalid, s.Location, $"Coarse group '{property.Name}' names '{s.Value}', which is not in 'labels'");
                }
                else if (owner.TryGetValue(s.Value, out var other))
                {
                    diagnostics.Add(DiagnosticCodes.ManifestInvalid, s.Location, $"Label '{s.Value}' is in coarse groups '{other}' and '{property.Name}'; it may be in one");
                }
                else
                {
                    owner[s.Value] = property.Name;
                    members.Add(s.Value);
                }
            }

            // A group may share a label's name only where that label is in it (a group "dress" of the label "dress", or "shoe" of "shoe"
            // and "boot"): a concept of that name is then the label at fine level and its own group at coarse level. A group named after a
            // label it does not hold would make one name mean two unrelated things, one at each level.
            if (labels.Contains(property.Name) && !members.Contains(property.Name))
            {
                diagnostics.Add(DiagnosticCodes.ManifestInvalid, property.NameLocation,
                    $"Coarse group '{property.Name}' has the same name as a label it does not hold; a group may share a label's name only when that label is in it");
            }

            groups.Add(new CoarseGroup(property.Name, members));
        }

        return groups;
    }
}
