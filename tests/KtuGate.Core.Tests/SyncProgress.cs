namespace KtuGate.Core.Tests;

/// <summary>Hands each progress report to <paramref name="report"/> on the reporting thread, in order (<see cref="Progress{T}"/> posts them later, elsewhere).</summary>
internal sealed class SyncProgress(Action<ProbeProgress> report) : IProgress<ProbeProgress>
{
    public void Report(ProbeProgress value) => report(value);
}
