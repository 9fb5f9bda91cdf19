using Google.Protobuf;
using KtuGate.Diagnostics;
using KtuGate.Kinds.TextEmbedding;
using KtuGate.Onnx;
using KtuGate.Probing;
using KtuGate.Unlearning;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Core.Tests;

/// <summary>
/// The feed-forward scope entries on the real all-MiniLM-L6-v2, and the cut that trains the last block's feed-forward projections on
/// each text's recorded token states instead of the whole encoder.
/// </summary>
public sealed class TokenSuffixTests
{
    private static readonly Lazy<global::Onnx.ModelProto> s_model = new(() => OnnxGraph.Load(TextEmbeddingTests.MiniLm, new DiagnosticBag())!);

    private static IReadOnlyList<string>? Resolve(DiagnosticBag diagnostics, params string[] scope)
        => EditScope.Resolve(s_model.Value, scope, OnnxGraph.FindSite(s_model.Value, "last_hidden_state", null)!, diagnostics, null);

    [Fact]
    public void Feed_forward_names_each_block_s_two_projections_with_their_biases_and_a_block_by_its_index()
    {
        var diagnostics = new DiagnosticBag();
        var every = Resolve(diagnostics, EditScope.FeedForward)!;
        Assert.Equal(24, every.Count);
        for (var block = 0; block < 6; block++)
        {
            Assert.Contains($"encoder.layer.{block}.intermediate.dense.bias", every);
            Assert.Contains($"encoder.layer.{block}.output.dense.bias", every);
        }

        // The exporter named the weights by number: the last block's are its [384, 1536] and [1536, 384] products' right operands.
        var last = Resolve(diagnostics, EditScope.LastFeedForward)!;
        Assert.Equal(["encoder.layer.5.intermediate.dense.bias", "encoder.layer.5.output.dense.bias", "1003", "1004"], last);
        var dims = s_model.Value.Graph.Initializer.Where(t => last.Contains(t.Name)).ToDictionary(t => t.Name, t => t.Dims.ToArray());
        Assert.Equal([384L, 1536L], dims["1003"]);
        Assert.Equal([1536L, 384L], dims["1004"]);
        Assert.Equal(last, Resolve(diagnostics, "feed-forward:5"));
        Assert.Equal(Resolve(diagnostics, "feed-forward:0"), Resolve(diagnostics, "feed-forward:-6"));
        Assert.False(diagnostics.HasErrors);

        Assert.Null(Resolve(diagnostics, "feed-forward:6"));
        Assert.Contains(diagnostics.Items, d => d.Code == "KTU4012" && d.Message.Contains("'feed-forward:6'", StringComparison.Ordinal));
    }

    [Fact]
    public void The_last_block_s_feed_forward_is_cut_at_one_tensor_and_gives_the_encoder_s_token_states_from_the_recorded_ones()
    {
        _ = SessionFactory.OnnxRuntimeVersion;
        var model = s_model.Value;
        var trained = Resolve(new DiagnosticBag(), EditScope.LastFeedForward)!;
        var suffix = TokenSuffix.Cut(model, trained, "last_hidden_state", out var frontier)!;
        Assert.NotNull(suffix);
        Assert.Equal(frontier, Assert.Single(suffix.Graph.Input).Name);
        Assert.DoesNotContain(suffix.Graph.Node, n => n.OpType is "Softmax" or "Transpose" or "Reshape" or "Gather");

        // Three texts of different lengths: their token states at the cut, all tokens in one row, through the suffix, equal the whole
        // encoder's output for each text on its own.
        var manifest = TextEmbeddingTests.SampleManifest();
        using var tower = TextEmbeddingTests.OpenEncoder(manifest);
        string[] texts = ["Paris", "the city of Paris, a large city", "a plate of paella"];
        using var recording = new InferenceSession(OnnxGraph.WithOutputs(model, [frontier]));
        var states = new Dictionary<string, float[]>(StringComparer.Ordinal);
        tower.RecordTokenStates(recording, texts, frontier, states);
        var lengths = texts.Select(t => tower.Tokenize(t).Count).ToArray();
        Assert.Equal(lengths.Select(n => n * 384), texts.Select(t => states[t].Length));

        using var top = new InferenceSession(suffix.ToByteArray());
        var row = texts.SelectMany(t => states[t]).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(row, [1, lengths.Sum(), 384]);
        using var runOptions = new RunOptions();
        using var outputs = top.Run(runOptions, [frontier], [input], ["last_hidden_state"]);
        var got = outputs[0].GetTensorDataAsSpan<float>().ToArray();

        var spec = manifest.SectionAs<TextEmbeddingSection>().Encoder(TextEmbeddingTests.MiniLm, manifest.Output.Name);
        using var whole = new InferenceSession(TextEmbeddingTests.MiniLm);
        var at = 0;
        foreach (var text in texts)
        {
            var (expected, width) = TextTower.RunPadded(whole, spec, [tower.Tokenize(text)], ["last_hidden_state"]);
            using (expected)
            {
                var want = expected[0].GetTensorDataAsSpan<float>().ToArray();
                Assert.Equal(width * 384, want.Length);
                Assert.All(want.Zip(got.Skip(at * 384).Take(want.Length)), p => Assert.Equal(p.First, p.Second, 1e-4f));
                at += width;
            }
        }
    }

    [Fact]
    public void A_scope_reaching_into_attention_or_below_is_not_cut()
    {
        var model = s_model.Value;

        // The whole encoder reads the token ids; the last block's value projection feeds a product of two activations (attention).
        Assert.Null(TokenSuffix.Cut(model, Resolve(new DiagnosticBag(), EditScope.All)!, "last_hidden_state", out _));
        var value = model.Graph.Node.Single(n => n.Name == "MatMul_560").Input[1];
        Assert.Null(TokenSuffix.Cut(model, [value], "last_hidden_state", out _));

        // Two blocks' feed-forward projections: the lower one's output passes through the last block's attention.
        Assert.Null(TokenSuffix.Cut(model, [.. Resolve(new DiagnosticBag(), "feed-forward:4")!, .. Resolve(new DiagnosticBag(), EditScope.LastFeedForward)!], "last_hidden_state", out _));
    }
}
