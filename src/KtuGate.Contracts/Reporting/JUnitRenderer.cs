using System.Text;
using System.Xml;
using static KtuGate.Reporting.TextSafety;

namespace KtuGate.Reporting;

/// <summary>Renders JUnit XML, one test case per policy clause, so CI test tabs show the gate.</summary>
public static class JUnitRenderer
{
    /// <summary>The file name in the report folder.</summary>
    public const string FileName = "ktu-report.junit.xml";

    /// <summary>The XML as UTF-8.</summary>
    public static byte[] Render(GateReport report)
    {
        using var buffer = new MemoryStream();
        var settings = new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false), NewLineChars = "\n" };
        using (var w = XmlWriter.Create(buffer, settings))
        {
            var clauses = report.Models.SelectMany(m => m.Clauses).ToList();
            // Verdicts (a failed remediation too) and undecided thresholds show in the clauses; other errors mean the inputs could not be checked.
            var inputErrors = report.Diagnostics.Where(d => d.Severity == "error"
                && !(Diagnostics.DiagnosticCodes.All.TryGetValue(d.Code, out var descriptor) && descriptor.Category is Diagnostics.DiagnosticCategory.Verdict or Diagnostics.DiagnosticCategory.Evidence)).ToList();
            w.WriteStartDocument();
            w.WriteStartElement("testsuites");
            w.WriteAttributeString("name", "KtuGate");
            w.WriteAttributeString("tests", (clauses.Count + inputErrors.Count).ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteAttributeString("failures", clauses.Count(c => !c.Passed).ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteAttributeString("errors", inputErrors.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var model in report.Models)
            {
                foreach (var policy in model.Clauses.GroupBy(c => c.Policy))
                {
                    w.WriteStartElement("testsuite");
                    w.WriteAttributeString("name", Printable($"{model.Artifact.Path}: {policy.Key}"));
                    w.WriteAttributeString("tests", policy.Count().ToString(System.Globalization.CultureInfo.InvariantCulture));
                    w.WriteAttributeString("failures", policy.Count(c => !c.Passed).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    w.WriteAttributeString("errors", "0");
                    w.WriteAttributeString("timestamp", Printable(report.GeneratedAt));
                    foreach (var clause in policy)
                    {
                        w.WriteStartElement("testcase");
                        w.WriteAttributeString("classname", Printable(policy.Key));
                        w.WriteAttributeString("name", Printable(ReportText.Clause(clause)));
                        w.WriteAttributeString("file", Printable(clause.Location.File));
                        w.WriteAttributeString("line", clause.Location.Line.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        if (!clause.Passed)
                        {
                            var messages = report.Diagnostics.Where(d => clause.Codes.Contains(d.Code) && d.File == clause.Location.File && d.Line == clause.Location.Line).ToList();
                            w.WriteStartElement("failure");
                            w.WriteAttributeString("type", Printable(string.Join(" ", clause.Codes)));
                            w.WriteAttributeString("message", Printable(string.Join(" ", messages.Select(m => m.Message))));
                            w.WriteString(string.Join(" ", messages.Select(m => Printable(ReportText.Diagnostic(m))))
                                + $" measured {ReportText.Measured(clause)}; threshold {ReportText.Threshold(clause)}");
                            w.WriteEndElement();
                        }

                        w.WriteEndElement();
                    }

                    w.WriteEndElement();
                }
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

    /// <summary>The errors that kept inputs from being checked, as a test suite of their own.</summary>
    private static void InputErrors(XmlWriter w, GateReport report, List<ReportDiagnostic> inputErrors)
    {
        w.WriteStartElement("testsuite");
        w.WriteAttributeString("name", "inputs");
        w.WriteAttributeString("tests", inputErrors.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteAttributeString("failures", "0");
        w.WriteAttributeString("errors", inputErrors.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        w.WriteAttributeString("timestamp", Printable(report.GeneratedAt));
        foreach (var d in inputErrors)
        {
            w.WriteStartElement("testcase");
            w.WriteAttributeString("classname", "inputs");
            w.WriteAttributeString("name", Printable($"{d.Code} {d.File}"));
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
