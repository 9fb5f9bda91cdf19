using System.Diagnostics;
using System.Runtime.InteropServices;

namespace KtuGate.Tasks;

/// <summary>
/// Stops the engine the way Ctrl+C and a CI runner's SIGTERM do, before MSBuild's cancellation kills it: ToolTask cancels by killing the
/// tool's process tree (SIGKILL), which leaves a remediation's staging folder in the output folder and a run that never said where it
/// stopped. Asked to stop, the engine finishes its current batch or training step, removes what it staged, says where it stopped and exits
/// with 130; only an engine still running after the grace period is killed.
/// </summary>
internal sealed class EngineStop
{
    /// <summary>The engine's exit code once it has stopped on request (ktu's <c>ExitCode.Cancelled</c>).</summary>
    private const int CancelledExitCode = 130;

    private const int SignalTerminate = 15; // SIGTERM on Linux and macOS.

    private Process? _engine;
    private int _requested;

    /// <summary>Whether the run was asked to stop (the build was cancelled).</summary>
    public bool Requested => Volatile.Read(ref _requested) == 1;

    /// <summary>Records the engine's process, which ToolTask has just started; returns it.</summary>
    public Process Started(Process engine)
    {
        Volatile.Write(ref _engine, engine);
        return engine;
    }

    /// <summary>
    /// Asks the engine to stop and calls <paramref name="kill"/> (ToolTask's own cancellation) only where it has not exited within
    /// <paramref name="grace"/>; at once where it cannot be asked (Windows, no engine yet, a second cancellation).
    /// </summary>
    public void Request(TimeSpan grace, Action kill)
    {
        if (Interlocked.Exchange(ref _requested, 1) == 1 || OperatingSystem.IsWindows() || Volatile.Read(ref _engine) is not { } engine || !Terminate(engine))
        {
            kill();
            return;
        }

        // MSBuild calls Cancel on its own thread and waits for the task to end: the grace is waited for elsewhere, so that the engine's
        // exit ends the task as soon as it comes.
        _ = Task.Run(() =>
        {
            if (!engine.WaitForExit(grace))
            {
                kill();
            }
        });
    }

    /// <summary>How a cancelled run's engine ended, for the log: no engine failure to report, but whether it stopped on its own.</summary>
    public static string Ended(int exitCode) => exitCode == CancelledExitCode
        ? "stopped and wrote nothing"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"was stopped (exit code {exitCode}); what it left is removed by the next run");

    /// <summary>Sends SIGTERM; false where the engine has already exited or the signal could not be sent.</summary>
    private static bool Terminate(Process engine)
    {
        try
        {
            return !engine.HasExited && NativeMethods.kill(engine.Id, SignalTerminate) == 0;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
#pragma warning disable SA1300, IDE1006 // The C library's name.
        public static extern int kill(int pid, int sig);
#pragma warning restore SA1300, IDE1006
    }
}
