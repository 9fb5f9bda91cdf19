"""The same NHL+KL training steps as KtuGate's deep edit of samples/ResNetClip's image tower, in PyTorch, for bench/deep-step-resnet.sh.

The tower (ResNet-18 at 224x224, the projection, L2 normalisation) is read from the composed ONNX artifact and run by a small
interpreter of its ops in torch.nn.functional; the tensors trained are the ones KtuGate trains (setup.json's "trained": for scope
"all" every float initializer of rank above 0 but batch normalisation's running statistics, the preprocessing's mean image
included, so that both frameworks train the same numbers; for "last" the projection). Batch normalisation is F.batch_norm in inference mode where its
running statistics are not trained, else written out, (x - mean) * scale / sqrt(var + eps) + bias, so that they get gradients. The batch, the class directions (MiniLM's
prompt embeddings), the reference distribution and the settings come from the folder `dotnet bench/KtuGate.Bench deep-step-resnet`
wrote, so both frameworks train on the same numbers. Loss and AdamW: nhl_kl.py.

Prints one JSON line like KtuGate's: the loss at the original weights, the seconds per step after warm-up, the loss after the steps.
Usage: python3 bench/reference/resnetclip_step.py FOLDER [--steps N] [--warm-up N] [--threads N] [--part ROWS]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from nhl_kl import AdamW, nhl_kl, timed_steps  # noqa: E402


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pads_of(a, spatial=2):
    """ONNX pads [x1_begin, x2_begin, x1_end, x2_end] as F.pad's (x2_begin, x2_end, x1_begin, x1_end)."""
    pads = list(a.get("pads", [0] * (2 * spatial)))
    return [pads[1], pads[3], pads[0], pads[2]]


def conv(x, w, b, a):
    x = F.pad(x, pads_of(a))
    return F.conv2d(x, w, b, stride=tuple(a.get("strides", [1, 1])), dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))


def batch_norm(x, scale, bias, mean, var, a):
    eps = a.get("epsilon", 1e-5)
    if not (mean.requires_grad or var.requires_grad):
        return F.batch_norm(x, mean, var, scale, bias, False, 0.0, eps)

    def channel(t):
        return t.reshape(1, -1, 1, 1)
    return (x - channel(mean)) * channel(scale / torch.sqrt(var + eps)) + channel(bias)


def run(graph, values):
    """Runs the graph's nodes in order on `values` (names to tensors: initializers and inputs); returns `values`."""
    for node in graph.node:
        a, x = attributes(node), [values[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Split":
            out = torch.split(x[0], [int(s) for s in x[1].tolist()], dim=a.get("axis", 0))
        elif op == "Concat":
            out = torch.cat(x, dim=a["axis"])
        elif op in ("Add", "Sub", "Div"):
            out = {"Add": torch.add, "Sub": torch.sub, "Div": torch.div}[op](x[0], x[1])
        elif op == "Relu":
            out = torch.relu(x[0])
        elif op == "Conv":
            out = conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "BatchNormalization":
            out = batch_norm(*x, a)
        elif op == "MaxPool":
            out = F.max_pool2d(F.pad(x[0], pads_of(a), value=float("-inf")), tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])))
        elif op == "AveragePool" and not any(a.get("pads", [0])):
            out = F.avg_pool2d(x[0], tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])))
        elif op == "Flatten":
            out = x[0].reshape(int(np.prod(x[0].shape[:a.get("axis", 1)])), -1)
        elif op == "Gemm" and a.get("transB", 0) == 1 and a.get("transA", 0) == 0 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0:
            out = F.linear(x[0], x[1], x[2])
        elif op == "ReduceL2":
            out = torch.sqrt((x[0] * x[0]).sum(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1))))
        elif op == "Clip":
            out = torch.clamp(x[0], min=x[1] if len(x) > 1 else None, max=x[2] if len(x) > 2 else None)
        else:
            raise ValueError(f"node {node.name}: {op} {a} is not one this reference runs")
        for name, value in zip(node.output, out if isinstance(out, (tuple, list)) else [out]):
            values[name] = value
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--part", type=int, default=None, help="rows per part: gradients accumulated over parts, as KtuGate feeds a batch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with open(os.path.join(args.folder, "setup.json")) as f:
        setup = json.load(f)
    model = onnx.load(setup["model"])
    trained = set(setup["trained"])
    values = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    params = [values[name].requires_grad_() for name in setup["trained"]]
    if len(params) != len(trained):
        raise ValueError("a trained tensor is not an initializer")

    def read(name, dtype, shape):
        return torch.from_numpy(np.fromfile(os.path.join(args.folder, name), dtype=dtype).reshape(shape))

    shape, classes, rows = setup["shape"], setup["classes"], setup["shape"][0]
    x = read("batch.f32", np.float32, shape)
    directions = read("directions.f64", np.float64, (classes, setup["features"]))
    p_ref = read("reference.f64", np.float64, (rows, classes))
    n_forget = setup["forget"]
    n_retain = rows - n_forget
    is_forget = torch.cat([torch.ones(n_forget), torch.zeros(n_retain)]).double()
    forbidden = torch.zeros(rows, classes, dtype=torch.float64)
    forbidden[:n_forget, setup["forbidden"]] = 1
    allowed = torch.zeros(rows, classes, dtype=torch.float64)
    allowed[:n_forget, setup["allowed"]] = 1
    group_of_class = setup["groupOfClass"]
    groups = torch.zeros(classes, max(group_of_class) + 1, dtype=torch.float64)
    for c, g in enumerate(group_of_class):
        if g >= 0:
            groups[c, g] = 1
    kl = setup["klWeight"]
    w_forget, w_retain, w_coarse = is_forget / n_forget, (1 - is_forget) * kl / n_retain, is_forget * kl / n_forget
    input_name = model.graph.input[0].name

    def loss_fn(rows=slice(None)):
        y = run(model.graph, dict(values, **{input_name: x[rows]}))[setup["output"]].double()
        z = setup["scale"] * (y / y.norm(dim=1, keepdim=True)) @ directions.T
        return nhl_kl(z, p_ref[rows], forbidden[rows], allowed[rows], groups, w_forget[rows], w_retain[rows], w_coarse[rows], setup["margin"])

    optimizer = AdamW(params, setup["learningRate"], setup["decay"])

    parts = None if args.part is None else [slice(start, start + args.part) for start in range(0, rows, args.part)]
    loss0, last, seconds = timed_steps(loss_fn, optimizer, args.warm_up, args.steps, parts)
    print(json.dumps({"framework": f"PyTorch {torch.__version__}", "threads": args.threads, "batch": rows, "scope": setup["scope"],
                      "parameters": sum(p.numel() for p in params), "loss0": loss0, "lossAfter": last, "steps": args.steps,
                      "warmUp": args.warm_up, "parts": 1 if parts is None else len(parts), "secondsPerStep": seconds}))


if __name__ == "__main__":
    main()
