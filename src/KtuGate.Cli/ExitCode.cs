namespace KtuGate.Cli;

/// <summary>The exit codes of <c>ktu</c>; pipelines may rely on them.</summary>
internal enum ExitCode
{
    /// <summary>Every clause holds (or, for validate, no errors).</summary>
    Pass = 0,

    /// <summary>A policy clause is violated (and remediation, if asked for, could not fix it), or verify found a mismatch.</summary>
    Violated = 1,

    /// <summary>An input (policy, manifest, model, exemplar, argument, key) is invalid.</summary>
    InvalidInput = 2,

    /// <summary>KtuGate itself failed.</summary>
    InternalError = 3,

    /// <summary>Stopped by Ctrl+C (or SIGTERM) before finishing; nothing was written.</summary>
    Cancelled = 130,
}
