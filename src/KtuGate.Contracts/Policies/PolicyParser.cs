using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Unlearning;

namespace KtuGate.Policies;

/// <summary>Reads a policy file, reporting every problem it finds with its file, line and column.</summary>
public static class PolicyParser
{
    /// <summary>The remediation methods a policy may name.</summary>
    public static IReadOnlyList<string> RemedyMethods => UnlearningMethodNames.All;

    /// <summary>Reads and checks a policy file, expanding its exemplar globs.</summary>
    /// <param name="path">The policy file, as the user named it (locations use this spelling).</param>
    /// <param name="diagnostics">Where problems go; all of them, not just the first.</param>
    /// <returns>The policy, or null when it has errors.</returns>
    public static Policy? Load(string path, DiagnosticBag diagnostics)
        => JsonDialect.Policy.Load(path, null, diagnostics, (root, local) => Read(root, path, local));

    /// <summary>Checks a policy's bytes; exemplar globs are relative to <paramref name="path"/>'s folder.</summary>
    public static Policy? Parse(byte[] utf8, string path, DiagnosticBag diagnostics)
        => JsonDialect.Policy.Load(path, utf8, diagnostics, (root, local) => Read(root, path, local));

    private static Policy? Read(JsonTreeObject rootObject, string path, DiagnosticBag diagnostics)
    {
        var top = new ObjectReader(rootObject, "the policy", JsonDialect.Policy, diagnostics,
            "ktuPolicy", "id", "title", "request", "concepts", "forget", "retain", "remedy", "prompts", "general", "metrics");

        var version = top.Integer("ktuPolicy", 0, int.MaxValue, required: true);
        if (version is { } v && v != Policy.FormatVersion)
        {
            top.Report(DiagnosticCodes.PolicyVersionUnsupported, top.Get("ktuPolicy")!.Location, v, Policy.FormatVersion);
            return null;
        }

        var id = top.String("id", required: true);
        var title = top.String("title");
        PolicyRequest? request = null;
        if (top.Object("request", "'request'", false, "requestedBy", "reason", "reference") is { } r)
        {
            request = new PolicyRequest(r.String("requestedBy"), r.String("reason"), r.String("reference"));
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var concepts = ReadConcepts(top, folder, diagnostics);
        var names = concepts.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        CheckHierarchy(concepts, names, diagnostics);

        var forget = PolicyClauses.ReadForget(top, names, concepts, diagnostics);
        var retain = PolicyClauses.ReadRetain(top, names, concepts, diagnostics);
        foreach (var clash in retain.Where(rc => forget.Any(fc => fc.Concept == rc.Concept && fc.Level == rc.Level)))
        {
            diagnostics.Add(DiagnosticCodes.PolicyContradiction, clash.Location, clash.Concept, clash.Level.ToString().ToLowerInvariant());
        }

        var remedy = ReadRemedy(top);
        var prompts = ReadPrompts(top);

        IReadOnlyList<string> general = [];
        if (top.Object("general", "'general'", false, "exemplars") is { } generalReader)
        {
            general = ExpandGlobs(generalReader.Strings("exemplars", required: true).Select(p => new ExemplarPattern(p.Value, p.Location)), folder, diagnostics);
        }

        var metrics = ReadMetrics(top, general);

        return id is null ? null : new Policy(path, id, title, request, concepts, forget, retain, remedy)
        {
            PromptTemplates = prompts,
            GeneralFiles = general,
            Metrics = metrics,
        };
    }

    /// <summary>Whether remediation is allowed and the methods to try; each must be a name of <see cref="UnlearningMethodNames"/>.</summary>
    private static RemedyOptions ReadRemedy(ObjectReader top)
    {
        var remedy = RemedyOptions.None;
        if (top.Object("remedy", "'remedy'", false, "allowed", "methods", "holdOut", "scope") is { } remedyReader)
        {
            var methods = new List<string>();
            foreach (var method in remedyReader.Strings("methods"))
            {
                if (RemedyMethods.Contains(method.Value))
                {
                    methods.Add(method.Value);
                }
                else
                {
                    remedyReader.Report(DiagnosticCodes.PolicyInvalidValue, method.Location, "methods[]",
                        "one of " + string.Join(", ", RemedyMethods.Select(m => $"\"{m}\"")), $"\"{method.Value}\"");
                }
            }

            var (scope, scopeLocation) = ReadScope(remedyReader);
            remedy = new RemedyOptions(remedyReader.Boolean("allowed", required: true) ?? false, methods)
            {
                HoldOut = remedyReader.Number("holdOut", 0.05, 0.95) ?? RemedyOptions.DefaultHoldOut,
                Scope = scope,
                ScopeLocation = scopeLocation,
            };
        }

        return remedy;
    }

    /// <summary>
    /// The remedy's scope: one string or an array of non-empty strings, each once (whether a name exists in the model is checked
    /// against the model when remediation resolves it, KTU4012); the default where absent.
    /// </summary>
    private static (IReadOnlyList<string> Scope, SourceLocation? Location) ReadScope(ObjectReader remedy)
    {
        var value = remedy.Get("scope");
        if (value is null)
        {
            return ([RemedyOptions.LastScope], null);
        }

        if (value is not JsonTreeString and not JsonTreeArray)
        {
            remedy.Report(DiagnosticCodes.PolicyInvalidValue, value.Location, "scope", "\"last\", \"all\", a node name or initializer prefix, or an array of them", value.KindName);
            return ([RemedyOptions.LastScope], value.Location);
        }

        IReadOnlyList<JsonTreeString> entries = value is JsonTreeString one ? [one] : remedy.Strings("scope");

        var scope = new List<string>();
        foreach (var entry in entries)
        {
            if (entry.Value.Trim().Length == 0 || scope.Contains(entry.Value, StringComparer.Ordinal))
            {
                remedy.Report(DiagnosticCodes.PolicyInvalidValue, entry.Location, "scope[]", "a non-empty name, each once", $"\"{entry.Value}\"");
                continue;
            }

            scope.Add(entry.Value);
        }

        if (value is JsonTreeArray { Items.Count: 0 })
        {
            remedy.Report(DiagnosticCodes.PolicyInvalidValue, value.Location, "scope", "at least one entry", "an empty array");
        }

        return (scope.Count == 0 ? [RemedyOptions.LastScope] : scope, value.Location);
    }

    private static List<string> ReadPrompts(ObjectReader top)
    {
        var prompts = new List<string>();
        foreach (var prompt in top.Strings("prompts"))
        {
            if (prompt.Value.Split("{}").Length != 2)
            {
                top.Report(DiagnosticCodes.PolicyInvalidValue, prompt.Location, "prompts[]", "a template with one '{}' where the concept's name goes", $"\"{prompt.Value}\"");
            }
            else
            {
                prompts.Add(prompt.Value);
            }
        }

        return prompts;
    }

    private static MetricThresholds? ReadMetrics(ObjectReader top, IReadOnlyList<string> general)
    {
        MetricThresholds? metrics = null;
        if (top.Object("metrics", "'metrics'", false, "minQuality", "minUtility", "minQU", "minGeneralAccuracy", "maxGeneralDrop", "maxPerturbedAccuracy", "maxWordingRecall", "maxLinearProbeAccuracy") is { } m)
        {
            metrics = new MetricThresholds(m.Number("minQuality", 0, 1), m.Number("minUtility", 0, 1), m.Number("minQU", 0, 1),
                m.Number("minGeneralAccuracy", 0, 1), m.Number("maxGeneralDrop", 0, 1), m.Location)
            {
                MaxPerturbedAccuracy = m.Number("maxPerturbedAccuracy", 0, 1),
                MaxWordingRecall = m.Number("maxWordingRecall", 0, 1),
                MaxLinearProbeAccuracy = m.Number("maxLinearProbeAccuracy", 0, 1),
            };
            if (metrics is { MinGeneralAccuracy: not null } or { MaxGeneralDrop: not null } && general.Count == 0 && top.Get("general") is null)
            {
                m.Report(DiagnosticCodes.PolicyMissingProperty, m.Location, "A policy with general-accuracy thresholds", "general");
            }
        }

        return metrics;
    }

    private static List<Concept> ReadConcepts(ObjectReader top, string folder, DiagnosticBag diagnostics)
    {
        var concepts = new List<Concept>();
        var conceptsObject = top.RawObject("concepts", required: true);
        if (conceptsObject is null)
        {
            return concepts;
        }

        var uses = new List<(string Name, string Concept, SourceLocation Location)>();
        foreach (var property in conceptsObject.Properties)
        {
            if (property.Value is not JsonTreeObject body)
            {
                diagnostics.Add(DiagnosticCodes.PolicyInvalidValue, property.Value.Location, property.Name, "an object", property.Value.KindName);
                continue;
            }

            if (concepts.Any(c => c.Name == property.Name))
            {
                diagnostics.Add(DiagnosticCodes.PolicyHierarchyInvalid, property.NameLocation, $"Concept '{property.Name}' is defined twice");
                continue;
            }

            var reader = top.Nested(body, $"concept '{property.Name}'", "aliases", "parent", "exemplars", "description");
            var aliases = reader.Strings("aliases");
            uses.AddRange(aliases.Select(a => (a.Value, property.Name, a.Location)).Prepend((property.Name, property.Name, property.NameLocation)));

            var parent = Expect(reader, "parent");
            reader.String("description");
            var patterns = reader.Strings("exemplars").Select(p => new ExemplarPattern(p.Value, p.Location)).ToList();
            var files = ExpandGlobs(patterns, folder, diagnostics);
            concepts.Add(new Concept(property.Name, aliases.Select(a => a.Value).ToList(), parent?.Value,
                patterns, files, property.NameLocation)
            {
                ParentLocation = parent?.Location,
            });
        }

        CheckSharedNames(concepts, uses, diagnostics);
        return concepts;
    }

    /// <summary>
    /// A name (key or alias, case ignored) identifies one concept, or a parent and its child worded the same (a concept "dress" under
    /// "dresses", which is also called "dress"): a clause names concepts by key, and the model binds either to the same label or group.
    /// Two concepts that are not parent and child sharing a name is KTU1009, at the second one's use.
    /// </summary>
    private static void CheckSharedNames(List<Concept> concepts, List<(string Name, string Concept, SourceLocation Location)> uses, DiagnosticBag diagnostics)
    {
        var parents = concepts.ToDictionary(c => c.Name, c => c.Parent, StringComparer.Ordinal);
        bool ParentAndChild(string a, string b) => parents.GetValueOrDefault(a) == b || parents.GetValueOrDefault(b) == a;
        var owners = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, concept, location) in uses)
        {
            var named = owners.TryGetValue(name, out var list) ? list : owners[name] = [];
            if (named.FirstOrDefault(owner => owner != concept && !ParentAndChild(owner, concept)) is { } other)
            {
                diagnostics.Add(DiagnosticCodes.PolicyHierarchyInvalid, location,
                    $"Name '{name}' of concept '{concept}' is already a name of concept '{other}'; a name must identify one concept, or a parent and its child");
            }
            else if (!named.Contains(concept))
            {
                named.Add(concept);
            }
        }
    }

    /// <summary>Every file the globs match, sorted and without duplicates; KTU1008 for a glob that leaves the folder, KTU1007 for one that matches nothing, KTU1017 for each link it refuses, KTU1018 for one that matches too many files, KTU1019 for a folder it cannot list.</summary>
    private static IReadOnlyList<string> ExpandGlobs(IEnumerable<ExemplarPattern> patterns, string folder, DiagnosticBag diagnostics)
    {
        var files = new List<string>();
        foreach (var pattern in patterns)
        {
            if (!ExemplarGlob.StaysInside(pattern.Pattern))
            {
                diagnostics.Add(DiagnosticCodes.PolicyGlobEscapes, pattern.Location, pattern.Pattern, folder);
                continue;
            }

            var matched = ExemplarGlob.Expand(folder, pattern.Pattern);
            foreach (var problem in matched.Problems.DistinctBy(p => (p.Kind, p.Path)))
            {
                switch (problem.Kind)
                {
                    case ExemplarGlobProblemKind.Link:
                        diagnostics.Add(DiagnosticCodes.PolicyGlobMeetsLink, pattern.Location, pattern.Pattern, Path.GetRelativePath(folder, problem.Path), problem.Detail);
                        break;
                    case ExemplarGlobProblemKind.TooManyFiles:
                        diagnostics.Add(DiagnosticCodes.PolicyGlobTooManyFiles, pattern.Location, pattern.Pattern, ExemplarGlob.MaxFiles, folder);
                        break;
                    default:
                        diagnostics.Add(DiagnosticCodes.PolicyGlobFolderUnreadable, pattern.Location, pattern.Pattern, problem.Path, problem.Detail);
                        break;
                }
            }

            if (matched.Files.Count == 0 && matched.Problems.Count == 0)
            {
                diagnostics.Add(DiagnosticCodes.PolicyGlobMatchesNothing, pattern.Location, pattern.Pattern, folder);
            }

            files.AddRange(matched.Files);
        }

        return files.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    internal static JsonTreeString? Expect(ObjectReader reader, string name)
        => reader.Expect<JsonTreeString>(name, reader.Get(name), "a string");

    private static void CheckHierarchy(List<Concept> concepts, HashSet<string> names, DiagnosticBag diagnostics)
    {
        foreach (var concept in concepts.Where(c => c.Parent is not null))
        {
            if (!names.Contains(concept.Parent!))
            {
                diagnostics.Add(DiagnosticCodes.PolicyUnknownConcept, concept.ParentLocation, concept.Parent, $" (the parent of '{concept.Name}')");
                continue;
            }

            var seen = new HashSet<string> { concept.Name };
            for (var up = concept.Parent; up is not null; up = concepts.FirstOrDefault(c => c.Name == up)?.Parent)
            {
                if (!seen.Add(up))
                {
                    diagnostics.Add(DiagnosticCodes.PolicyHierarchyInvalid, concept.ParentLocation,
                        $"Concept '{concept.Name}' is its own ancestor: {string.Join(" -> ", seen)} -> {up}");
                    break;
                }
            }
        }
    }
}
