namespace KtuGate.Tests;

/// <summary>Where a piece of a file's text is, as the JSON reader reports locations (1-based line and column), for asserting located errors.</summary>
internal static class TextPositions
{
    /// <summary>"line,column" of the <paramref name="occurrence"/>th <paramref name="marker"/> in <paramref name="text"/> at or after <paramref name="from"/>.</summary>
    public static string At(string text, string marker, int occurrence = 1, int from = 0)
    {
        var index = from - 1;
        for (var i = 0; i < occurrence; i++)
        {
            index = text.IndexOf(marker, index + 1, StringComparison.Ordinal);
            if (index < 0)
            {
                throw new ArgumentException($"'{marker}' is not in the text {occurrence} time(s)", nameof(marker));
            }
        }

        return $"{text[..index].Count(c => c == '\n') + 1},{index - text.LastIndexOf('\n', Math.Max(0, index - 1))}";
    }
}
