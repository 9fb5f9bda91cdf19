using KtuGate.Diagnostics;
using KtuGate.Json;
using KtuGate.Probing;

namespace KtuGate.Kinds.TextEmbedding;

/// <summary>One fact, <c>subject —relation→ object</c>, read from a line of a JSON Lines file.</summary>
/// <param name="Relation">The relation's name in the relations file.</param>
/// <param name="Subject">The subject's name.</param>
/// <param name="Aliases">Other names of the subject; each is probed like the name.</param>
/// <param name="Object">The true object.</param>
/// <param name="Location">The file and line it was read from.</param>
public sealed record FactRecord(string Relation, string Subject, IReadOnlyList<string> Aliases, string Object, SourceLocation Location) : Exemplar(Location)
{
    /// <summary>Every name of the subject: its name, then its aliases.</summary>
    public IReadOnlyList<string> Names => [Subject, .. Aliases];
}

/// <summary>A relation: how its subjects and objects are worded, and which relation gives an object's parent (its coarse level).</summary>
/// <param name="Name">The relation's name.</param>
/// <param name="SubjectTemplates">Wordings of a subject, each with one "{subject}".</param>
/// <param name="Paraphrases">Further wordings, probed for robustness.</param>
/// <param name="ObjectTemplate">The wording of a candidate object, with one "{object}".</param>
/// <param name="Coarse">The relation that maps an object to its parent (city → country), or null.</param>
/// <param name="Location">Where the relations file defines it.</param>
public sealed record FactRelation(string Name, IReadOnlyList<string> SubjectTemplates, IReadOnlyList<string> Paraphrases, string ObjectTemplate, string? Coarse, SourceLocation Location)
{
    /// <summary>A subject's wording from a template.</summary>
    public static string Subject(string template, string name) => template.Replace("{subject}", name, StringComparison.Ordinal);

    /// <summary>Every wording of a fact's subject: each name in each subject template, then, with <paramref name="paraphrases"/>, in each paraphrase.</summary>
    public IEnumerable<string> SubjectTexts(FactRecord fact, bool paraphrases)
        => (paraphrases ? SubjectTemplates.Concat(Paraphrases) : SubjectTemplates).SelectMany(t => fact.Names.Select(n => Subject(t, n)));

    /// <summary>A candidate's wording.</summary>
    public string ObjectText(string candidate) => ObjectTemplate.Replace("{object}", candidate, StringComparison.Ordinal);
}

/// <summary>
/// The facts a text-embedding model is probed against: the relations and every fact of the manifest's fact files. A relation's
/// candidates are the distinct objects of its facts; an object's parent is the object of its fact in the relation's coarse relation.
/// </summary>
public sealed class FactSet
{
    /// <summary>The largest relations or fact file read: 16 MiB (the sample's 386 facts take 30 KB).</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    private static readonly string[] s_factFields = ["relation", "subject", "aliases", "object"];
    private static readonly string[] s_relationFields = ["description", "subjectTemplates", "paraphrases", "objectTemplate", "coarse"];
    private readonly Dictionary<string, List<string>> _candidates = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Relation, string Subject), string> _objects = [];

    private FactSet(IReadOnlyDictionary<string, FactRelation> relations, IReadOnlyList<FactRecord> facts)
    {
        Relations = relations;
        Facts = facts;
        foreach (var fact in facts)
        {
            var candidates = _candidates.TryGetValue(fact.Relation, out var list) ? list : _candidates[fact.Relation] = [];
            if (!candidates.Contains(fact.Object, StringComparer.Ordinal))
            {
                candidates.Add(fact.Object);
            }

            _objects.TryAdd((fact.Relation, fact.Subject), fact.Object);
        }
    }

    /// <summary>The relations, by name.</summary>
    public IReadOnlyDictionary<string, FactRelation> Relations { get; }

    /// <summary>Every fact, in file and line order.</summary>
    public IReadOnlyList<FactRecord> Facts { get; }

    /// <summary>A relation's candidates: the distinct objects of its facts, in the order first read.</summary>
    public IReadOnlyList<string> Candidates(string relation) => _candidates.TryGetValue(relation, out var list) ? list : [];

    /// <summary>The parent of a fact's object (Paris → France) through its relation's coarse relation, or null where it has none.</summary>
    public (FactRelation Relation, string Parent)? Parent(FactRecord fact)
        => Relations[fact.Relation].Coarse is { } coarse && _objects.TryGetValue((coarse, fact.Object), out var parent) ? (Relations[coarse], parent) : null;

    /// <summary>Reads a relations file and fact files; every problem is reported with its file, line and column (KTU2042, KTU2043).</summary>
    /// <returns>The fact set, or null when any file has errors.</returns>
    public static FactSet? Load(string relationsPath, IEnumerable<string> factFiles, DiagnosticBag diagnostics)
    {
        var local = new DiagnosticBag();
        var relations = ReadRelations(relationsPath, local);
        var facts = factFiles.SelectMany(f => ReadFacts(f, local)).ToList();
        if (relations is not null)
        {
            foreach (var fact in facts.Where(f => !relations.ContainsKey(f.Relation)))
            {
                local.Add(DiagnosticCodes.FactRecordInvalid, fact.Location,
                    $"relation '{fact.Relation}' is not in the relations file '{relationsPath}'; relations: {string.Join(", ", relations.Keys)}");
            }

            foreach (var relation in relations.Values.Where(r => r.Coarse is { } c && !relations.ContainsKey(c)))
            {
                local.Add(DiagnosticCodes.RelationsInvalid, relation.Location, $"relation '{relation.Name}' names coarse relation '{relation.Coarse}', which is not defined");
            }
        }

        diagnostics.AddRange(local.Items);
        return local.HasErrors || relations is null ? null : new FactSet(relations, facts);
    }

    /// <summary>Reads the fact records of <paramref name="files"/> (a policy's exemplars); a record whose relation the set does not define is KTU2042 at its line, and left out.</summary>
    public List<FactRecord> ReadOfRelations(IEnumerable<string> files, DiagnosticBag diagnostics)
    {
        var records = new List<FactRecord>();
        foreach (var fact in files.SelectMany(f => ReadFacts(f, diagnostics)))
        {
            if (Relations.ContainsKey(fact.Relation))
            {
                records.Add(fact);
            }
            else
            {
                diagnostics.Add(DiagnosticCodes.FactRecordInvalid, fact.Location,
                    $"relation '{fact.Relation}' is not in the manifest's relations; relations: {string.Join(", ", Relations.Keys)}");
            }
        }

        return records;
    }

    /// <summary>Reads the fact records of one JSON Lines file: one object per line, blank lines skipped.</summary>
    /// <remarks>Untrusted input: the file must be a regular file of at most <see cref="MaxFileBytes"/> (a FIFO or device is refused, never read).</remarks>
    public static IReadOnlyList<FactRecord> ReadFacts(string path, DiagnosticBag diagnostics)
    {
        var facts = new List<FactRecord>();
        foreach (var record in JsonLinesFile.Records(path, MaxFileBytes, DiagnosticCodes.FactRecordInvalid, "fact", s_factFields, diagnostics))
        {
            var (relation, subject, obj) = (record.Text("relation"), record.Text("subject"), record.Text("object"));
            var aliases = record.Texts("aliases");
            if (record.Ok && relation is not null && subject is not null && obj is not null)
            {
                facts.Add(new FactRecord(relation, subject, aliases, obj, record.Location));
            }
        }

        return facts;
    }

    private static Dictionary<string, FactRelation>? ReadRelations(string path, DiagnosticBag diagnostics)
    {
        if (JsonLinesFile.ReadBounded(path, MaxFileBytes, DiagnosticCodes.RelationsInvalid, diagnostics) is not { } bytes)
        {
            return null;
        }

        var root = JsonTreeReader.Parse(bytes, path, out var errors);
        foreach (var error in errors)
        {
            diagnostics.Add(DiagnosticCodes.RelationsInvalid, error.Location, error.Message);
        }

        if (root is not JsonTreeObject top || errors.Count > 0)
        {
            if (root is not null and not JsonTreeObject)
            {
                diagnostics.Add(DiagnosticCodes.RelationsInvalid, root.Location, $"the relations file must be an object of relations by name, not {root.KindName}");
            }

            return null;
        }

        var relations = new Dictionary<string, FactRelation>(StringComparer.Ordinal);
        var ok = true;
        foreach (var property in top.Properties.Where(p => p.Name != "$schema"))
        {
            void Problem(SourceLocation at, string message)
            {
                diagnostics.Add(DiagnosticCodes.RelationsInvalid, at, $"relation '{property.Name}': {message}");
                ok = false;
            }

            if (property.Value is not JsonTreeObject body)
            {
                Problem(property.Value.Location, $"must be an object, not {property.Value.KindName}");
                continue;
            }

            relations[property.Name] = ReadRelation(property.Name, property.NameLocation, body, Problem);
        }

        return ok ? relations : null;
    }

    /// <summary>One relation's body; its problems go to <paramref name="problem"/>.</summary>
    private static FactRelation ReadRelation(string name, SourceLocation nameLocation, JsonTreeObject body, Action<SourceLocation, string> problem)
    {
        foreach (var unknown in body.Properties.Where(p => !s_relationFields.Contains(p.Name)))
        {
            problem(unknown.NameLocation, $"unknown property '{unknown.Name}'; expected: {string.Join(", ", s_relationFields)}");
        }

        var subjects = Templates(body, "subjectTemplates", "{subject}", required: true, problem);
        var paraphrases = Templates(body, "paraphrases", "{subject}", required: false, problem);
        var objectTemplate = "{object}";
        if (body.Find("objectTemplate")?.Value is { } template)
        {
            if (template is JsonTreeString s && s.Value.Split("{object}").Length == 2)
            {
                objectTemplate = s.Value;
            }
            else
            {
                problem(template.Location, "'objectTemplate' must be a string with '{object}' exactly once");
            }
        }

        string? coarse = null;
        if (body.Find("coarse")?.Value is { } coarseValue)
        {
            if (coarseValue is JsonTreeString { Value.Length: > 0 } c)
            {
                coarse = c.Value;
            }
            else
            {
                problem(coarseValue.Location, "'coarse' must name a relation");
            }
        }

        if (body.Find("description")?.Value is { } description and not JsonTreeString)
        {
            problem(description.Location, "'description' must be a string");
        }

        return new FactRelation(name, subjects, paraphrases, objectTemplate, coarse, nameLocation);
    }

    /// <summary>A relation's list of templates <paramref name="name"/>, each with <paramref name="slot"/> exactly once.</summary>
    private static List<string> Templates(JsonTreeObject body, string name, string slot, bool required, Action<SourceLocation, string> problem)
        {
            var found = new List<string>();
            switch (body.Find(name)?.Value)
            {
                case null when required:
                    problem(body.Location, $"'{name}' is required");
                    break;
                case null:
                    break;
                case JsonTreeArray array:
                    foreach (var item in array.Items)
                    {
                        if (item is JsonTreeString s && s.Value.Split(slot).Length == 2)
                        {
                            found.Add(s.Value);
                        }
                        else
                        {
                            problem(item.Location, $"each of '{name}' must be a string with '{slot}' exactly once");
                        }
                    }

                    if (required && array.Items.Count == 0)
                    {
                        problem(array.Location, $"'{name}' must hold at least one template");
                    }

                    break;
                case var other:
                    problem(other.Location, $"'{name}' must be an array of strings, not {other.KindName}");
                    break;
            }

            return found;
        }
}
