namespace KtuGate.Reporting;

/// <summary>The folders report paths are resolved against: the model-release project (report paths are relative to it) and the repository that holds it.</summary>
/// <param name="Project">The project folder, full path.</param>
/// <param name="Repository">The repository root, full path: the project folder or one above it.</param>
public sealed record SourceRoots(string Project, string Repository)
{
    /// <summary>
    /// Finds the repository root the way CI tools and code scanning do: the nearest folder at or above the project that holds
    /// <c>.git</c> (a folder, or a file in a worktree or submodule). Without one, a CI workspace that holds the project
    /// (<c>GITHUB_WORKSPACE</c>, <c>BUILD_SOURCESDIRECTORY</c>), else the project folder itself.
    /// </summary>
    public static SourceRoots Find(string projectDirectory)
    {
        var project = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDirectory));
        for (var dir = new DirectoryInfo(project); dir is not null; dir = dir.Parent)
        {
            var git = Path.Combine(dir.FullName, ".git");
            if (Directory.Exists(git) || File.Exists(git))
            {
                return new SourceRoots(project, Path.TrimEndingDirectorySeparator(dir.FullName));
            }
        }

        foreach (var variable in new[] { "GITHUB_WORKSPACE", "BUILD_SOURCESDIRECTORY" })
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } workspace
                && Path.TrimEndingDirectorySeparator(Path.GetFullPath(workspace)) is var root
                && !Path.GetRelativePath(root, project).StartsWith("..", StringComparison.Ordinal))
            {
                return new SourceRoots(project, root);
            }
        }

        return new SourceRoots(project, project);
    }

    /// <summary>A report path (relative to the project, '/' separators) relative to the repository root, or null where it lies outside it.</summary>
    public string? InRepository(string reportPath)
    {
        var full = Path.GetFullPath(Path.Combine(Project, reportPath));
        var relative = Path.GetRelativePath(Repository, full);
        return Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? null
            : relative.Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>The repository root as an absolute <c>file:</c> URI ending in '/', as SARIF's <c>originalUriBaseIds</c> need it.</summary>
    public Uri RepositoryUri => new(Path.TrimEndingDirectorySeparator(Repository) + Path.DirectorySeparatorChar);
}
