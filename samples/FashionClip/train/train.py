#!/usr/bin/env python3
"""Train the FashionClip image tower and export it to ONNX.

A CLIP-style dual encoder with a locked text tower: the text side is all-MiniLM-L6-v2, run by
KtuGate itself (EmbedPrompts writes the unit-length prompt-ensemble embedding of every fine
label and coarse group of the manifest). This script trains only the image tower, on the
Fashion-MNIST train split (Debian dataset-fashion-mnist) with Debian's python3-torch, so that an
image's embedding is closest to its fine label's text embedding among the fine labels and to its
coarse group's among the groups (contrastive cross-entropy over both, fixed temperature).
It then exports the tower to ONNX and writes exemplars from the test split: the first 300 of
each class for the policies' concepts and the next 100 as the general probe set.

Usage (from the repository root):
  dotnet run --project samples/FashionClip/train/EmbedPrompts -- samples/FashionClip/artifacts/fashion-clip.ktu.json samples/FashionClip/train/out/prompts.json
  python3 samples/FashionClip/train/train.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SAMPLE, "..", "FashionGate", "train"))
from train import read_images, read_labels, to_tensor  # noqa: E402  (the FashionGate sample's loaders)

FOLDERS = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
TEMPERATURE = 0.05


class ImageTower(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 256)
        self.proj = nn.Linear(256, dim)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return F.normalize(self.proj(x), dim=1)


def main():
    torch.manual_seed(20251)
    np.random.seed(20251)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    prompts = json.load(open(os.path.join(HERE, "out", "prompts.json")))
    fine_text = torch.tensor([f["embedding"] for f in prompts["fine"]])
    coarse_text = torch.tensor([c["embedding"] for c in prompts["coarse"]])
    fine_names = [f["name"] for f in prompts["fine"]]
    coarse_of = torch.tensor([next(i for i, c in enumerate(prompts["coarse"]) if name in c["labels"]) for name in fine_names])

    train_x = to_tensor(read_images("train-images-idx3-ubyte.gz"))
    train_y = torch.from_numpy(read_labels("train-labels-idx1-ubyte.gz"))
    test_images = read_images("t10k-images-idx3-ubyte.gz")
    test_x = to_tensor(test_images)
    test_y = torch.from_numpy(read_labels("t10k-labels-idx1-ubyte.gz"))

    model = ImageTower(prompts["dim"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(11)
    for epoch in range(5):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for start in range(0, len(order), 128):
            idx = order[start:start + 128]
            e = model(train_x[idx])
            y = train_y[idx]
            loss = F.cross_entropy(e @ fine_text.T / TEMPERATURE, y) + F.cross_entropy(e @ coarse_text.T / TEMPERATURE, coarse_of[y])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(order):.4f}", flush=True)

    model.eval()
    with torch.no_grad():
        e = torch.cat([model(test_x[i:i + 1000]) for i in range(0, len(test_x), 1000)])
        fine = (e @ fine_text.T).argmax(1) == test_y
        coarse = (e @ coarse_text.T).argmax(1) == coarse_of[test_y]
    metrics = {"zeroShotFineAccuracy": round(fine.float().mean().item(), 4),
               "zeroShotCoarseAccuracy": round(coarse.float().mean().item(), 4), "testN": len(test_y),
               "temperature": TEMPERATURE, "epochs": 5, "torch": torch.__version__}
    print(json.dumps(metrics, indent=2))
    with open(os.path.join(HERE, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")

    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), os.path.join(SAMPLE, "artifacts", "fashion-clip.onnx"),
                      input_names=["image"], output_names=["embedding"],
                      dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)

    labels = test_y.numpy()
    for c, folder in enumerate(FOLDERS):
        indices = np.nonzero(labels == c)[0]
        for subset, chosen in (("exemplars", indices[:300]), ("general", indices[300:400])):
            target = os.path.join(SAMPLE, "policies", subset, folder)
            os.makedirs(target, exist_ok=True)
            for i in chosen:
                Image.fromarray(test_images[i], mode="L").save(os.path.join(target, f"test-{i:05d}.png"), optimize=True)


if __name__ == "__main__":
    main()
