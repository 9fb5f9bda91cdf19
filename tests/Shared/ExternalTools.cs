using System.Diagnostics;

namespace KtuGate.Tests;

/// <summary>The real validators the report tests use, installed on first use where the machine lacks them (CI installs them up front).</summary>
internal static class ExternalTools
{
    private static readonly Lazy<string> s_multitool = new(InstallMultitool);
    private static readonly Lazy<string> s_chromium = new(FindChromium);

    /// <summary>Microsoft's SARIF Multitool (npm package @microsoft/sarif-multitool-linux 5.7.0).</summary>
    public static string SarifMultitool => s_multitool.Value;

    /// <summary>Debian's headless Chromium.</summary>
    public static string Chromium => s_chromium.Value;

    public static (int ExitCode, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish in 5 minutes");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string InstallMultitool()
    {
        var prefix = Path.Combine(TestPaths.RepoRoot, "artifacts", "tools", "sarif");
        var tool = Path.Combine(prefix, "node_modules", "@microsoft", "sarif-multitool-linux", "Sarif.Multitool");
        if (!File.Exists(tool))
        {
            var (exit, output) = Run("npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, "@microsoft/sarif-multitool-linux@5.7.0");
            Assert.True(exit == 0 && File.Exists(tool), $"Installing the SARIF Multitool with npm failed:\n{output}");
        }

        return tool;
    }

    private static string FindChromium()
    {
        const string path = "/usr/bin/chromium";
        if (!File.Exists(path))
        {
            var (exit, output) = Run("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium");
            Assert.True(exit == 0 && File.Exists(path), $"Debian's chromium is needed to check the HTML report; installing it failed:\n{output}");
        }

        return path;
    }
}
