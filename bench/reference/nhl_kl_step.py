"""The same NHL+KL training step as KtuGate's deep edit, in PyTorch, for bench/deep-step.sh.

FashionGate's classifier with every weight trained (scope "all"), its weights read from the committed ONNX artifact, on the
batch bench/KtuGate.Bench's `deep-step` mode uses: the first 64 sneaker exemplars (forget) and the first 32 of sandal,
ankle boot, t-shirt and bag (retain), decoded as the manifest says. Loss per exemplar, summed (nhl_kl.py): forget rows
1/64 * max(0, z_sneaker - max(z_sandal, z_ankle-boot) + 2) + 4/64 * coarse cross-entropy to the original's group distribution;
retain rows 4/128 * cross-entropy to the original's distribution; in float64 over float32 logits. AdamW lr 1e-3, decay 1e-3.

Prints one JSON line: the loss at the original weights, the mean seconds per step after warm-up, and the loss after the steps.
Usage: python3 bench/reference/nhl_kl_step.py [--steps N] [--threads N]
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "samples", "FashionGate", "train"))
from train import LABELS, FashionCnn  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from nhl_kl import AdamW, nhl_kl, timed_steps  # noqa: E402

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

    rows = n_forget + n_retain
    forbidden = torch.zeros(rows, len(LABELS), dtype=torch.float64)
    forbidden[:n_forget, sneaker] = 1
    allowed_mask = torch.zeros(rows, len(LABELS), dtype=torch.float64)
    allowed_mask[:n_forget, allowed] = 1
    w_forget, w_retain, w_coarse = is_forget / n_forget, (1 - is_forget) * 4 / n_retain, is_forget * 4 / n_forget

    def loss_fn():
        return nhl_kl(model(x).double(), p_ref, forbidden, allowed_mask, groups, w_forget, w_retain, w_coarse, 2)

    optimizer = AdamW(params, 1e-3, 1e-3)

    loss0, last, seconds = timed_steps(loss_fn, optimizer, 3, args.steps)
    print(json.dumps({"framework": f"PyTorch {torch.__version__}", "threads": args.threads, "batch": n_forget + n_retain,
                      "loss0": loss0, "lossAfter": last, "steps": args.steps, "secondsPerStep": seconds}))


if __name__ == "__main__":
    main()
