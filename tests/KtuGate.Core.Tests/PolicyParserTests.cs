using KtuGate.Diagnostics;
using KtuGate.Policies;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class PolicyParserTests
{
    private static string DataPolicy(string name) => Path.Combine(AppContext.BaseDirectory, "Data", "policies", name);

    [Fact]
    public void Valid_policy_with_comments_and_trailing_commas_is_read_in_full()
    {
        var diagnostics = new DiagnosticBag();
        var policy = PolicyParser.Load(DataPolicy("valid.ktu.json"), diagnostics);

        Assert.Empty(diagnostics.Items);
        Assert.NotNull(policy);
        Assert.Equal("valid", policy.Id);
        Assert.Equal(["footwear", "sneaker", "sandal"], policy.Concepts.Select(c => c.Name));
        Assert.Equal(["shoes"], policy.GetConcept("footwear").Aliases);
        Assert.Equal("footwear", policy.GetConcept("sneaker").Parent);
        Assert.Equal(12, policy.GetConcept("sneaker").Files.Count);

        // Two globs matching the same files give each file once, in a stable order.
        var sandal = policy.GetConcept("sandal").Files;
        Assert.Equal(12, sandal.Count);
        Assert.Equal(sandal.Order(StringComparer.Ordinal), sandal);

        var forget = Assert.Single(policy.Forget);
        Assert.Equal(KnowledgeLevel.Fine, forget.Level); // a concept with a parent is fine by default
        Assert.Equal(0.05, forget.MaxAccuracy);
        Assert.Equal(new SourceLocation(DataPolicy("valid.ktu.json"), 11, 5), forget.Location);

        Assert.Equal(2, policy.Retain.Count);
        Assert.Equal(KnowledgeLevel.Coarse, policy.Retain[0].Level);
        Assert.Equal(0.9, policy.Retain[0].MinAccuracy);
        Assert.Null(policy.Retain[0].MaxDrop);
        Assert.Equal(0.05, policy.Retain[1].MaxDrop);
        Assert.False(policy.Remedy.Allowed);
    }

    public static TheoryData<string, string[]> BadPolicies => new()
    {
        // file, then each expected diagnostic as "CODE@line,column"
        { "malformed.ktu.json", ["KTU1001@4,3"] },
        { "unknown-property.ktu.json", ["KTU1002@9,29", "KTU1003@9,5"] },
        { "unknown-concept.ktu.json", ["KTU1005@8,18", "KTU1005@11,18"] },
        { "threshold-out-of-range.ktu.json", ["KTU1006@8,44"] },
        { "empty-glob.ktu.json", ["KTU1007@5,32"] },
        { "escaping-glob.ktu.json", ["KTU1008@5,32", "KTU1008@5,55", "KTU1008@5,65"] },
        { "cycle.ktu.json", ["KTU1009@5,22", "KTU1009@6,22"] },
        { "unsupported-version.ktu.json", ["KTU1011@2,16"] },
        { "contradiction.ktu.json", ["KTU1014@11,5"] },
        { "retain-without-threshold.ktu.json", ["KTU1013@8,5"] },
        { "not-an-object.ktu.json", ["KTU1004@1,1"] },
        { "wrong-types.ktu.json", ["KTU1004@2,16", "KTU1004@3,9", "KTU1004@5,29", "KTU1004@8,38", "KTU1004@10,26", "KTU1004@10,45"] },
        { "many-errors.ktu.json", ["KTU1002@11,3", "KTU1007@5,51", "KTU1005@5,28", "KTU1006@8,44", "KTU1005@9,18"] },

        // A second "maxAccuracy" used to win silently and pass a model that knows the concept.
        { "duplicate-threshold.ktu.json", ["KTU1015@8,50"] },

        // Duplicates at every level, a concept key and a second 'forget' among them, reported with the other errors in one run.
        { "duplicate-everywhere.ktu.json", ["KTU1015@4,31", "KTU1015@8,5", "KTU1015@13,3", "KTU1002@14,3"] },
    };

    [Theory]
    [MemberData(nameof(BadPolicies))]
    public void Bad_policy_reports_every_error_with_its_location(string file, string[] expected)
    {
        var path = DataPolicy(file);
        var before = TestPaths.Sha256(path);
        var diagnostics = new DiagnosticBag();

        var policy = PolicyParser.Load(path, diagnostics);

        Assert.Null(policy);
        var actual = diagnostics.Items.Select(d => $"{d.Code}@{d.Location?.Line},{d.Location?.Column}").ToArray();
        Assert.Equal(expected.Order(), actual.Order());
        Assert.All(diagnostics.Items, d =>
        {
            Assert.Equal(path, d.Location!.File);
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            Assert.False(string.IsNullOrWhiteSpace(d.Message));
            Assert.DoesNotContain("   at ", d.Message, StringComparison.Ordinal); // never a stack trace
        });
        Assert.Equal(before, TestPaths.Sha256(path));
    }

    [Fact]
    public void Messages_name_what_is_wrong()
    {
        var diagnostics = new DiagnosticBag();
        PolicyParser.Load(DataPolicy("unknown-concept.ktu.json"), diagnostics);
        Assert.Contains("'trainer'", diagnostics.Items[0].Message, StringComparison.Ordinal);
        Assert.Contains("alias of 'sneaker'", diagnostics.Items[0].Message, StringComparison.Ordinal);

        diagnostics = new DiagnosticBag();
        PolicyParser.Load(DataPolicy("unknown-property.ktu.json"), diagnostics);
        Assert.Contains("'maxAcuracy'", diagnostics.Items[0].Message, StringComparison.Ordinal);
        Assert.Contains("maxAccuracy", diagnostics.Items[0].Message, StringComparison.Ordinal);

        diagnostics = new DiagnosticBag();
        PolicyParser.Load(DataPolicy("malformed.ktu.json"), diagnostics);
        Assert.Equal($"{DataPolicy("malformed.ktu.json")}(4,3): error KTU1001: {diagnostics.Items[0].Message}", diagnostics.Items[0].ToString());
    }

    [Fact]
    public void Missing_policy_file_is_a_located_error()
    {
        var diagnostics = new DiagnosticBag();
        var path = DataPolicy("does-not-exist.ktu.json");
        Assert.Null(PolicyParser.Load(path, diagnostics));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU1010", d.Code);
        Assert.Equal(path, d.Location!.File);
    }

    [Fact]
    public void Policy_larger_than_the_bound_is_refused_without_reading_it_all()
    {
        using var temp = new TempFolder();
        var path = temp.File("huge.ktu.json");
        using (var file = File.Create(path))
        {
            // Sparse: nothing is written, the file just claims its length.
            file.SetLength(KtuGate.Json.JsonDialect.MaxFileBytes + 1);
        }

        var diagnostics = new DiagnosticBag();
        Assert.Null(PolicyParser.Load(path, diagnostics));
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal(("KTU1010", path), (d.Code, d.Location!.File));
        Assert.Contains("larger than 16 MiB", d.Message, StringComparison.Ordinal);

        if (File.Exists("/dev/zero"))
        {
            // A device that never ends is refused at the bound, not read until memory runs out.
            diagnostics = new DiagnosticBag();
            Assert.Null(PolicyParser.Load("/dev/zero", diagnostics));
            Assert.Equal("KTU1010", Assert.Single(diagnostics.Items).Code);
        }
    }

    [Fact]
    public void Columns_count_characters_not_bytes()
    {
        using var temp = new TempFolder();
        var path = temp.File("p.ktu.json", "{ \"ktuPolicy\": 1, \"id\": \"ünïcödé\", \"concepts\": {}, \"bogus\": 1 }");
        var diagnostics = new DiagnosticBag();
        PolicyParser.Load(path, diagnostics);
        var d = Assert.Single(diagnostics.Items);
        Assert.Equal("KTU1002", d.Code);
        Assert.Equal(52, d.Location!.Column); // 56 if bytes were counted
    }

    [Fact]
    public void Duplicate_threshold_message_names_both_places()
    {
        var diagnostics = new DiagnosticBag();
        PolicyParser.Load(DataPolicy("duplicate-threshold.ktu.json"), diagnostics);
        var d = Assert.Single(diagnostics.Items);
        Assert.Contains("'maxAccuracy' is already given at line 8, column 29", d.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, byte[], string> BadText => new()
    {
        // name, the policy's bytes, the expected "CODE@line,column"
        { "invalid UTF-8 in a string", Bytes("{ \"ktuPolicy\": 1,\n  \"id\": \"a", new byte[] { 0xFF }, "\" }"), "KTU1016@2,11" },
        { "truncated UTF-8 sequence at the end", Bytes("{ \"id\": \"", new byte[] { 0xE2, 0x82 }), "KTU1016@1,10" },
        { "UTF-8 encoded surrogate", Bytes("{\n\"id\": \"", new byte[] { 0xED, 0xA0, 0x80 }, "\" }"), "KTU1016@2,8" },
        { "lone high surrogate escape", Bytes("{ \"ktuPolicy\": 1,\n  \"id\": \"x\\ud800\" }"), "KTU1016@2,11" },
        { "lone low surrogate escape", Bytes("{ \"id\": \"\\udc00\\ud800\" }"), "KTU1016@1,10" },
        { "high surrogate escape followed by a character", Bytes("{ \"id\": \"\\uD83Dx\" }"), "KTU1016@1,10" },
        { "lone surrogate escape in a property name", Bytes("{ \"\\ud800\": 1 }"), "KTU1016@1,4" },
    };

    [Theory]
    [MemberData(nameof(BadText))]
    public void Invalid_text_is_a_located_error_not_an_exception(string name, byte[] utf8, string expected)
    {
        using var temp = new TempFolder();
        var path = temp.File("p.ktu.json");
        File.WriteAllBytes(path, utf8);
        var diagnostics = new DiagnosticBag();

        Assert.Null(PolicyParser.Load(path, diagnostics));

        var d = Assert.Single(diagnostics.Items, d => d.Code == "KTU1016");
        Assert.True($"{d.Code}@{d.Location!.Line},{d.Location.Column}" == expected, $"{name}: got {d}");
        Assert.Equal(path, d.Location.File);
    }

    [Fact]
    public void Invalid_text_does_not_hide_the_policy_s_other_errors()
    {
        using var temp = new TempFolder();
        var path = temp.File("p.ktu.json");
        File.WriteAllBytes(path, Bytes("""
            { "ktuPolicy": 1, "id": "x\ud800",
              "title": "a
            """, new byte[] { 0xC0, 0xAF }, """
            ",
              "concepts": { "sneaker": { "exemplars": ["exemplars/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05, "maxAccuracy": 1.0 } ],
              "bogus": true
            }
            """));
        var diagnostics = new DiagnosticBag();

        Assert.Null(PolicyParser.Load(path, diagnostics));

        Assert.Equal(["KTU1002@5,3", "KTU1007@3,44", "KTU1015@4,60", "KTU1016@1,27", "KTU1016@2,14"],
            diagnostics.Items.Select(d => $"{d.Code}@{d.Location!.Line},{d.Location.Column}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Escaped_surrogate_pairs_and_a_byte_order_mark_are_accepted()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "exemplars/sneaker", 3);
        var path = temp.File("p.ktu.json");
        File.WriteAllBytes(path, Bytes(new byte[] { 0xEF, 0xBB, 0xBF }, """
            { "ktuPolicy": 1, "id": "smile \uD83D\uDE00 😀 \\ud800",
              "concepts": { "sneaker": { "exemplars": ["exemplars/sneaker/*.png"] } },
              "forget": [ { "concept": "sneaker", "maxAccuracy": 0.05 } ] }
            """));
        var diagnostics = new DiagnosticBag();

        var policy = PolicyParser.Load(path, diagnostics);

        Assert.Empty(diagnostics.Items);
        Assert.Equal("smile 😀 😀 \\ud800", policy!.Id);
    }

    private static byte[] Bytes(params object[] parts)
        => parts.SelectMany(p => p switch
        {
            string text => System.Text.Encoding.UTF8.GetBytes(text),
            byte[] raw => raw,
            _ => throw new ArgumentException("string or bytes", nameof(parts)),
        }).ToArray();
}
