namespace KtuGate.Cli;

/// <summary>The exit codes of <c>ktu</c>; pipelines may rely on them (the README's table gives each verb's).</summary>
internal enum ExitCode
{
    /// <summary>Every clause holds (for validate: no errors; for verify: the report is intact and passed).</summary>
    Pass = 0,

    /// <summary>A policy clause is violated (and remediation, if asked for, could not fix it), or verify found a mismatch or an intact report that failed.</summary>
    Violated = 1,

    /// <summary>An input (policy, manifest, model, exemplar, key, report) is invalid.</summary>
    InvalidInput = 2,

    /// <summary>KtuGate itself failed.</summary>
    InternalError = 3,

    /// <summary>Nothing is violated, but a threshold could not be shown (too few exemplars) or checked (no baseline): not a pass.</summary>
    InsufficientEvidence = 4,

    /// <summary>The command line is wrong: an unknown verb or option, a missing argument (sysexits' EX_USAGE).</summary>
    Usage = 64,

    /// <summary>Stopped by Ctrl+C (or SIGTERM) before finishing; nothing was written.</summary>
    Cancelled = 130,
}
