using System.Collections;
using Microsoft.Build.Framework;

namespace KtuGate.Tasks.Tests;

/// <summary>A build engine that records what a task logs.</summary>
internal sealed class RecordingBuildEngine : IBuildEngine
{
    public List<BuildErrorEventArgs> Errors { get; } = [];

    public List<BuildWarningEventArgs> Warnings { get; } = [];

    public List<BuildMessageEventArgs> Messages { get; } = [];

    public bool ContinueOnError => false;

    public int LineNumberOfTaskNode => 0;

    public int ColumnNumberOfTaskNode => 0;

    public string ProjectFileOfTaskNode => "test.proj";

    public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => throw new NotSupportedException();

    public void LogCustomEvent(CustomBuildEventArgs e)
    {
    }

    public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e);

    public void LogMessageEvent(BuildMessageEventArgs e)
    {
        lock (Messages)
        {
            Messages.Add(e);
        }
    }

    /// <summary>Whether a message logged so far holds <paramref name="text"/>; safe while the task runs on another thread.</summary>
    public bool Logged(string text)
    {
        lock (Messages)
        {
            return Messages.Any(m => m.Message?.Contains(text, StringComparison.Ordinal) == true);
        }
    }

    public void LogWarningEvent(BuildWarningEventArgs e) => Warnings.Add(e);
}
