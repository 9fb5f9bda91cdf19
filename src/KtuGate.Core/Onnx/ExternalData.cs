using System.Globalization;
using KtuGate.Diagnostics;
using Onnx;

namespace KtuGate.Onnx;

/// <summary>Where one tensor's bytes lie outside the model file, checked.</summary>
/// <param name="Tensor">The tensor's name.</param>
/// <param name="Location">The location as the model gives it, relative to the model's folder.</param>
/// <param name="Offset">Where its bytes start in the file.</param>
/// <param name="Length">How many bytes it has.</param>
public sealed record ExternalTensor(string Tensor, string Location, long Offset, long Length);

/// <summary>A model's external data that may not be read: the diagnostic that says why.</summary>
public sealed class ExternalDataException(Diagnostic diagnostic) : Exception(diagnostic.Message)
{
    /// <summary>The coded, located problem.</summary>
    public Diagnostic Diagnostic { get; } = diagnostic;
}

/// <summary>The one reader of ONNX external data: every reference is checked before any byte is read.</summary>
/// <remarks>
/// Both the verify path (before ONNX Runtime opens a model) and remediation (which reads an edit site's weights itself) go through
/// here, so a hostile reference gets the same coded, located error everywhere: a location outside the model's folder (KTU4002),
/// an entry ONNX does not define or defines twice (KTU2025), a link, FIFO, device, folder or hard-linked file (KTU2026), and an
/// offset or length that is not a number or lies beyond the file or the tensor's size (KTU2027).
/// </remarks>
public static class ExternalData
{
    /// <summary>ONNX Runtime's marker for tensors held in memory by address; a file on disk must never carry it.</summary>
    private const string MemoryAddressMarker = "*/_ORT_MEM_ADDR_/*";

    private static readonly HashSet<string> s_keys = new(StringComparer.Ordinal) { "location", "offset", "length", "checksum" };

    /// <summary>Every tensor of the model, in the graph, its nodes' attributes and their subgraphs.</summary>
    public static IEnumerable<TensorProto> Tensors(ModelProto model) => Tensors(model.Graph);

    /// <summary>Checks every external-data reference of a model without reading its bytes.</summary>
    /// <param name="model">The parsed model.</param>
    /// <param name="modelPath">The model file; locations are relative to its folder, and diagnostics point at it.</param>
    /// <param name="diagnostics">Receives one error per refused reference.</param>
    /// <returns>The checked references, or null when one was refused.</returns>
    public static IReadOnlyList<ExternalTensor>? Check(ModelProto model, string modelPath, DiagnosticBag diagnostics)
    {
        var result = new List<ExternalTensor>();
        var ok = true;
        foreach (var tensor in Tensors(model).Where(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            try
            {
                result.Add(Resolve(tensor, modelPath));
            }
            catch (ExternalDataException e)
            {
                diagnostics.Add(e.Diagnostic);
                ok = false;
            }
        }

        return ok ? result : null;
    }

    /// <summary>The distinct external-data files of a model, relative to its folder, in order.</summary>
    public static IReadOnlyList<string> Files(ModelProto model)
        => Tensors(model).Where(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .Select(t => t.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? string.Empty)
            .Where(l => l.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();

    /// <summary>Checks one tensor's reference against its file (opened without reading).</summary>
    /// <exception cref="ExternalDataException">The reference is refused.</exception>
    public static ExternalTensor Resolve(TensorProto tensor, string modelPath)
    {
        Diagnostic Refuse(DiagnosticDescriptor code, params object?[] args) => code.Create(new SourceLocation(modelPath), args);

        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in tensor.ExternalData)
        {
            if (!s_keys.Contains(entry.Key))
            {
                throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, $"unknown key '{entry.Key}' (ONNX defines location, offset, length and checksum)"));
            }

            if (!entries.TryAdd(entry.Key, entry.Value))
            {
                throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, $"the key '{entry.Key}' is given twice"));
            }
        }

        var location = entries.GetValueOrDefault("location") ?? string.Empty;
        if (location == MemoryAddressMarker || location.Contains("_ORT_MEM_ADDR_", StringComparison.Ordinal))
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, "the location is ONNX Runtime's in-memory marker, which a model file must never carry"));
        }

        if (ContainedFile.LocationProblem(location) is { } locationProblem)
        {
            throw new ExternalDataException(location.Length == 0 || locationProblem.Contains("canonical", StringComparison.Ordinal) || locationProblem.Contains("NUL", StringComparison.Ordinal)
                ? Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, locationProblem + (location.Length == 0 ? string.Empty : $" ('{location}')"))
                : Refuse(DiagnosticCodes.ExternalDataEscapes, tensor.Name, location));
        }

        var offset = Number(entries, "offset", tensor.Name, Refuse) ?? 0;
        var length = Number(entries, "length", tensor.Name, Refuse);
        var expected = ExpectedBytes(tensor);
        if (tensor.RawData.Length > 0 || tensor.FloatData.Count > 0 || tensor.Int64Data.Count > 0 || tensor.Int32Data.Count > 0 || tensor.DoubleData.Count > 0)
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, "it holds data inline as well as externally"));
        }

        if (expected is null)
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataEntryInvalid, tensor.Name, "its element type or shape cannot be stored externally (unknown type, strings, or a negative dimension)"));
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        using var stream = ContainedFile.Open(folder, location, out var problem);
        if (stream is null)
        {
            throw new ExternalDataException(problem == "the location leaves the model's folder"
                ? Refuse(DiagnosticCodes.ExternalDataEscapes, tensor.Name, location)
                : Refuse(DiagnosticCodes.ExternalDataNotPlainFile, location, $" (tensor '{tensor.Name}')", problem));
        }

        var size = stream.Length;
        if (offset > size)
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataOutOfRange, tensor.Name, location, $"offset {offset} lies beyond the file's {size} bytes"));
        }

        var actual = length ?? size - offset;
        if (actual > size - offset)
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataOutOfRange, tensor.Name, location, $"{actual} bytes from offset {offset} run past the file's {size} bytes"));
        }

        if (actual != expected)
        {
            throw new ExternalDataException(Refuse(DiagnosticCodes.ExternalDataOutOfRange, tensor.Name, location, $"the tensor's shape needs {expected} bytes, but {actual} are given"));
        }

        return new ExternalTensor(tensor.Name, location, offset, actual);
    }

    /// <summary>Reads a tensor's external bytes, checking the reference again as the file is opened.</summary>
    /// <exception cref="ExternalDataException">The reference is refused (the file may have changed since it was checked).</exception>
    public static byte[] Read(TensorProto tensor, string modelPath)
    {
        var reference = Resolve(tensor, modelPath);
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        using var stream = ContainedFile.Open(folder, reference.Location, out var problem)
            ?? throw new ExternalDataException(DiagnosticCodes.ExternalDataNotPlainFile.Create(new SourceLocation(modelPath), reference.Location, $" (tensor '{tensor.Name}')", problem));
        if (reference.Length > Array.MaxLength)
        {
            throw new ExternalDataException(DiagnosticCodes.ModelTooLarge.Create(new SourceLocation(modelPath), $"tensor '{tensor.Name}'", reference.Length, Array.MaxLength));
        }

        var bytes = new byte[reference.Length];
        stream.Seek(reference.Offset, SeekOrigin.Begin);
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Copies an external-data file of the model at <paramref name="modelPath"/> to <paramref name="target"/>, checked as it is opened.</summary>
    /// <exception cref="ExternalDataException">The file is refused.</exception>
    public static void CopyFile(string modelPath, string location, string target)
    {
        using var source = OpenFile(modelPath, location);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        using var destination = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        source.CopyTo(destination);
        destination.Flush(flushToDisk: true);
    }

    /// <summary>Opens an external-data file of the model at <paramref name="modelPath"/> for reading, under the same rules.</summary>
    /// <exception cref="ExternalDataException">The file is refused.</exception>
    public static FileStream OpenFile(string modelPath, string location)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        return ContainedFile.Open(folder, location, out var problem)
            ?? throw new ExternalDataException(DiagnosticCodes.ExternalDataNotPlainFile.Create(new SourceLocation(modelPath), location, string.Empty, problem));
    }

    /// <summary>The bytes a tensor's shape and element type need, or null when it cannot say (strings, unknown types, bad dimensions).</summary>
    public static long? ExpectedBytes(TensorProto tensor)
    {
        var size = ElementSize(tensor.DataType);
        if (size is null || tensor.Dims.Any(d => d < 0))
        {
            return null;
        }

        // Saturates instead of overflowing: a shape claiming more than long.MaxValue bytes is reported as that.
        var total = (double)size.Value;
        foreach (var d in tensor.Dims)
        {
            total *= d;
        }

        return total >= long.MaxValue ? long.MaxValue : (long)total;
    }

    /// <summary>Bytes per element of an ONNX tensor type, or null for strings and unknown types.</summary>
    public static int? ElementSize(int dataType) => (TensorProto.Types.DataType)dataType switch
    {
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Complex64 => 8,
        TensorProto.Types.DataType.Complex128 => 16,
        TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
        TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => 1,

        // The float8 types (17 to 20) are newer than this build of the ONNX protobuf classes; 4-bit types pack two per byte and are refused.
        (TensorProto.Types.DataType)17 or (TensorProto.Types.DataType)18 or (TensorProto.Types.DataType)19 or (TensorProto.Types.DataType)20 => 1,
        _ => null,
    };

    private static long? Number(Dictionary<string, string> entries, string key, string tensor, Func<DiagnosticDescriptor, object?[], Diagnostic> refuse)
    {
        if (!entries.TryGetValue(key, out var text))
        {
            return null;
        }

        // Digits only: no sign, no spaces, no hex; a value beyond long is refused rather than wrapped.
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new ExternalDataException(refuse(DiagnosticCodes.ExternalDataEntryInvalid, [tensor, $"'{key}' is '{text}', not a non-negative whole number that fits in 64 bits"]));
        }

        return value;
    }

    private static IEnumerable<TensorProto> Tensors(GraphProto graph)
    {
        foreach (var t in graph.Initializer)
        {
            yield return t;
        }

        foreach (var s in graph.SparseInitializer)
        {
            yield return s.Values;
            yield return s.Indices;
        }

        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                if (attribute.T is not null)
                {
                    yield return attribute.T;
                }

                foreach (var t in attribute.Tensors)
                {
                    yield return t;
                }

                foreach (var sub in (attribute.G is null ? [] : new[] { attribute.G }).Concat(attribute.Graphs))
                {
                    foreach (var t in Tensors(sub))
                    {
                        yield return t;
                    }
                }
            }
        }
    }
}
