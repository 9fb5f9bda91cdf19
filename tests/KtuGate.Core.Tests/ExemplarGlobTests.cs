using KtuGate.Diagnostics;
using KtuGate.Policies;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class ExemplarGlobTests
{
    [Theory]
    [InlineData("a/*.png", true)]
    [InlineData("**/*.png", true)]
    [InlineData("a/../b/*.png", true)]
    [InlineData("./a/x.png", true)]
    [InlineData("../a/*.png", false)]
    [InlineData("a/../../b.png", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("\\\\server\\share\\x.png", false)]
    [InlineData("C:\\x\\*.png", false)]
    [InlineData("", false)]
    public void Patterns_that_leave_the_root_are_refused(string pattern, bool inside)
        => Assert.Equal(inside, ExemplarGlob.StaysInside(pattern));

    [Fact]
    public void Star_question_mark_and_double_star_match_as_documented()
    {
        using var temp = new TempFolder();
        foreach (var f in new[] { "a/x1.png", "a/x2.png", "a/y.jpg", "a/deep/x3.png", "b/x4.png", "a/x10.png" })
        {
            temp.File(f, "x");
        }

        string[] Rel(string pattern) => ExemplarGlob.Expand(temp.Path, pattern).Files.Select(p => Path.GetRelativePath(temp.Path, p).Replace('\\', '/')).ToArray();

        Assert.Equal(["a/x1.png", "a/x10.png", "a/x2.png"], Rel("a/*.png"));
        Assert.Equal(["a/x1.png", "a/x2.png"], Rel("a/x?.png"));
        Assert.Equal(["a/deep/x3.png", "a/x1.png", "a/x10.png", "a/x2.png", "b/x4.png"], Rel("**/*.png"));
        Assert.Equal(["a/deep/x3.png", "a/x1.png", "a/x10.png", "a/x2.png", "a/y.jpg"], Rel("a/**"));
        Assert.Equal(["a/y.jpg"], Rel("a/y.jpg"));
        Assert.Equal(["b/x4.png"], Rel("a/../b/*.png"));
        Assert.Empty(Rel("c/*.png"));
        Assert.Throws<ArgumentException>(() => ExemplarGlob.Expand(temp.Path, "../*.png"));
    }

    [Fact]
    public void A_link_to_a_parent_folder_is_reported_not_followed()
    {
        // Two loops back to the policy's folder once made '**' list every file over and over until memory ran out.
        using var temp = new TempFolder();
        temp.File("a/x1.png", "x");
        temp.File("a/x2.png", "x");
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "a", "loop"), "..");
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "loop2"), ".");

        var all = ExemplarGlob.Expand(temp.Path, "**/*.png");
        Assert.Equal([Path.Combine(temp.Path, "a", "x1.png"), Path.Combine(temp.Path, "a", "x2.png")], all.Files);
        Assert.Equal([Path.Combine(temp.Path, "a", "loop"), Path.Combine(temp.Path, "loop2")],
            all.Problems.Select(p => p.Path).Order(StringComparer.Ordinal));
        Assert.All(all.Problems, p => Assert.Equal(ExemplarGlobProblemKind.Link, p.Kind));

        Assert.Equal(2, ExemplarGlob.Expand(temp.Path, "**").Problems.Count);
        Assert.Single(ExemplarGlob.Expand(temp.Path, "a/loop/a/*.png").Problems);
        Assert.Single(ExemplarGlob.Expand(temp.Path, "a/*/*.png").Problems);

        // A pattern that does not reach a link is not troubled by it.
        Assert.Empty(ExemplarGlob.Expand(temp.Path, "a/*.png").Problems);
    }

    [Fact]
    public void Linked_files_are_taken_only_when_their_real_path_is_inside()
    {
        using var outside = new TempFolder();
        using var temp = new TempFolder();
        var secret = outside.File("secret.png", "x");
        temp.File("a/real.png", "x");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "inside.png"), "real.png");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "passwd.png"), "/etc/passwd");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "secret.png"), secret);
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "relative.png"), Path.GetRelativePath(Path.Combine(temp.Path, "a"), secret));
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "dangling.png"), "nowhere.png");

        var result = ExemplarGlob.Expand(temp.Path, "a/*.png");

        Assert.Equal([Path.Combine(temp.Path, "a", "inside.png"), Path.Combine(temp.Path, "a", "real.png")], result.Files);
        var refused = result.Problems.ToDictionary(p => Path.GetFileName(p.Path), p => p.Detail);
        Assert.Equal(["dangling.png", "passwd.png", "relative.png", "secret.png"], refused.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("'/etc/passwd', outside", refused["passwd.png"], StringComparison.Ordinal);
        Assert.Contains("outside", refused["secret.png"], StringComparison.Ordinal);
        Assert.Contains("outside", refused["relative.png"], StringComparison.Ordinal);
        Assert.Contains("does not exist", refused["dangling.png"], StringComparison.Ordinal);

        // Named literally, a link outside is refused as well.
        Assert.Single(ExemplarGlob.Expand(temp.Path, "a/passwd.png").Problems);
        Assert.Empty(ExemplarGlob.Expand(temp.Path, "a/passwd.png").Files);
    }

    [Fact]
    public void A_link_inside_pointing_through_a_folder_link_outside_is_refused()
    {
        // The real path resolves every link on the way, not just the last one.
        using var outside = new TempFolder();
        using var temp = new TempFolder();
        outside.File("data/secret.png", "x");
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "hop"), outside.Path);
        temp.File("a/keep.png", "x");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "a", "via.png"), "../hop/data/secret.png");

        var result = ExemplarGlob.Expand(temp.Path, "a/*.png");

        Assert.Equal([Path.Combine(temp.Path, "a", "keep.png")], result.Files);
        var problem = Assert.Single(result.Problems);
        Assert.Contains("outside", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_glob_matching_more_files_than_allowed_stops_with_a_problem()
    {
        using var temp = new TempFolder();
        for (var i = 0; i < 6; i++)
        {
            temp.File($"a/x{i}.png", "x");
        }

        Assert.Empty(ExemplarGlob.Expand(temp.Path, "a/*.png", maxFiles: 6).Problems);
        var over = ExemplarGlob.Expand(temp.Path, "**", maxFiles: 5);
        Assert.Equal(ExemplarGlobProblemKind.TooManyFiles, Assert.Single(over.Problems).Kind);
        Assert.Equal(100_000, ExemplarGlob.MaxFiles);
    }

    [Fact]
    public void Policy_names_each_refused_link_at_its_glob()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "exemplars/sneaker", 3);
        Directory.CreateSymbolicLink(Path.Combine(temp.Path, "exemplars", "sneaker", "loop"), "..");
        File.CreateSymbolicLink(Path.Combine(temp.Path, "exemplars", "sneaker", "passwd.png"), "/etc/passwd");
        var path = temp.File("p.ktu.json", """
            {
              "ktuPolicy": 1, "id": "links",
              "concepts": {
                "sneaker": { "exemplars": ["exemplars/**/*.png"] }
              },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 } ]
            }
            """);
        var diagnostics = new DiagnosticBag();

        Assert.Null(PolicyParser.Load(path, diagnostics));

        Assert.Equal(2, diagnostics.Items.Count);
        Assert.All(diagnostics.Items, d => Assert.Equal(("KTU1017", 4, 32), (d.Code, d.Location!.Line, d.Location.Column)));
        Assert.Contains(diagnostics.Items, d => d.Message.Contains(Path.Combine("exemplars", "sneaker", "loop"), StringComparison.Ordinal));
        Assert.Contains(diagnostics.Items, d => d.Message.Contains("/etc/passwd", StringComparison.Ordinal));
    }
}
