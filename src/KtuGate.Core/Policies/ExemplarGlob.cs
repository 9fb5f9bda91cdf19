using System.Text.RegularExpressions;

namespace KtuGate.Policies;

/// <summary>Expands exemplar globs (<c>*</c>, <c>?</c>, <c>**</c>) relative to a root folder they cannot leave.</summary>
/// <remarks>A pattern that is rooted or climbs above its root with <c>..</c> is refused before any file is listed, so a policy cannot read files outside its own folder.</remarks>
public static class ExemplarGlob
{
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

    /// <summary>Lists the files under <paramref name="root"/> that match the pattern, sorted ordinally by path so every run sees the same order.</summary>
    /// <param name="root">The folder the pattern is relative to.</param>
    /// <param name="pattern">The glob; it must satisfy <see cref="StaysInside"/>.</param>
    public static IReadOnlyList<string> Expand(string root, string pattern)
    {
        if (!StaysInside(pattern))
        {
            throw new ArgumentException($"Pattern '{pattern}' leaves its folder.", nameof(pattern));
        }

        var segments = Normalize(Split(pattern));
        var results = new List<string>();
        var fullRoot = Path.GetFullPath(root);
        if (Directory.Exists(fullRoot))
        {
            Walk(fullRoot, segments, 0, results);
        }

        return results.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
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

    private static void Walk(string folder, List<string> segments, int index, List<string> results)
    {
        var segment = segments[index];
        var last = index == segments.Count - 1;
        if (segment == "**")
        {
            if (last)
            {
                results.AddRange(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories));
                return;
            }

            // "**" matches zero folders here, or any folder below.
            Walk(folder, segments, index + 1, results);
            foreach (var child in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories))
            {
                Walk(child, segments, index + 1, results);
            }

            return;
        }

        if (!HasWildcard(segment))
        {
            var path = Path.Combine(folder, segment);
            if (last && File.Exists(path))
            {
                results.Add(path);
            }
            else if (!last && Directory.Exists(path))
            {
                Walk(path, segments, index + 1, results);
            }

            return;
        }

        var regex = ToRegex(segment);
        if (last)
        {
            results.AddRange(Directory.EnumerateFiles(folder).Where(f => regex.IsMatch(Path.GetFileName(f))));
            return;
        }

        foreach (var child in Directory.EnumerateDirectories(folder).Where(d => regex.IsMatch(Path.GetFileName(d))))
        {
            Walk(child, segments, index + 1, results);
        }
    }

    private static bool HasWildcard(string segment) => segment.AsSpan().IndexOfAny('*', '?') >= 0;

    private static Regex ToRegex(string segment)
        => new("^" + Regex.Escape(segment).Replace(@"\*", "[^/]*", StringComparison.Ordinal).Replace(@"\?", "[^/]", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant);
}
