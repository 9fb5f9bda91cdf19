using KtuGate.Diagnostics;
using KtuGate.Json;

namespace KtuGate.Policies;

/// <summary>A policy's <c>forget</c> and <c>retain</c> clauses, as <see cref="PolicyParser"/> reads them: each names a defined concept, at a level it has.</summary>
internal static class PolicyClauses
{
    private static readonly string[] s_levels = ["fine", "coarse"];

    internal static List<ForgetClause> ReadForget(ObjectReader top, HashSet<string> names, List<Concept> concepts, DiagnosticBag diagnostics)
    {
        var forget = new List<ForgetClause>();
        foreach (var clause in ClauseObjects(top, "forget"))
        {
            var reader = top.Nested(clause, "a 'forget' clause", "concept", "level", "maxAccuracy");
            var concept = ClauseConcept(reader, names, concepts, diagnostics);
            var level = ClauseLevel(reader, concept, concepts);
            var max = reader.Number("maxAccuracy", 0, 1, required: true);
            if (concept is not null && level is not null && max is not null)
            {
                forget.Add(new ForgetClause(concept, level.Value, max.Value, clause.Location));
            }
        }

        return forget;
    }

    internal static List<RetainClause> ReadRetain(ObjectReader top, HashSet<string> names, List<Concept> concepts, DiagnosticBag diagnostics)
    {
        var retain = new List<RetainClause>();
        foreach (var clause in ClauseObjects(top, "retain"))
        {
            var reader = top.Nested(clause, "a 'retain' clause", "concept", "level", "minAccuracy", "maxDrop");
            var concept = ClauseConcept(reader, names, concepts, diagnostics);
            var level = ClauseLevel(reader, concept, concepts);
            var min = reader.Number("minAccuracy", 0, 1);
            var drop = reader.Number("maxDrop", 0, 1);
            if (reader.Get("minAccuracy") is null && reader.Get("maxDrop") is null)
            {
                reader.Report(DiagnosticCodes.PolicyClauseWithoutThreshold, clause.Location, "retain", "'minAccuracy' and/or 'maxDrop'");
            }
            else if (concept is not null && level is not null)
            {
                retain.Add(new RetainClause(concept, level.Value, min, drop, clause.Location));
            }
        }

        return retain;
    }

    private static IEnumerable<JsonTreeObject> ClauseObjects(ObjectReader top, string name)
    {
        var array = top.Array(name);
        if (array is null)
        {
            yield break;
        }

        foreach (var item in array.Items)
        {
            if (top.Expect<JsonTreeObject>(name + "[]", item, "an object") is { } clause)
            {
                yield return clause;
            }
        }
    }

    private static string? ClauseConcept(ObjectReader reader, HashSet<string> names, List<Concept> concepts, DiagnosticBag diagnostics)
    {
        var value = PolicyParser.Expect(reader, "concept");
        if (value is null)
        {
            reader.Get("concept", required: true);
            return null;
        }

        if (!names.Contains(value.Value))
        {
            var byAlias = concepts.FirstOrDefault(c => c.Aliases.Contains(value.Value));
            diagnostics.Add(DiagnosticCodes.PolicyUnknownConcept, value.Location, value.Value,
                byAlias is null ? string.Empty : $"; it is an alias of '{byAlias.Name}'");
            return null;
        }

        var concept = concepts.First(c => c.Name == value.Value);
        if (concept.Files.Count == 0 && concept.Exemplars.Count == 0)
        {
            diagnostics.Add(DiagnosticCodes.PolicyConceptWithoutExemplars, value.Location, value.Value);
        }

        return value.Value;
    }

    private static KnowledgeLevel? ClauseLevel(ObjectReader reader, string? conceptName, List<Concept> concepts)
    {
        var level = reader.OneOf("level", s_levels);
        if (level is not null)
        {
            return level == "coarse" ? KnowledgeLevel.Coarse : KnowledgeLevel.Fine;
        }

        if (reader.Get("level") is not null)
        {
            return null;
        }

        // Without a level, a concept that has a parent is fine-grained, and a concept at the top is coarse.
        var concept = concepts.FirstOrDefault(c => c.Name == conceptName);
        return concept?.Parent is null ? KnowledgeLevel.Coarse : KnowledgeLevel.Fine;
    }
}
