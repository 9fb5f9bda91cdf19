using System.Text.Json;
using KtuGate.Diagnostics;
using KtuGate.Kinds.DualEncoder;
using KtuGate.Models;
using KtuGate.Probing;

// Usage: dotnet run --project samples/FashionClip/train/EmbedPrompts -- MANIFEST OUTPUT.json
// Writes, for every fine label and coarse group, the unit-length mean of its prompt embeddings
// (the class embeddings the gate probes with), so that training aligns with exactly those.
var diagnostics = new DiagnosticBag();
var manifest = ManifestParser.Load(args[0], diagnostics);
var section = manifest?.Section as DualEncoderSection;
using var tower = section is not null ? TextTower.Open(section.TextTower, ExecutionProviderPreference.Cpu, diagnostics) : null;
if (manifest is null || section is null || tower is null)
{
    foreach (var d in diagnostics.Items)
    {
        Console.Error.WriteLine(d);
    }

    return 2;
}

float[] Ensemble(string name) => VectorMath.MeanDirection(section.PromptTemplates.Select(t => tower.Embed(t.Replace("{}", name, StringComparison.Ordinal))));
var result = new
{
    dim = tower.Dimension,
    templates = section.PromptTemplates,
    fine = manifest.Labels.Select(l => new { name = l, embedding = Ensemble(l) }),
    coarse = manifest.Coarse.Select(g => new { name = g.Name, labels = g.Labels, embedding = Ensemble(g.Name) }),
};
File.WriteAllText(args[1], JsonSerializer.Serialize(result));
Console.WriteLine($"Embedded {tower.Embedded} prompts ({tower.Dimension} dims) into {args[1]}");
return 0;
