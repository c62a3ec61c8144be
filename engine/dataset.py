"""The image dataset and its collate function: decode + transform in loader workers, and
carry unreadable images through as failures instead of exceptions.

The transform is either the user's whole transform (float CxHxW tensors) or, for the standard
one, its geometric half (uint8 HxWx3 pixels; see engine.fastpath)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset, get_worker_info

from engine.config import MAX_IMAGE_MB, MB
from engine.images import UnreadableImage, load_rgb
from engine.usercode import describe_failure

# (index, tensor or None, reason or None, seconds spent decoding and transforming)
Item = Tuple[int, Optional[torch.Tensor], Optional[str], float]
# (indices of good images, their stacked tensors, [(index, reason)] failures, seconds)
Batch = Tuple[torch.Tensor, torch.Tensor, List[Tuple[int, str]], float]


class ImageDataset(Dataset):
    def __init__(self, paths: Sequence[Path], transform: Callable[[Any], Any], border: int,
                 decoder: str = "auto", max_bytes: int = MAX_IMAGE_MB * MB,
                 shape: Optional[Tuple[int, ...]] = None) -> None:
        self.paths = list(paths)
        self.transform = transform
        self.border = border
        self.decoder = decoder
        self.max_bytes = max_bytes
        self.shape = shape
        """What the transform gave for the start-up image: a batch needs one size, so an
        image the transform turns into another is reported, not left to break the batch."""

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Item:
        started = time.perf_counter()
        try:
            image = load_rgb(self.paths[index], self.border, self.decoder, self.max_bytes)
        except UnreadableImage as error:
            return index, None, str(error), time.perf_counter() - started
        try:
            tensor = self.transform(image)
        except (Exception, SystemExit) as error:
            # The transform ran fine on the start-up check image, so this is about this file.
            reason = "the transform failed on it: %s" % describe_failure(error)
            return index, None, reason, time.perf_counter() - started
        misfit = self._misfit(tensor)
        if misfit is not None:
            return index, None, misfit, time.perf_counter() - started
        return index, tensor, None, time.perf_counter() - started

    def _misfit(self, tensor: Any) -> Optional[str]:
        if not isinstance(tensor, torch.Tensor):
            return "the transform gave a %s, not a tensor" % type(tensor).__name__
        if self.shape is not None and tuple(tensor.shape) != self.shape:
            return ("the transform gave a %s tensor, not %s as for the others: a batch needs "
                    "one size (end the transform with a fixed-size crop such as CenterCrop)"
                    % (list(tensor.shape), list(self.shape)))
        return None


def collate(items: List[Item]) -> Batch:
    good = [(i, t) for i, t, _, _ in items if t is not None]
    failures = [(i, reason) for i, _, reason, _ in items if reason is not None]
    seconds = sum(s for _, _, _, s in items)
    if good:
        indices = torch.tensor([i for i, _ in good], dtype=torch.long)
        images = _stack([t for _, t in good])
    else:
        indices = torch.empty(0, dtype=torch.long)
        images = torch.empty(0)
    return indices, images, failures, seconds


def _stack(tensors: List[torch.Tensor]) -> torch.Tensor:
    """One batch tensor. In a loader worker it is built in shared memory, so handing it to the
    main process copies nothing (otherwise the queue would copy the whole batch into shared
    memory once more), as torch's own default_collate does."""
    if get_worker_info() is None:
        return torch.stack(tensors)
    first = tensors[0]
    out = torch.empty(len(tensors), *first.shape, dtype=first.dtype).share_memory_()
    return torch.stack(tensors, out=out)
