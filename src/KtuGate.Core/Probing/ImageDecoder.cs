using KtuGate.Models;
using SkiaSharp;

namespace KtuGate.Probing;

/// <summary>Turns an image file into the float tensor slice a model's manifest describes.</summary>
public static class ImageDecoder
{
    /// <summary>Decodes, resizes and normalises one image into <paramref name="destination"/> (C*H*W floats in the input's layout).</summary>
    /// <returns>Null on success, otherwise why the file is not a usable image.</returns>
    public static string? TryDecode(string file, InputSpec input, PreprocessSpec preprocess, Span<float> destination)
    {
        SKBitmap? decoded;
        try
        {
            using var stream = File.OpenRead(file);
            using var codec = SKCodec.Create(stream, out var result);
            if (codec is null)
            {
                return result == SKCodecResult.Unimplemented ? "not an image format KtuGate can read" : $"not an image ({result})";
            }

            decoded = SKBitmap.Decode(codec);
        }
        catch (IOException e)
        {
            return e.Message;
        }

        if (decoded is null)
        {
            return "the image data is corrupt or truncated";
        }

        using (decoded)
        {
            var info = new SKImageInfo(input.Width, input.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var sized = new SKBitmap(info);
            if (decoded.Width == input.Width && decoded.Height == input.Height)
            {
                if (!decoded.CopyTo(sized, SKColorType.Rgba8888))
                {
                    return "the image cannot be converted to RGBA";
                }
            }
            else if (!decoded.ScalePixels(sized, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None)))
            {
                return "the image cannot be resized";
            }

            Fill(sized.GetPixelSpan(), input, preprocess, destination);
            return null;
        }
    }

    private static void Fill(ReadOnlySpan<byte> rgba, InputSpec input, PreprocessSpec p, Span<float> destination)
    {
        var pixels = input.Width * input.Height;
        var channels = input.Channels;
        for (var i = 0; i < pixels; i++)
        {
            var r = rgba[i * 4];
            var g = rgba[i * 4 + 1];
            var b = rgba[i * 4 + 2];
            for (var c = 0; c < channels; c++)
            {
                double value = p.Color == ColorMode.Grayscale
                    ? Luminance(r, g, b)
                    : c switch { 0 => r, 1 => g, _ => b };
                var normalised = (float)((value * p.Scale - p.Mean[c]) / p.Std[c]);
                var index = input.Layout == TensorLayout.Nchw ? c * pixels + i : i * channels + c;
                destination[index] = normalised;
            }
        }
    }

    // ITU-R BT.601 luma, the weights most training pipelines (PIL's "L" mode among them) use; exact for gray images.
    private static double Luminance(byte r, byte g, byte b)
        => r == g && g == b ? r : (r * 299 + g * 587 + b * 114) / 1000.0;
}
