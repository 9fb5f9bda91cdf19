using KtuGate.Diagnostics;
using KtuGate.Models;
using KtuGate.Probing;
using KtuGate.Tests;

namespace KtuGate.Core.Tests;

public sealed class ProbeTests
{
    /// <summary>The FashionGate sample's classifier, open where <paramref name="provider"/> says.</summary>
    internal static LoadedModel OpenSample(DiagnosticBag diagnostics, ExecutionProviderPreference provider = ExecutionProviderPreference.Auto)
    {
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        return LoadedModel.Open(TestPaths.SampleModel, manifest, provider, diagnostics)!;
    }

    /// <summary>The sample's exemplars of <paramref name="label"/>, in order.</summary>
    internal static string[] Exemplars(string label) =>
        Directory.GetFiles(TestPaths.Sample("policies", "exemplars", label), "*.png").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Real_classifier_recognises_its_classes_on_real_exemplars()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var probe = new ClassifierProbe(model, batchSize: 64);
        var sneaker = model.Manifest.Labels.ToList().IndexOf("sneaker");
        var bag = model.Manifest.Labels.ToList().IndexOf("bag");

        var sneakers = probe.Probe(Exemplars("sneaker"), diagnostics);
        var bags = probe.Probe(Exemplars("bag"), diagnostics);

        Assert.DoesNotContain(diagnostics.Items, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(300, sneakers.N);
        Assert.Equal(300, sneakers.PredictedCounts.Sum());
        Assert.InRange(sneakers.PredictedCounts[sneaker] / 300.0, 0.9, 1.0);
        Assert.InRange(bags.PredictedCounts[bag] / 300.0, 0.9, 1.0);
        Assert.True(sneakers.PredictedCounts[bag] < 10);
        Assert.All(sneakers.Samples[sneaker], f => Assert.StartsWith(TestPaths.Sample("policies", "exemplars", "sneaker"), f, StringComparison.Ordinal));
    }

    [Fact]
    public void Execution_provider_is_reported_and_cpu_can_be_forced()
    {
        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        using var cpu = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Cpu, diagnostics)!;
        Assert.Equal(SessionFactory.Cpu, cpu.ExecutionProvider);
        Assert.Empty(diagnostics.Items);

        using var auto = LoadedModel.Open(TestPaths.SampleModel, manifest, ExecutionProviderPreference.Auto, diagnostics)!;
        if (auto.ExecutionProvider == SessionFactory.Cpu)
        {
            // Without a usable CUDA the fallback is announced, not silent.
            Assert.Contains(diagnostics.Items, d => d.Code == "KTU5001" && d.Severity == DiagnosticSeverity.Info);
        }
        else
        {
            Assert.Equal(SessionFactory.Cuda, auto.ExecutionProvider);
        }
    }

    [Fact]
    public void Batch_size_does_not_change_the_predictions()
    {
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);
        var files = Exemplars("shirt").Take(70).ToArray();

        var one = new ClassifierProbe(model, batchSize: 1).Probe(files, diagnostics);
        var many = new ClassifierProbe(model, batchSize: 32).Probe(files, diagnostics);

        Assert.Equal(one.PredictedCounts, many.PredictedCounts);
        Assert.Equal(70, many.N);
    }

    [Fact]
    public void Undecodable_exemplar_is_reported_and_left_out_of_n()
    {
        using var temp = new TempFolder();
        temp.CopyExemplars("sneaker", "x", 5);
        var fake = temp.File("x/zz-fake.png", "not an image");
        var truncated = temp.File("x/zz-truncated.png");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Exemplars("sandal")[0])[..40]);
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);

        var tally = new ClassifierProbe(model).Probe(Directory.GetFiles(Path.Combine(temp.Path, "x")).Order(StringComparer.Ordinal), diagnostics);

        Assert.Equal(5, tally.N);
        var errors = diagnostics.Items.Where(d => d.Code == "KTU2008").ToList();
        Assert.Equal([fake, truncated], errors.Select(e => e.Location!.File));
    }

    [Fact]
    public void Larger_rgba_images_are_resized_and_normalised()
    {
        // A larger RGBA image is resized to the 28x28 grayscale input and normalised as the manifest says.
        using var temp = new TempFolder();
        var path = temp.File("big.png");
        using (var bitmap = new SkiaSharp.SKBitmap(56, 56))
        {
            bitmap.Erase(new SkiaSharp.SKColor(255, 255, 255));
            using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }

        var diagnostics = new DiagnosticBag();
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, diagnostics)!;
        var buffer = new float[28 * 28];
        Assert.Null(ImageDecoder.TryDecode(path, manifest.Input!, manifest.Preprocess!, buffer));
        var white = (float)((255 * manifest.Preprocess!.Scale - 0.2860) / 0.3530);
        Assert.All(buffer, v => Assert.Equal(white, v, 3));
    }

    [Fact]
    public void Image_declaring_more_pixels_than_the_limit_is_refused_from_its_header()
    {
        // A few hundred bytes that declare 30000x30000 pixels: decoding them would allocate about 1 GB.
        using var temp = new TempFolder();
        var huge = temp.File("huge.png");
        File.WriteAllBytes(huge, Png(30000, 30000));
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);

        var tally = new ClassifierProbe(model).Probe([huge], diagnostics);

        Assert.Equal(0, tally.N);
        var error = Assert.Single(diagnostics.Items, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(("KTU2008", huge), (error.Code, error.Location!.File));
        Assert.Contains("30000x30000 pixels", error.Message, StringComparison.Ordinal);
        Assert.Contains("not decoded", error.Message, StringComparison.Ordinal);
        Assert.Equal(64, ImageDecoder.MaxPixels / (1 << 20));
    }

    [Fact]
    public void Image_at_the_pixel_limit_is_read_from_its_header_and_not_refused_for_size()
    {
        // 8192x8192 is allowed; this one's data then turns out to be missing, which is its own error.
        using var temp = new TempFolder();
        var path = temp.File("limit.png");
        File.WriteAllBytes(path, Png(8192, 8192));
        var manifest = ManifestParser.Load(TestPaths.SampleManifest, new DiagnosticBag())!;

        var error = ImageDecoder.TryDecode(path, manifest.Input!, manifest.Preprocess!, new float[28 * 28]);

        Assert.Equal("the image data is truncated", error);
    }

    [Fact]
    public void Image_whose_data_ends_early_is_refused_not_probed_half_blank()
    {
        // SkiaSharp decodes what is there and leaves the rest blank; a half-decoded exemplar must not be probed.
        using var temp = new TempFolder();
        var whole = File.ReadAllBytes(Exemplars("sandal")[0]);
        var truncated = temp.File("truncated.png");
        File.WriteAllBytes(truncated, whole[..(whole.Length / 2)]);
        var corrupt = temp.File("corrupt.png");
        var flipped = whole.ToArray();
        for (var i = 60; i < flipped.Length - 20; i++)
        {
            flipped[i] ^= 0x5A;
        }

        File.WriteAllBytes(corrupt, flipped);
        var diagnostics = new DiagnosticBag();
        using var model = OpenSample(diagnostics);

        var tally = new ClassifierProbe(model).Probe([truncated, corrupt], diagnostics);

        Assert.Equal(0, tally.N);
        var errors = diagnostics.Items.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.Equal([("KTU2008", truncated), ("KTU2008", corrupt)], errors.Select(e => (e.Code, e.Location!.File)));
        Assert.Contains("truncated", errors[0].Message, StringComparison.Ordinal);
    }

    /// <summary>A grayscale PNG that declares the given size but holds one row of pixel data.</summary>
    private static byte[] Png(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (gray), compression, filter and interlace 0
        Chunk(png, "IHDR", header);
        using var zipped = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(zipped, System.IO.Compression.CompressionLevel.Optimal))
        {
            zlib.Write(new byte[1 + width]);
        }

        Chunk(png, "IDAT", zipped.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        byte[] body = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        png.Write(body);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(body));
        png.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
