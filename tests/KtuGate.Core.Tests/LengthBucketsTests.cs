using KtuGate.Diagnostics;
using KtuGate.Kinds.TextEmbedding;
using KtuGate.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace KtuGate.Core.Tests;

/// <summary>Training batches of texts in length buckets: where a step's sorted texts are cut, and the encoder copied once per bucket.</summary>
public sealed class LengthBucketsTests
{
    [Theory]
    [InlineData(new[] { 3, 3, 3, 3, 10, 10 }, new[] { 0, 4 })]
    [InlineData(new[] { 3, 4, 5, 6, 7, 8 }, new[] { 0, 3 })]
    [InlineData(new[] { 5 }, new[] { 0, 0 })]
    [InlineData(new int[0], new[] { 0, 0 })]
    public void Cuts_leave_the_fewest_padded_positions(int[] sortedLengths, int[] expected)
    {
        Assert.Equal(2, LengthBuckets.Count);
        Assert.Equal(expected, LengthBuckets.Cuts(sortedLengths));
    }

    [Fact]
    public void Each_copy_of_MiniLM_gives_the_original_s_token_states_for_its_own_batch()
    {
        var diagnostics = new DiagnosticBag();
        var model = OnnxGraph.Load(TextEmbeddingTests.MiniLm, diagnostics)!;
        string[] inputs = ["input_ids", "attention_mask", "token_type_ids"];
        var copied = LengthBuckets.Copied(model, inputs)!;
        Assert.Equal(model.Graph.Node.Count * LengthBuckets.Count, copied.Graph.Node.Count);
        Assert.Equal(model.Graph.Initializer.Count, copied.Graph.Initializer.Count);

        // Bucket 0: two texts of 3 tokens; bucket 1: one text of 7 ([CLS] ... [SEP]); another width, which a copy must be free to take.
        long[][] batches = [[101, 3000, 102, 101, 2605, 102], [101, 1996, 2103, 1997, 3000, 1010, 102]];
        long[][] shapes = [[2, 3], [1, 7]];
        using var original = new InferenceSession(model.ToByteArray());
        var both = copied.Clone();
        both.Graph.Output.Clear();
        both.Graph.Output.Add(model.Graph.Output[0]);
        both.Graph.Output.Add(new global::Onnx.ValueInfoProto { Name = LengthBuckets.Name(model.Graph.Output[0].Name, 1) });
        using var twin = new InferenceSession(both.ToByteArray());
        var feeds = new List<NamedOnnxValue>();
        for (var k = 0; k < LengthBuckets.Count; k++)
        {
            foreach (var (name, values) in new[] { ("input_ids", batches[k]), ("attention_mask", batches[k].Select(_ => 1L).ToArray()), ("token_type_ids", new long[batches[k].Length]) })
            {
                feeds.Add(NamedOnnxValue.CreateFromTensor(LengthBuckets.Name(name, k), new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(values, [.. shapes[k].Select(d => (int)d)])));
            }
        }

        using var outputs = twin.Run(feeds);
        for (var k = 0; k < LengthBuckets.Count; k++)
        {
            var alone = feeds.Skip(3 * k).Take(3).Select(f => NamedOnnxValue.CreateFromTensor(inputs[feeds.IndexOf(f) % 3], f.AsTensor<long>())).ToList();
            using var expected = original.Run(alone, [model.Graph.Output[0].Name]);
            var (want, got) = (expected[0].AsEnumerable<float>().ToArray(), outputs[k].AsEnumerable<float>().ToArray());
            Assert.Equal(want.Length, got.Length);
            Assert.All(want.Zip(got), p => Assert.Equal(p.First, p.Second, 1e-5f));
        }
    }
}
