using KtuGate.Diagnostics;

namespace KtuGate.Probing;

/// <summary>
/// One exemplar a probe runs, with where it comes from: an image file (<see cref="ImageExemplar"/>), or a record at a line of a record
/// file (a text encoder's fact, a language model's question). A kind loads its exemplars from a concept's files
/// (<c>KindSession.Exemplars</c>); its probe reads the exemplar types it loads.
/// </summary>
/// <param name="Source">Where the exemplar is: its file, and its line in the file where the file holds records (0 for a whole file).</param>
public abstract record Exemplar(SourceLocation Source)
{
    /// <summary>The file the exemplar comes from.</summary>
    public string File => Source.File;

    /// <summary>Each file as an image exemplar, in order.</summary>
    /// <param name="files">Image files.</param>
    public static IReadOnlyList<Exemplar> Images(IEnumerable<string> files) => [.. files.Select(f => new ImageExemplar(f))];

    /// <summary>The file of each of <paramref name="exemplars"/>, in order (an image probe's input: one exemplar per file).</summary>
    /// <param name="exemplars">The exemplars.</param>
    public static IEnumerable<string> Files(IEnumerable<Exemplar> exemplars) => exemplars.Select(e => e.File);
}

/// <summary>An image file: decoded, resized and normalised as the manifest says when a probe runs it (KTU2008 when it is not an image).</summary>
/// <param name="Path">The image file.</param>
public sealed record ImageExemplar(string Path) : Exemplar(new SourceLocation(Path));
