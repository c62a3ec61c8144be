"""A faithful re-creation of the ObjectNet demo's pipeline (objectnet_eval.py), the baseline
every engine benchmark is measured against. See ../shared/FACTS.md, "The demo's pipeline".

Kept as the demo had it, on purpose: recursive glob keyed by basename, PIL decode, a
DataLoader with 2 x workers processes, the model wrapped in a new nn.DataParallel for every
batch, fp32, softmax, top-5, .tolist() per batch, all rows held in memory and written at the
end. The only change: it runs on the CPU when there is no GPU (the demo refused to).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from engine import mapping


class SeedDataset(Dataset):
    def __init__(self, root: Path, transform) -> None:
        files = glob.glob(str(root) + "/**/*.png", recursive=True)
        self.paths = {os.path.basename(f): f for f in files}
        self.names = sorted(self.paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int):
        name = self.names[index]
        image = Image.open(self.paths[name]).convert("RGB")
        width, height = image.size
        image = image.crop((2, 2, width - 2, height - 2))
        return self.transform(image), name


def run_seed(root: Path, output: Path, model: nn.Module, transform, workers: int | None = None,
             batch_size: int = 96) -> list[list]:
    """The demo's loop; returns the rows it wrote."""
    workers = workers if workers is not None else os.cpu_count() or 1
    gpus = torch.cuda.device_count()
    device = torch.device("cuda" if gpus else "cpu")
    loader = DataLoader(SeedDataset(root, transform), batch_size=batch_size * max(gpus, 1),
                        shuffle=False, num_workers=2 * workers, pin_memory=True)
    model = model.to(device).eval()
    to_objectnet = mapping.imagenet_to_objectnet()
    rows = []
    with torch.no_grad():
        for images, names in loader:
            wrapped = nn.DataParallel(model) if gpus else model  # new wrapper every batch
            logits = wrapped(images.to(device))
            probabilities = torch.softmax(logits, dim=1)
            confidences, ids = probabilities.topk(5, dim=1)
            for name, row_ids, row_confidences in zip(names, ids.tolist(),
                                                      confidences.tolist()):
                row = [name]
                for class_id, confidence in zip(row_ids, row_confidences):
                    row += [to_objectnet.get(class_id, -1), confidence]
                rows.append(row)
    with open(output, "w") as handle:
        for row in rows:
            handle.write(",".join(str(x) for x in row) + "\n")
    return rows
