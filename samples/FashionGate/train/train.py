#!/usr/bin/env python3
"""Train the FashionGate sample classifier on Fashion-MNIST and export it to ONNX.

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), trains a small
CNN on the train split with Debian's python3-torch, exports it to ONNX, measures test
accuracy on the full test split, and writes a few hundred exemplar PNGs per class from the
test split only. Everything is seeded so a rerun on the same torch build gives the same
model.

Usage: python3 train.py [--out DIR] [--epochs N] [--exemplars-per-class N]
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat",
          "sandal", "shirt", "sneaker", "bag", "ankle-boot"]


def read_images(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051, name
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows, cols)


def read_labels(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        magic, n = struct.unpack(">II", f.read(8))
        assert magic == 2049, name
        return np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)


class FashionCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


def to_tensor(images):
    # Same preprocessing the manifest declares: scale to [0,1], then (x - 0.2860) / 0.3530.
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - 0.2860) / 0.3530


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sample = os.path.dirname(here)
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=sample)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--exemplars-per-class", type=int, default=300)
    args = parser.parse_args()

    torch.manual_seed(20250)
    np.random.seed(20250)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    train_x = to_tensor(read_images("train-images-idx3-ubyte.gz"))
    train_y = torch.from_numpy(read_labels("train-labels-idx1-ubyte.gz"))
    test_images = read_images("t10k-images-idx3-ubyte.gz")
    test_x = to_tensor(test_images)
    test_y = torch.from_numpy(read_labels("t10k-labels-idx1-ubyte.gz"))

    model = FashionCnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(7)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for start in range(0, len(order), 128):
            idx = order[start:start + 128]
            opt.zero_grad()
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: train loss {total / len(order):.4f}", flush=True)

    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(test_x[i:i + 1000]).argmax(1) for i in range(0, len(test_x), 1000)])
    correct = (pred == test_y)
    per_class = {LABELS[c]: round(correct[test_y == c].float().mean().item(), 4) for c in range(10)}
    metrics = {"testAccuracy": round(correct.float().mean().item(), 4), "testN": len(test_y),
               "perClass": per_class, "epochs": args.epochs, "torch": torch.__version__}
    print(json.dumps(metrics, indent=2))

    artifacts = os.path.join(args.out, "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    onnx_path = os.path.join(artifacts, "fashion-classifier.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)
    with open(os.path.join(here, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")

    # Exemplars: the first N test images of each class, in test-split order.
    labels = test_y.numpy()
    for c, name in enumerate(LABELS):
        folder = os.path.join(args.out, "policies", "exemplars", name)
        os.makedirs(folder, exist_ok=True)
        for i in np.nonzero(labels == c)[0][:args.exemplars_per_class]:
            Image.fromarray(test_images[i], mode="L").save(os.path.join(folder, f"test-{i:05d}.png"), optimize=True)


if __name__ == "__main__":
    main()
