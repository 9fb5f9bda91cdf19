using KtuGate.Diagnostics;

namespace KtuGate.Json;

/// <summary>A JSON value that remembers where in its file it was written.</summary>
public abstract record JsonTree(SourceLocation Location)
{
    /// <summary>The JSON kind, as a user would name it in an error message.</summary>
    public abstract string KindName { get; }
}

/// <summary>A JSON object with its properties in file order.</summary>
public sealed record JsonTreeObject(SourceLocation Location, IReadOnlyList<JsonTreeProperty> Properties) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => "an object";

    /// <summary>The property with this name, or null.</summary>
    /// <remarks>Names are unique: <see cref="JsonTreeReader"/> reports a duplicate and keeps only the first.</remarks>
    public JsonTreeProperty? Find(string name) => Properties.FirstOrDefault(p => p.Name == name);
}

/// <summary>One property of a JSON object.</summary>
public sealed record JsonTreeProperty(string Name, SourceLocation NameLocation, JsonTree Value);

/// <summary>A JSON array.</summary>
public sealed record JsonTreeArray(SourceLocation Location, IReadOnlyList<JsonTree> Items) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => "an array";
}

/// <summary>A JSON string.</summary>
public sealed record JsonTreeString(SourceLocation Location, string Value) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => "a string";
}

/// <summary>A JSON number, kept as written and as a double.</summary>
public sealed record JsonTreeNumber(SourceLocation Location, double Value, string Text) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => "a number";
}

/// <summary>A JSON true or false.</summary>
public sealed record JsonTreeBoolean(SourceLocation Location, bool Value) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => Value ? "true" : "false";
}

/// <summary>A JSON null.</summary>
public sealed record JsonTreeNull(SourceLocation Location) : JsonTree(Location)
{
    /// <inheritdoc />
    public override string KindName => "null";
}
