using System.Globalization;
using KtuGate.Models;
using KtuGate.Onnx;
using SkiaSharp;

namespace KtuGate.Probing;

/// <summary>Turns an image file into the float tensor slice a model's manifest describes.</summary>
/// <remarks>
/// Exemplars are untrusted files: an image's header is read first and one that declares more than
/// <see cref="MaxPixels"/> pixels is refused without decoding (a 30000x30000 PNG of a few kilobytes would take
/// gigabytes), and an image whose data ends early or is corrupt is refused rather than probed half decoded. Only a regular file of at most
/// <see cref="MaxFileBytes"/> is opened (without blocking, judged from the open handle): a FIFO, a device or a folder is refused, never read.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>The most pixels an exemplar may declare: 64 megapixels (8192 x 8192). Models take far smaller inputs; the bound keeps one decode under 256 MB.</summary>
    public const long MaxPixels = 8192L * 8192;

    /// <summary>The largest exemplar file read: 256 MiB. An image within <see cref="MaxPixels"/> compresses far below it; a longer file is refused from its length, before any of it is read.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    /// <summary>Decodes, resizes and normalises one image into <paramref name="destination"/> (C*H*W floats in the input's layout).</summary>
    /// <returns>Null on success, otherwise why the file is not a usable image.</returns>
    public static string? TryDecode(string file, InputSpec input, PreprocessSpec preprocess, Span<float> destination)
    {
        SKBitmap? decoded;
        try
        {
            // Opened without blocking and kept only as a regular file: a FIFO or a device among the exemplars would otherwise hang or never end the read.
            using var stream = ContainedFile.OpenRegular(file, MaxFileBytes, out var problem);
            if (stream is null)
            {
                return problem;
            }

            using var codec = SKCodec.Create(stream, out var result);
            if (codec is null)
            {
                return result == SKCodecResult.Unimplemented ? "not an image format KtuGate can read" : $"not an image ({result})";
            }

            // The header's dimensions decide, before any pixel memory is allocated.
            var info = codec.Info;
            if (info.Width <= 0 || info.Height <= 0)
            {
                return $"the image declares {info.Width}x{info.Height} pixels";
            }

            if ((long)info.Width * info.Height > MaxPixels)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"the image declares {info.Width}x{info.Height} pixels ({(double)info.Width * info.Height / (1 << 20):0.#} megapixels), more than the limit of {MaxPixels / (1 << 20)} megapixels; it was not decoded");
            }

            decoded = Decode(codec, info, out var decodeResult);
            if (decoded is null)
            {
                return decodeResult == SKCodecResult.IncompleteInput
                    ? "the image data is truncated"
                    : $"the image data is corrupt ({decodeResult})";
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
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

    /// <summary>Decodes as <see cref="SKBitmap.Decode(SKCodec)"/> does (premultiplied, no colour space, so pixels are unchanged), but only a complete image: SkiaSharp would return a half-blank bitmap for data that ends early.</summary>
    private static SKBitmap? Decode(SKCodec codec, SKImageInfo info, out SKCodecResult result)
    {
        if (info.AlphaType == SKAlphaType.Unpremul)
        {
            info.AlphaType = SKAlphaType.Premul;
        }

        info.ColorSpace = null;
        var bitmap = new SKBitmap(info);
        var pixels = bitmap.GetPixels();
        result = pixels == IntPtr.Zero ? SKCodecResult.InternalError : codec.GetPixels(info, pixels);
        if (result == SKCodecResult.Success)
        {
            return bitmap;
        }

        bitmap.Dispose();
        return null;
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
