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

        string[] Rel(string pattern) => ExemplarGlob.Expand(temp.Path, pattern).Select(p => Path.GetRelativePath(temp.Path, p).Replace('\\', '/')).ToArray();

        Assert.Equal(["a/x1.png", "a/x10.png", "a/x2.png"], Rel("a/*.png"));
        Assert.Equal(["a/x1.png", "a/x2.png"], Rel("a/x?.png"));
        Assert.Equal(["a/deep/x3.png", "a/x1.png", "a/x10.png", "a/x2.png", "b/x4.png"], Rel("**/*.png"));
        Assert.Equal(["a/deep/x3.png", "a/x1.png", "a/x10.png", "a/x2.png", "a/y.jpg"], Rel("a/**"));
        Assert.Equal(["a/y.jpg"], Rel("a/y.jpg"));
        Assert.Equal(["b/x4.png"], Rel("a/../b/*.png"));
        Assert.Empty(Rel("c/*.png"));
        Assert.Throws<ArgumentException>(() => ExemplarGlob.Expand(temp.Path, "../*.png"));
    }
}
