"""The image dataset and its collate function: decode + transform in loader workers, and
carry unreadable images through as failures instead of exceptions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset

from engine.images import UnreadableImage, load_rgb

# (index, tensor or None, reason or None, seconds spent decoding and transforming)
Item = Tuple[int, Optional[torch.Tensor], Optional[str], float]
# (indices of good images, their stacked tensors, [(index, reason)] failures, seconds)
Batch = Tuple[torch.Tensor, torch.Tensor, List[Tuple[int, str]], float]


class ImageDataset(Dataset):
    def __init__(self, paths: Sequence[Path], transform: Callable[[Any], Any], border: int,
                 decoder: str = "auto") -> None:
        self.paths = list(paths)
        self.transform = transform
        self.border = border
        self.decoder = decoder

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Item:
        started = time.perf_counter()
        try:
            image = load_rgb(self.paths[index], self.border, self.decoder)
        except UnreadableImage as error:
            return index, None, str(error), time.perf_counter() - started
        try:
            tensor = self.transform(image)
        except Exception as error:
            # The transform ran fine on the start-up check image, so this is about this file.
            reason = "the transform failed on it: %s: %s" % (type(error).__name__, error)
            return index, None, reason, time.perf_counter() - started
        return index, tensor, None, time.perf_counter() - started


def collate(items: List[Item]) -> Batch:
    good = [(i, t) for i, t, _, _ in items if t is not None]
    failures = [(i, reason) for i, t, reason, _ in items if t is None]
    seconds = sum(s for _, _, _, s in items)
    if good:
        indices = torch.tensor([i for i, _ in good], dtype=torch.long)
        images = torch.stack([t for _, t in good])
    else:
        indices = torch.empty(0, dtype=torch.long)
        images = torch.empty(0)
    return indices, images, failures, seconds
