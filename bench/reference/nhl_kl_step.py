"""The same NHL+KL training step as KtuGate's deep edit, in PyTorch, for bench/deep-step.sh.

FashionGate's classifier with every weight trained (scope "all"), its weights read from the committed ONNX artifact, on the
batch bench/KtuGate.Bench's `deep-step` mode uses: the first 64 sneaker exemplars (forget) and the first 32 of sandal,
ankle boot, t-shirt and bag (retain), decoded as the manifest says. Loss per exemplar, summed (src/KtuGate.Core/Unlearning/
MethodLoss.cs): forget rows 1/64 * max(0, z_sneaker - max(z_sandal, z_ankle-boot) + 2) + 4/64 * coarse cross-entropy to the
original's group distribution; retain rows 4/128 * cross-entropy to the original's distribution; in float64 over float32
logits. AdamW as GradientTrainer: lr 1e-3, betas (0.9, 0.999), eps 1e-8, decay 1e-3 towards the original weights.

Prints one JSON line: the loss at the original weights, the mean seconds per step after warm-up, and the loss after the steps.
Usage: python3 bench/reference/nhl_kl_step.py [--steps N] [--threads N]
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "samples", "FashionGate", "train"))
from train import LABELS, FashionCnn  # noqa: E402

COARSE = {"tops": ["t-shirt", "pullover", "coat", "shirt"], "bottoms": ["trouser"], "dresses": ["dress"],
          "footwear": ["sandal", "sneaker", "ankle-boot"], "bags": ["bag"]}


def images(label, count):
    files = sorted(glob.glob(os.path.join(REPO, "samples", "FashionGate", "policies", "exemplars", label, "*.png")))[:count]
    x = np.stack([np.asarray(Image.open(f).convert("L"), dtype=np.float32) for f in files])
    return (torch.from_numpy(x * np.float32(1 / 255.0)).unsqueeze(1) - 0.2860) / 0.3530


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = FashionCnn()
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
               for t in onnx.load(os.path.join(REPO, "samples", "FashionGate", "artifacts", "fashion-classifier.onnx")).graph.initializer}
    model.load_state_dict({k: weights[k] for k in model.state_dict()})
    params = list(model.parameters())
    original = [p.detach().clone() for p in params]

    forget = images("sneaker", 64)
    retain = torch.cat([images(label, 32) for label in ["sandal", "ankle-boot", "t-shirt", "bag"]])
    x = torch.cat([forget, retain])
    n_forget, n_retain = len(forget), len(retain)
    is_forget = torch.cat([torch.ones(n_forget), torch.zeros(n_retain)]).double()
    sneaker, allowed = LABELS.index("sneaker"), [LABELS.index("sandal"), LABELS.index("ankle-boot")]
    groups = torch.zeros(len(LABELS), len(COARSE), dtype=torch.float64)
    for g, members in enumerate(COARSE.values()):
        for label in members:
            groups[LABELS.index(label), g] = 1
    with torch.no_grad():
        p_ref = torch.softmax(model(x).double(), dim=1)

    def loss_fn():
        z = model(x).double()
        log_p = torch.log_softmax(z, dim=1)
        p = log_p.exp()
        hinge = torch.relu(z[:, sneaker] - z[:, allowed].max(dim=1).values + 2)
        retain_ce = -(p_ref * log_p).sum(dim=1)
        coarse_ce = -((p_ref @ groups) * torch.log(p @ groups)).sum(dim=1)
        return (is_forget * hinge / n_forget + (1 - is_forget) * 4 * retain_ce / n_retain + is_forget * 4 * coarse_ce / n_forget).sum()

    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]

    def step(t):
        model.zero_grad()
        loss = loss_fn()
        loss.backward()
        with torch.no_grad():
            c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
            for p, p0, mi, vi in zip(params, original, m, v):
                g = p.grad
                mi.mul_(0.9).add_(g, alpha=0.1)
                vi.mul_(0.999).addcmul_(g, g, value=0.001)
                p.sub_(1e-3 * ((mi / c1) / ((vi / c2).sqrt() + 1e-8) + 1e-3 * (p - p0)))
        return loss.item()

    with torch.no_grad():
        loss0 = loss_fn().item()
    warm = 3
    for t in range(1, warm + 1):
        step(t)
    start = time.perf_counter()
    for t in range(warm + 1, warm + args.steps + 1):
        last = step(t)
    seconds = (time.perf_counter() - start) / args.steps
    print(json.dumps({"framework": f"PyTorch {torch.__version__}", "threads": args.threads, "batch": n_forget + n_retain,
                      "loss0": loss0, "lossAfter": last, "steps": args.steps, "secondsPerStep": seconds}))


if __name__ == "__main__":
    main()
