using System.Diagnostics;
using System.Text.Json;
using KtuGate.Tests;

namespace KtuGate.Cli.Tests;

public sealed class KtuCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) Ktu(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(TestPaths.EnginePath);
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "ktu did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void Check_on_the_sample_exits_1_and_prints_the_located_violation()
    {
        using var temp = new TempFolder();
        var (exit, stdout, stderr) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu");

        Assert.Equal(1, exit);
        Assert.Contains("policies/retire-sneaker.ktu.json(6,5): error KTU3001: 'sneaker' is still known", stderr, StringComparison.Ordinal);
        Assert.Contains("FAIL  retire-sneaker: forget sneaker (fine)", stdout, StringComparison.Ordinal);
        Assert.Contains("PASS  retire-sneaker: retain sneaker (coarse)", stdout, StringComparison.Ordinal);
        Assert.Contains("Verdict: FAIL (5/6 clauses hold)", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(temp.Path, "ktu-report.json")));
    }

    [Fact]
    public void Json_format_prints_the_report()
    {
        using var temp = new TempFolder();
        var (exit, stdout, _) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/fashion-classifier.onnx", "-p", "policies/retire-sneaker.ktu.json",
            "--report-dir", temp.Path, "--execution-provider", "cpu", "--format", "json");

        Assert.Equal(1, exit);
        using var report = JsonDocument.Parse(stdout);
        Assert.Equal("fail", report.RootElement.GetProperty("verdict").GetString());
        Assert.Equal(File.ReadAllText(Path.Combine(temp.Path, "ktu-report.json")), stdout);
    }

    [Fact]
    public void Invalid_input_exits_2()
    {
        using var temp = new TempFolder();
        var (exit, _, stderr) = Ktu(TestPaths.Sample(), "check", "-m", "artifacts/missing.onnx", "--manifest", "artifacts/fashion-classifier.ktu.json",
            "-p", "policies/retire-sneaker.ktu.json", "--report-dir", temp.Path);
        Assert.Equal(2, exit);
        Assert.Contains("error KTU2001", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_checks_policies_and_manifests_without_running_a_model()
    {
        var ok = Ktu(TestPaths.Sample(), "validate", "-p", "policies/retire-sneaker.ktu.json", "--manifest", "artifacts/fashion-classifier.ktu.json");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("Valid.", ok.Stdout, StringComparison.Ordinal);

        using var temp = new TempFolder();
        var bad = temp.File("bad.ktu.json", "{ \"ktuPolicy\": 1, \"id\": \"x\", \"concepts\": {}, \"forget\": [ { \"concept\": \"x\", \"maxAccuracy\": 0.1 } ] }");
        var result = Ktu(temp.Path, "validate", "-p", "bad.ktu.json");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bad.ktu.json(1,71): error KTU1005", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_prints_the_help_of_a_code()
    {
        var (exit, stdout, _) = Ktu(TestPaths.RepoRoot, "explain", "ktu3001");
        Assert.Equal(0, exit);
        Assert.StartsWith("KTU3001 (error): Forbidden knowledge still present", stdout, StringComparison.Ordinal);
        Assert.Contains("upper bound", stdout, StringComparison.Ordinal);

        Assert.Equal(2, Ktu(TestPaths.RepoRoot, "explain", "KTU0000").ExitCode);
    }
}
