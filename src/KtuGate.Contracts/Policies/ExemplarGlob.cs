using System.Text.RegularExpressions;

namespace KtuGate.Policies;

/// <summary>Expands exemplar globs (<c>*</c>, <c>?</c>, <c>**</c>) relative to a root folder they cannot leave.</summary>
/// <remarks>
/// A pattern that is rooted or climbs above its root with <c>..</c> is refused before any file is listed, so a policy
/// cannot read files outside its own folder. Symbolic links cannot take it out either: a link to a folder is never
/// followed (it could lead outside, or round in a loop), and a linked file is taken only when its real path is an
/// existing file inside the root; every link refused is reported, never silently skipped, because a gate must not
/// probe something other than what its policy says. One pattern matches at most <see cref="MaxFiles"/> files.
/// </remarks>
public static class ExemplarGlob
{
    /// <summary>The most files one pattern may match (100,000): more is an error, so a mistaken pattern cannot exhaust memory or time.</summary>
    public const int MaxFiles = 100_000;

    // Links that point to links: the most hops followed before a chain counts as a loop (Linux's own limit).
    private const int MaxLinkHops = 40;

    private static readonly EnumerationOptions s_listing = new()
    {
        // Hidden and system files are listed as before: the pattern, not the file's attributes, decides.
        AttributesToSkip = 0,
        IgnoreInaccessible = false,
        RecurseSubdirectories = false,
        MatchType = MatchType.Simple,
    };

    private static readonly StringComparison s_pathComparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
        ? StringComparison.OrdinalIgnoreCase
        : StringComparison.Ordinal;

    /// <summary>Whether the pattern stays inside its root folder.</summary>
    public static bool StaysInside(string pattern)
    {
        if (pattern.Length == 0 || Path.IsPathRooted(pattern) || pattern[0] is '/' or '\\' || (pattern.Length > 1 && pattern[1] == ':'))
        {
            return false;
        }

        var depth = 0;
        foreach (var segment in Split(pattern))
        {
            depth += segment switch
            {
                "." => 0,
                ".." => -1,
                _ => 1,
            };
            if (depth < 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Lists the files under <paramref name="root"/> that match the pattern, sorted ordinally by path so every run sees the same order, and every link or folder it refused.</summary>
    /// <param name="root">The folder the pattern is relative to.</param>
    /// <param name="pattern">The glob; it must satisfy <see cref="StaysInside"/>.</param>
    /// <param name="maxFiles">The most files the pattern may match; <see cref="MaxFiles"/> unless a caller needs less.</param>
    /// <returns>The files, and the problems met on the way. Files are only meaningful when there are no problems.</returns>
    public static ExemplarGlobResult Expand(string root, string pattern, int maxFiles = MaxFiles)
    {
        if (!StaysInside(pattern))
        {
            throw new ArgumentException($"Pattern '{pattern}' leaves its folder.", nameof(pattern));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFiles);
        var fullRoot = Path.GetFullPath(root);
        var walker = new Walker(RealPath(fullRoot) ?? fullRoot, maxFiles);
        if (Directory.Exists(fullRoot))
        {
            walker.Walk(fullRoot, Normalize(Split(pattern)), 0);
        }

        return new ExemplarGlobResult(walker.Files.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(), walker.Problems);
    }

    private static string[] Split(string pattern)
        => pattern.Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries);

    private static List<string> Normalize(string[] segments)
    {
        var result = new List<string>();
        foreach (var segment in segments)
        {
            if (segment == ".")
            {
                continue;
            }

            if (segment == "..")
            {
                result.RemoveAt(result.Count - 1);
                continue;
            }

            result.Add(segment);
        }

        return result;
    }

    private static bool HasWildcard(string segment) => segment.AsSpan().IndexOfAny('*', '?') >= 0;

    private static Regex ToRegex(string segment)
        => new("^" + Regex.Escape(segment).Replace(@"\*", "[^/]*", StringComparison.Ordinal).Replace(@"\?", "[^/]", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);

    /// <summary>The path with every symbolic link in it resolved, like POSIX realpath; null for a loop of links.</summary>
    private static string? RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var result = Path.GetPathRoot(full)!;
        var pending = new List<string>(Split(full[result.Length..]));
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending[0];
            pending.RemoveAt(0);
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                // The result so far holds no links, so its lexical parent is its real parent.
                result = Path.GetDirectoryName(result) ?? result;
                continue;
            }

            var candidate = Path.Combine(result, part);
            var target = new FileInfo(candidate).LinkTarget;
            if (target is null)
            {
                result = candidate;
                continue;
            }

            if (++hops > MaxLinkHops)
            {
                return null;
            }

            // The target's own parts are resolved in turn (they may hold links and '..'), before the rest of the path.
            if (Path.IsPathRooted(target))
            {
                result = Path.GetPathRoot(Path.GetFullPath(target))!;
                target = Path.GetFullPath(target)[result.Length..];
            }

            pending.InsertRange(0, Split(target));
        }

        return result;
    }

    /// <summary>One expansion's state: the real root, the files found and the problems met.</summary>
    private sealed class Walker(string realRoot, int maxFiles)
    {
        public List<string> Files { get; } = [];

        public List<ExemplarGlobProblem> Problems { get; } = [];

        private bool Stopped => Problems.Any(p => p.Kind == ExemplarGlobProblemKind.TooManyFiles);

        public void Walk(string folder, List<string> segments, int index)
        {
            if (Stopped)
            {
                return;
            }

            var segment = segments[index];
            var last = index == segments.Count - 1;
            if (segment == "**")
            {
                if (last)
                {
                    AllFilesBelow(folder);
                    return;
                }

                // "**" matches zero folders here, or any folder below.
                Walk(folder, segments, index + 1);
                foreach (var child in FoldersBelow(folder))
                {
                    Walk(child, segments, index + 1);
                }

                return;
            }

            if (!HasWildcard(segment))
            {
                var path = Path.Combine(folder, segment);
                var info = new FileInfo(path);
                if (info.LinkTarget is not null)
                {
                    Link(info, asFolder: !last);
                }
                else if (last && info.Exists)
                {
                    Add(path);
                }
                else if (!last && Directory.Exists(path))
                {
                    Walk(path, segments, index + 1);
                }

                return;
            }

            var regex = ToRegex(segment);
            foreach (var entry in List(folder).Where(e => regex.IsMatch(e.Name)))
            {
                if (entry.LinkTarget is not null)
                {
                    // A link to a folder where a file is wanted is no match, as a folder is not.
                    if (!(last && entry is DirectoryInfo))
                    {
                        Link(entry, asFolder: !last);
                    }
                }
                else if (last && entry is FileInfo)
                {
                    Add(entry.FullName);
                }
                else if (!last && entry is DirectoryInfo)
                {
                    Walk(entry.FullName, segments, index + 1);
                }
            }
        }

        private void AllFilesBelow(string folder)
        {
            foreach (var entry in List(folder))
            {
                if (Stopped)
                {
                    return;
                }

                if (entry.LinkTarget is not null)
                {
                    Link(entry, asFolder: false);
                }
                else if (entry is DirectoryInfo)
                {
                    AllFilesBelow(entry.FullName);
                }
                else
                {
                    Add(entry.FullName);
                }
            }
        }

        /// <summary>Every real folder below <paramref name="folder"/>, depth first; links to folders are reported, not entered.</summary>
        private IEnumerable<string> FoldersBelow(string folder)
        {
            foreach (var entry in List(folder).Where(e => e is DirectoryInfo))
            {
                if (Stopped)
                {
                    yield break;
                }

                if (entry.LinkTarget is not null)
                {
                    Link(entry, asFolder: true);
                    continue;
                }

                yield return entry.FullName;
                foreach (var below in FoldersBelow(entry.FullName))
                {
                    yield return below;
                }
            }
        }

        private List<FileSystemInfo> List(string folder)
        {
            try
            {
                return [.. new DirectoryInfo(folder).EnumerateFileSystemInfos("*", s_listing)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A folder the gate cannot list would make the glob match less than it says: an error, not a skip.
                Problems.Add(new ExemplarGlobProblem(ExemplarGlobProblemKind.Unreadable, folder, e.Message));
                return [];
            }
        }

        /// <summary>Takes a linked file whose real path is an existing file inside the root; reports links to folders, outside, to nothing, or in a loop.</summary>
        private void Link(FileSystemInfo link, bool asFolder)
        {
            var real = RealPath(link.FullName);
            string? why = null;
            if (real is null)
            {
                why = "it is a loop of links";
            }
            else if (Directory.Exists(real))
            {
                why = $"it links to the folder '{real}', and links to folders are not followed";
            }
            else if (asFolder)
            {
                // A link to a file where the pattern wants a folder matches nothing, as a file there would not.
                return;
            }
            else if (!real.Equals(realRoot, s_pathComparison) && !real.StartsWith(Path.TrimEndingDirectorySeparator(realRoot) + Path.DirectorySeparatorChar, s_pathComparison))
            {
                why = $"it points to '{real}', outside the policy's folder '{realRoot}'";
            }
            else if (!File.Exists(real))
            {
                why = $"it points to '{real}', which does not exist";
            }

            if (why is null)
            {
                Add(link.FullName);
            }
            else
            {
                Problems.Add(new ExemplarGlobProblem(ExemplarGlobProblemKind.Link, link.FullName, why));
            }
        }

        private void Add(string file)
        {
            if (Files.Count >= maxFiles)
            {
                if (!Stopped)
                {
                    Problems.Add(new ExemplarGlobProblem(ExemplarGlobProblemKind.TooManyFiles, file,
                        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"more than {maxFiles} files")));
                }

                return;
            }

            Files.Add(file);
        }
    }
}

/// <summary>What a glob matched, and what it refused.</summary>
/// <param name="Files">The files matched, sorted ordinally.</param>
/// <param name="Problems">Links refused, folders that could not be listed, or the file limit reached; empty when the match is complete.</param>
public sealed record ExemplarGlobResult(IReadOnlyList<string> Files, IReadOnlyList<ExemplarGlobProblem> Problems);

/// <summary>Why a glob's match is not to be trusted.</summary>
public enum ExemplarGlobProblemKind
{
    /// <summary>A symbolic link to a folder, or to a file that is outside the root, missing, or a loop.</summary>
    Link,

    /// <summary>A folder that could not be listed.</summary>
    Unreadable,

    /// <summary>The pattern matched more than the limit; listing stopped.</summary>
    TooManyFiles,
}

/// <summary>One thing a glob refused.</summary>
/// <param name="Kind">What kind of problem.</param>
/// <param name="Path">The link, the folder, or the first file over the limit.</param>
/// <param name="Detail">Why, for the user.</param>
public sealed record ExemplarGlobProblem(ExemplarGlobProblemKind Kind, string Path, string Detail);
