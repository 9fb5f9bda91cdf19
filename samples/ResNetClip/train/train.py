#!/usr/bin/env python3
"""Fit the ResNetClip projection: ImageNet ResNet-18 features to all-MiniLM-L6-v2's 384-d space.

LiT-style: both towers are frozen pretrained networks; only a linear projection (512 -> 384,
then L2 normalisation, as CLIP's image tower ends) is trained. The ResNet-18 features are not
computed here: ONNX Runtime computes them on the composed backbone (tower/ResNetTower
`features`, which decodes and resizes each 28x28 image to 224x224 RGB with the gate's own
decoder), so the projection is fitted on exactly what the gate feeds the tower. The text side is
KtuGate's own prompt embeddings (samples/FashionClip/train/EmbedPrompts on this sample's
manifest).

Training: contrastive cross-entropy of the unit-length projected embedding against the ten fine
and the five coarse prompt embeddings (temperature 0.05), full batch, Adam, as FashionClip trains
its tower, on the first TRAIN_PER_CLASS images of each class of the Fashion-MNIST train split
(Debian dataset-fashion-mnist) with Debian's python3-torch. The check set is test-split images that
are neither exemplars nor the general probe set.

Steps (from the repository root; see the sample's README):
  python3 samples/ResNetClip/train/train.py export      # PNGs: train/out/images, policies/exemplars, policies/general
  dotnet build samples/ResNetClip/tower/ResNetTower     # artifacts/resnetclip/resnet18-backbone.onnx
  dotnet run --project samples/ResNetClip/tower/ResNetTower --no-build -- features ...   (twice: train and check)
  dotnet run --project samples/FashionClip/train/EmbedPrompts -- samples/ResNetClip/artifacts/resnet-clip.ktu.json samples/ResNetClip/train/out/prompts.json
  python3 samples/ResNetClip/train/train.py fit         # artifacts/projection.bin, train/metrics.json
"""
import json
import os
import shutil
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, os.path.join(SAMPLE, "..", "FashionGate", "train"))
from train import read_images, read_labels  # noqa: E402  (the FashionGate sample's loaders)

FOLDERS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
TRAIN_PER_CLASS = 200
# The forget concept gets more exemplars: Remediate judges it on the held-out part (remedy.holdOut),
# which must be able to show its bound (KTU4020).
EXEMPLARS = {folder: 120 if folder == "sneaker" else 20 for folder in FOLDERS}
GENERAL_PER_CLASS = 5
# The check set: the last test images of each class, far from every exemplar and general image.
CHECK_PER_CLASS = 50
TEMPERATURE = 0.05
STEPS = 500
WIDTH, DIM = 512, 384


def save(images, indices, folder, prefix):
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    for i in indices:
        Image.fromarray(images[i], mode="L").save(os.path.join(folder, f"{prefix}-{i:05d}.png"), optimize=True)


def export():
    train_images = read_images("train-images-idx3-ubyte.gz")
    train_labels = read_labels("train-labels-idx1-ubyte.gz")
    test_images = read_images("t10k-images-idx3-ubyte.gz")
    test_labels = read_labels("t10k-labels-idx1-ubyte.gz")
    for c, folder in enumerate(FOLDERS):
        save(train_images, np.nonzero(train_labels == c)[0][:TRAIN_PER_CLASS], os.path.join(OUT, "images", "train", folder), "train")
        test = np.nonzero(test_labels == c)[0]
        n = EXEMPLARS[folder]
        save(test_images, test[:n], os.path.join(SAMPLE, "policies", "exemplars", folder), "test")
        save(test_images, test[n:n + GENERAL_PER_CLASS], os.path.join(SAMPLE, "policies", "general", folder), "test")
        save(test_images, test[-CHECK_PER_CLASS:], os.path.join(OUT, "images", "check", folder), "test")


def load(name):
    index = json.load(open(os.path.join(OUT, f"{name}.json")))
    x = np.fromfile(os.path.join(OUT, f"{name}.f32"), dtype="<f4").reshape(-1, index["dim"])
    y = np.array([FOLDERS.index(f["label"]) for f in index["files"]])
    return x, y


def fit():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(20261)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    prompts = json.load(open(os.path.join(OUT, "prompts.json")))
    fine_text = torch.tensor([f["embedding"] for f in prompts["fine"]])
    coarse_text = torch.tensor([c["embedding"] for c in prompts["coarse"]])
    fine_names = [f["name"] for f in prompts["fine"]]
    coarse_of = torch.tensor([next(i for i, c in enumerate(prompts["coarse"]) if name in c["labels"]) for name in fine_names])

    train_x, train_y = (torch.from_numpy(a) for a in load("train"))
    check_x, check_y = (torch.from_numpy(a) for a in load("check"))
    proj = torch.nn.Linear(WIDTH, DIM)
    opt = torch.optim.Adam(proj.parameters(), lr=1e-3, weight_decay=1e-4)
    for step in range(STEPS):
        e = F.normalize(proj(train_x), dim=1)
        loss = F.cross_entropy(e @ fine_text.T / TEMPERATURE, train_y) + F.cross_entropy(e @ coarse_text.T / TEMPERATURE, coarse_of[train_y])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            print(f"step {step + 1}: loss {loss.item():.4f}", flush=True)

    with torch.no_grad():
        def accuracy(x, y):
            e = F.normalize(proj(x), dim=1)
            return (round(((e @ fine_text.T).argmax(1) == y).float().mean().item(), 4),
                    round(((e @ coarse_text.T).argmax(1) == coarse_of[y]).float().mean().item(), 4))
        train_fine, train_coarse = accuracy(train_x, train_y)
        check_fine, check_coarse = accuracy(check_x, check_y)
        weight = proj.weight.detach().numpy().astype("<f4")
        bias = proj.bias.detach().numpy().astype("<f4")
    metrics = {"method": "contrastive (fine and coarse prompt embeddings), full batch, Adam", "steps": STEPS,
               "temperature": TEMPERATURE, "trainN": len(train_y), "checkN": len(check_y),
               "trainFineAccuracy": train_fine, "trainCoarseAccuracy": train_coarse,
               "checkFineAccuracy": check_fine, "checkCoarseAccuracy": check_coarse, "torch": torch.__version__}
    print(json.dumps(metrics, indent=2))
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    target = os.path.join(SAMPLE, "artifacts", "projection.bin")
    with open(target + ".tmp", "wb") as f:
        f.write(weight.tobytes() + bias.tobytes())
    os.replace(target + ".tmp", target)


if __name__ == "__main__":
    {"export": export, "fit": fit}[sys.argv[1] if len(sys.argv) > 1 else ""]()
