using System.Text;
using System.Xml;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>Renders JUnit XML, one test case per policy clause and per policy's metric thresholds, so CI test tabs show the gate.</summary>
public static class JUnitRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.junit.xml";

    /// <summary>The XML as UTF-8.</summary>
    /// <remarks>
    /// One test case per clause and one per policy's metric thresholds. A missed threshold is a <c>failure</c>; one that was not decided
    /// (insufficient evidence, KTU3006; not checked for want of a baseline, KTU3004) is an <c>error</c>, never <c>skipped</c>, which CI
    /// tabs show as harmless although the gate does not pass. Names stay stable when thresholds change (CI tracks cases by name); each
    /// case's thresholds, measurement and status are its properties. <c>time</c> is 0: the gate judges every clause from one probe
    /// pass and measures no time per clause.
    /// </remarks>
    public static byte[] Render(GateReport report)
    {
        using var buffer = new MemoryStream();
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using (var w = XmlWriter.Create(buffer, settings))
        {
            var cases = report.Models.SelectMany(m => Cases(report, m)).ToList();
            // Verdicts (a failed remediation too) and undecided thresholds show in the cases; other errors mean the inputs could not be checked.
            var inputErrors = report.Diagnostics.Where(d => d.Severity == "error"
                && !(Diagnostics.DiagnosticCodes.All.TryGetValue(d.Code, out var descriptor) && descriptor.Category is Diagnostics.DiagnosticCategory.Verdict or Diagnostics.DiagnosticCategory.Evidence)).ToList();
            w.WriteStartDocument();
            w.WriteStartElement("testsuites");
            w.WriteAttributeString("name", "KtuGate");
            w.WriteAttributeString("tests", Count(cases.Count + inputErrors.Count));
            w.WriteAttributeString("failures", Count(cases.Count(c => c.Status == "fail")));
            w.WriteAttributeString("errors", Count(cases.Count(c => c.Status is not ("pass" or "fail")) + inputErrors.Count));
            w.WriteAttributeString("time", "0");
            foreach (var suite in cases.GroupBy(c => (c.Model, c.Policy)))
            {
                w.WriteStartElement("testsuite");
                w.WriteAttributeString("name", Printable($"{suite.Key.Model}: {suite.Key.Policy}"));
                w.WriteAttributeString("tests", Count(suite.Count()));
                w.WriteAttributeString("failures", Count(suite.Count(c => c.Status == "fail")));
                w.WriteAttributeString("errors", Count(suite.Count(c => c.Status is not ("pass" or "fail"))));
                w.WriteAttributeString("time", "0");
                w.WriteAttributeString("timestamp", Printable(report.GeneratedAt));
                foreach (var c in suite)
                {
                    Case(w, report, c);
                }

                w.WriteEndElement();
            }

            if (inputErrors.Count > 0)
            {
                InputErrors(w, report, inputErrors);
            }

            w.WriteEndElement();
            w.WriteEndDocument();
        }

        return [.. buffer.ToArray(), (byte)'\n'];
    }

    /// <summary>One judged threshold set: a clause, or a policy's metric thresholds.</summary>
    private sealed record JUnitCase(string Model, string Policy, string Name, string Status, string Threshold, string Measured, ReportLocation Location, IReadOnlyList<string> Codes);

    /// <summary>A model's cases: its clauses, then each policy's metric thresholds, in the report's order.</summary>
    private static IEnumerable<JUnitCase> Cases(GateReport report, ModelReport model)
    {
        foreach (var clause in model.Clauses)
        {
            yield return new JUnitCase(model.Artifact.Path, clause.Policy, ReportText.Clause(clause), clause.Status, ReportText.Threshold(clause),
                ReportText.Measured(clause), clause.Location, clause.Codes);
        }

        foreach (var metrics in model.Metrics.Where(m => m.Thresholds is not null))
        {
            var at = metrics.Thresholds!.Location;
            var codes = report.Diagnostics.Where(d => d.File == at.File && d.Line == at.Line && d.Code is "KTU3004" or "KTU3005").Select(d => d.Code).Distinct().ToList();
            yield return new JUnitCase(model.Artifact.Path, metrics.Policy, "metrics", metrics.Status, ReportText.MetricThresholds(metrics.Thresholds),
                ReportText.QualityUtility(metrics.Quality, metrics.Utility, metrics.QualityUtility), at, codes);
        }
    }

    private static void Case(XmlWriter w, GateReport report, JUnitCase c)
    {
        w.WriteStartElement("testcase");
        w.WriteAttributeString("classname", Printable(c.Policy));
        w.WriteAttributeString("name", Printable(c.Name));
        w.WriteAttributeString("file", Printable(c.Location.File));
        w.WriteAttributeString("line", Count(c.Location.Line));
        w.WriteAttributeString("time", "0");
        w.WriteStartElement("properties");
        Property(w, "threshold", c.Threshold);
        Property(w, "measured", c.Measured);
        Property(w, "status", c.Status);
        w.WriteEndElement();
        if (c.Status != "pass")
        {
            var messages = report.Diagnostics.Where(d => c.Codes.Contains(d.Code) && d.File == c.Location.File && d.Line == c.Location.Line).ToList();
            w.WriteStartElement(c.Status == "fail" ? "failure" : "error");
            w.WriteAttributeString("type", Printable(string.Join(" ", c.Codes)));
            w.WriteAttributeString("message", Printable(string.Join(" ", messages.Select(m => m.Message))));
            w.WriteString(string.Join(" ", messages.Select(m => Printable(ReportText.Diagnostic(m)))) + $" measured {Printable(c.Measured)}; threshold {Printable(c.Threshold)}");
            w.WriteEndElement();
        }

        w.WriteEndElement();
    }

    private static void Property(XmlWriter w, string name, string value)
    {
        w.WriteStartElement("property");
        w.WriteAttributeString("name", name);
        w.WriteAttributeString("value", Printable(value));
        w.WriteEndElement();
    }

    private static string Count(int n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The errors that kept inputs from being checked, as a test suite of their own.</summary>
    private static void InputErrors(XmlWriter w, GateReport report, List<ReportDiagnostic> inputErrors)
    {
        w.WriteStartElement("testsuite");
        w.WriteAttributeString("name", "inputs");
        w.WriteAttributeString("tests", inputErrors.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteAttributeString("failures", "0");
        w.WriteAttributeString("errors", Count(inputErrors.Count));
        w.WriteAttributeString("time", "0");
        w.WriteAttributeString("timestamp", Printable(report.GeneratedAt));
        foreach (var d in inputErrors)
        {
            w.WriteStartElement("testcase");
            w.WriteAttributeString("classname", "inputs");
            w.WriteAttributeString("name", Printable($"{d.Code} {d.File}"));
            w.WriteAttributeString("time", "0");
            w.WriteStartElement("error");
            w.WriteAttributeString("type", Printable(d.Code));
            w.WriteAttributeString("message", Printable(d.Message));
            w.WriteString(Printable(ReportText.Diagnostic(d)));
            w.WriteEndElement();
            w.WriteEndElement();
        }

        w.WriteEndElement();
    }
}
