"""The batch loop: a DataLoader feeding the prepared model, top-5 on the device, and a
generator of finished rows in file-name order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from engine import compat, mapping
from engine.config import Config
from engine.dataset import ImageDataset, collate
from engine.devices import DTYPES, Placement

PREFETCH_BATCHES = 4

# (index into the shard, ObjectNet ids, confidences, reason if unreadable else None)
Row = Tuple[int, List[int], List[float], Any]


@dataclass
class Timing:
    """Where the time went: loader workers decoding, the main process waiting, the model."""

    decode_s: float = 0.0
    wait_s: float = 0.0
    model_s: float = 0.0
    unreadable: List[Tuple[int, str]] = field(default_factory=list)


def model_outputs(output: Any) -> torch.Tensor:
    """The logits tensor of a forward pass; tuple outputs (aux heads) give their first item."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if isinstance(output, dict) and "logits" in output:
        output = output["logits"]
    if not isinstance(output, torch.Tensor):
        raise TypeError("the model returned %s, not a tensor of class scores"
                        % type(output).__name__)
    return output


class Predictor:
    """Runs one batch of images through the model and turns outputs into top-5 rows."""

    def __init__(self, model: nn.Module, config: Config, placement: Placement,
                 channels_last: bool) -> None:
        self.model = model
        self.config = config
        self.placement = placement
        self.channels_last = channels_last
        self.dtype = DTYPES[config.precision]

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        device = self.placement.device
        images = images.to(device, non_blocking=True)
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        with compat.inference_context(), compat.autocast(device.type, self.dtype):
            logits = model_outputs(self.model(images))
        logits = logits.float()
        return torch.softmax(logits, dim=1) if self.config.softmax else logits

    def top5(self, images: torch.Tensor) -> Tuple[List[List[int]], List[List[float]]]:
        ids, confidences = mapping.convert_top5(self.scores(images),
                                                self.config.convert_outputs_mode)
        return ids.tolist(), confidences.tolist()


def make_loader(dataset: ImageDataset, config: Config, placement: Placement) -> DataLoader:
    workers = min(config.resolved_workers(), max(len(dataset), 1))
    return DataLoader(
        dataset,
        batch_size=config.batch_size * max(placement.gpus, 1),
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=placement.kind == "cuda",
        **compat.loader_kwargs(workers, PREFETCH_BATCHES),
    )


def predict(predictor: Predictor, dataset: ImageDataset, timing: Timing,
            on_batch: Callable[[int], None] = lambda n: None) -> Iterator[Row]:
    """Rows for every image of `dataset`, in dataset order; unreadable images included."""
    loader = make_loader(dataset, predictor.config, predictor.placement)
    waited = time.perf_counter()
    for indices, images, failures, seconds in loader:
        started = time.perf_counter()
        timing.wait_s += started - waited
        timing.decode_s += seconds
        rows: List[Row] = []
        if indices.numel():
            ids, confidences = predictor.top5(images)
            rows.extend((i, d, c, None) for i, d, c in zip(indices.tolist(), ids, confidences))
        for index, reason in failures:
            timing.unreadable.append((index, reason))
            rows.append((index, [], [], reason))
        rows.sort(key=lambda row: row[0])
        timing.model_s += time.perf_counter() - started
        yield from rows
        on_batch(len(rows))
        waited = time.perf_counter()


def sample_indices(count: int, wanted: int) -> Sequence[int]:
    """`wanted` indices spread evenly over `count` items (for --compare-precision)."""
    if wanted >= count:
        return range(count)
    step = count / float(wanted)
    return [int(i * step) for i in range(wanted)]
