using System.Globalization;
using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>Reads the properties of one JSON object strictly: unknown properties, missing required ones and values of the wrong kind are all reported, and reading goes on.</summary>
internal sealed class ObjectReader
{
    private readonly JsonTreeObject _object;
    private readonly string _context;
    private readonly JsonDialect _dialect;
    private readonly DiagnosticBag _diagnostics;

    public ObjectReader(JsonTreeObject obj, string context, JsonDialect dialect, DiagnosticBag diagnostics, params string[] allowed)
    {
        _object = obj;
        _context = context;
        _dialect = dialect;
        _diagnostics = diagnostics;
        foreach (var property in obj.Properties)
        {
            // "$schema" is for editors; it is allowed everywhere a schema can be named.
            if (property.Name != "$schema" && System.Array.IndexOf(allowed, property.Name) < 0)
            {
                diagnostics.Add(dialect.UnknownProperty, property.NameLocation, property.Name, context, string.Join(", ", allowed));
            }
        }
    }

    public SourceLocation Location => _object.Location;

    public JsonTree? Get(string name, bool required = false)
    {
        var property = _object.Find(name);
        if (property is null && required)
        {
            _diagnostics.Add(_dialect.MissingProperty, _object.Location, Capitalize(_context), name);
        }

        return property?.Value;
    }

    public T? Expect<T>(string name, JsonTree? value, string expected)
        where T : JsonTree
    {
        if (value is null or T)
        {
            return value as T;
        }

        _diagnostics.Add(_dialect.InvalidValue, value.Location, name, expected, value.KindName);
        return null;
    }

    public string? String(string name, bool required = false)
    {
        var value = Expect<JsonTreeString>(name, Get(name, required), "a string");
        if (value is not null && value.Value.Length == 0)
        {
            _diagnostics.Add(_dialect.InvalidValue, value.Location, name, "a non-empty string", "an empty string");
            return null;
        }

        return value?.Value;
    }

    public string? OneOf(string name, IReadOnlyCollection<string> allowed, bool required = false)
    {
        var value = Expect<JsonTreeString>(name, Get(name, required), "a string");
        if (value is null)
        {
            return null;
        }

        if (!allowed.Contains(value.Value))
        {
            _diagnostics.Add(_dialect.InvalidValue, value.Location, name, "one of " + string.Join(", ", allowed.Select(a => $"\"{a}\"")), $"\"{value.Value}\"");
            return null;
        }

        return value.Value;
    }

    public double? Number(string name, double min, double max, bool required = false)
    {
        var value = Expect<JsonTreeNumber>(name, Get(name, required), "a number");
        return value is null ? null : CheckRange(name, value, min, max);
    }

    public int? Integer(string name, int min, int max, bool required = false)
    {
        var value = Expect<JsonTreeNumber>(name, Get(name, required), "an integer");
        if (value is null)
        {
            return null;
        }

        if (value.Value != Math.Floor(value.Value))
        {
            _diagnostics.Add(_dialect.InvalidValue, value.Location, name, "an integer", value.Text);
            return null;
        }

        return (int?)CheckRange(name, value, min, max);
    }

    public bool? Boolean(string name, bool required = false)
        => Expect<JsonTreeBoolean>(name, Get(name, required), "true or false")?.Value;

    public ObjectReader? Object(string name, string context, bool required, params string[] allowed)
    {
        var value = Expect<JsonTreeObject>(name, Get(name, required), "an object");
        return value is null ? null : new ObjectReader(value, context, _dialect, _diagnostics, allowed);
    }

    public ObjectReader Nested(JsonTreeObject value, string context, params string[] allowed)
        => new(value, context, _dialect, _diagnostics, allowed);

    public JsonTreeObject? RawObject(string name, bool required = false)
        => Expect<JsonTreeObject>(name, Get(name, required), "an object");

    public JsonTreeArray? Array(string name, bool required = false)
        => Expect<JsonTreeArray>(name, Get(name, required), "an array");

    public IReadOnlyList<JsonTreeString> Strings(string name, bool required = false)
    {
        var array = Array(name, required);
        if (array is null)
        {
            return [];
        }

        var result = new List<JsonTreeString>();
        foreach (var item in array.Items)
        {
            var text = Expect<JsonTreeString>(name + "[]", item, "a string");
            if (text is not null)
            {
                result.Add(text);
            }
        }

        return result;
    }

    public IReadOnlyList<double>? Numbers(string name, bool required = false)
    {
        var array = Array(name, required);
        if (array is null)
        {
            return null;
        }

        var result = new List<double>();
        foreach (var item in array.Items)
        {
            var number = Expect<JsonTreeNumber>(name + "[]", item, "a number");
            if (number is null)
            {
                return null;
            }

            result.Add(number.Value);
        }

        return result;
    }

    public void Report(DiagnosticDescriptor descriptor, SourceLocation location, params object?[] args)
        => _diagnostics.Add(descriptor, location, args);

    private double? CheckRange(string name, JsonTreeNumber value, double min, double max)
    {
        if (value.Value < min || value.Value > max)
        {
            _diagnostics.Add(_dialect.OutOfRange, value.Location, name, value.Text,
                min.ToString(CultureInfo.InvariantCulture), max.ToString(CultureInfo.InvariantCulture));
            return null;
        }

        return value.Value;
    }

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
