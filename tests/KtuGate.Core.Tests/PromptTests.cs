using KtuGate.Kinds.DualEncoder;

namespace KtuGate.Core.Tests;

/// <summary>Prompt templates filled with concept names and aliases read as one phrase: one determiner where both bring one.</summary>
public sealed class PromptTests
{
    [Theory]
    [InlineData("a photo of a {}", "sneaker", "a photo of a sneaker")]
    [InlineData("a photo of my {}", "a running shoe", "a photo of my running shoe")]
    [InlineData("a photo of a {}", "an ankle boot", "a photo of an ankle boot")]
    [InlineData("a photo of the {}", "A trainer", "a photo of A trainer")]
    [InlineData("{}", "a running shoe", "a running shoe")]
    [InlineData("a photo of {}", "a running shoe", "a photo of a running shoe")]
    [InlineData("this is my {}, worn", "the sneaker", "this is my sneaker, worn")]
    [InlineData("a photo of my {}", "a", "a photo of my a")]
    [InlineData("a photo of a {}", "another shoe", "a photo of a another shoe")]
    public void Template_and_name_give_one_determiner(string template, string name, string expected)
        => Assert.Equal(expected, DualEncoderProbe.Prompt(template, name));
}
