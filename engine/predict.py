"""The batch loop: a DataLoader feeding the prepared model, top-5 on the device, and a
generator of finished rows in file-name order."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from engine import compat, mapping
from engine.config import Config
from engine.dataset import ImageDataset, collate
from engine.devices import (
    DTYPES,
    Placement,
    forward_chunk,
    loader_batch,
    loader_workers,
)
from engine.errors import ModelError, ModelRunError
from engine.fastpath import Normaliser
from engine.plugin import MODEL_FILE
from engine.scores import Tally
from engine.usercode import describe_failure

# Batches each loader worker keeps ready. Two is torch's default and enough: with several
# workers the queue holds workers x 2 batches, and more would only hold shared memory.
PREFETCH_BATCHES = 2

# The reason given for an image whose scores hold NaN or Inf: its row gets -1 ids, as for an
# unreadable image, because the scorer (and the engine's validator) reject such a row.
NOT_FINITE = "the model's scores for it are not finite (NaN or Inf)"

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
    """Runs one batch of images through the model and turns outputs into top-5 rows.

    Batches arrive either as float NxCxHxW tensors (the user's transform ran whole) or as
    uint8 NxHxWx3 pixels that `normaliser` turns into exactly those floats on the device.
    """

    def __init__(self, model: nn.Module, config: Config, placement: Placement,
                 channels_last: bool, normaliser: Optional[Normaliser] = None) -> None:
        self.model = model
        self.config = config
        self.placement = placement
        self.channels_last = channels_last
        self.normaliser = normaliser
        self.tally: Optional[Tally] = None
        """Set by run() for --score: counts hits of every conversion from the same scores."""
        self.dtype = DTYPES[config.precision]
        self.chunk = forward_chunk(placement, channels_last) or config.batch_size * max(
            placement.gpus, 1)
        """Images per model call: --batch_size per GPU, or the CPU's slice. Loader batches
        (smaller, see devices.LOADER_BATCH) are gathered up to it; a larger batch is sliced."""
        # A compiled model is specialised to one input shape: every call gets exactly `chunk`
        # images (the last slice is padded), so it compiles once, during warm_up().
        self.pad = config.compile

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """Start moving a loader batch to the device (asynchronous from pinned memory)."""
        return images.to(self.placement.device, non_blocking=True)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """The batch on the device, as the model's float input in its memory format."""
        images = images.to(self.placement.device, non_blocking=True)
        if images.dtype == torch.uint8 and self.normaliser is not None:
            return self.normaliser(images)
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        with compat.inference_context():
            images = self.inputs(images)
            with compat.autocast(self.placement.device.type, self.dtype):
                logits = torch.cat([self._forward(part) for part in images.split(self.chunk)])
            return torch.softmax(logits, dim=1) if self.config.softmax else logits

    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        count = images.shape[0]
        if self.pad and count < self.chunk:
            filler = images[-1:].expand(self.chunk - count, *images.shape[1:])
            images = torch.cat([images, filler])
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
        try:
            output = self.model(images)
        except SystemExit as error:
            raise ModelRunError("model %s (%s) stopped the run: %s; no predictions file was "
                                "written" % (self.config.model_class, self.model_file,
                                             describe_failure(error, self.model_file))) from None
        scores = model_outputs(output)
        check_rows(scores, images.shape[0], self.config.model_class)
        return scores[:count].float()

    @property
    def model_file(self) -> Path:
        return self.config.model_dir / MODEL_FILE

    def warm_up(self, image_shape: Sequence[int]) -> None:
        """One forward pass on a synthetic slice, so torch.compile compiles before any image
        is read, and a model it cannot compile fails with a clear error right away."""
        if self.normaliser is not None:
            channels, height, width = image_shape
            batch = torch.zeros((self.chunk, height, width, channels), dtype=torch.uint8)
        else:
            batch = torch.zeros(self.chunk, *image_shape)
        try:
            self.top5_tensors(batch)[0].tolist()
        except Exception as error:
            if compat.is_device_error(error):  # out of memory is not a compiler failure
                raise
            lines = str(error).strip().splitlines()
            raise ModelError("--compile: torch.compile failed on this model (%s: %s); run "
                             "without --compile" % (type(error).__name__,
                                                    lines[0] if lines else "")) from None

    def top5_tensors(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(ids, confidences) still on the device: on a GPU this returns before they exist."""
        ids, confidences, _ = self.rows_tensors(images)
        return ids, confidences

    def rows_tensors(self, images: torch.Tensor, indices: Optional[torch.Tensor] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ids, confidences, whether each image's scores are all finite), on the device.
        With `indices` (the images' places in the run) and a tally, also counts hits."""
        with compat.inference_context():
            scores = self.scores(images)
            if self.tally is not None and indices is not None:
                self.tally.add(indices, scores)
            ids, confidences = mapping.convert_top5(scores, self.config.convert_outputs_mode)
            return ids, confidences, torch.isfinite(scores).all(dim=1)

    def top5(self, images: torch.Tensor) -> Tuple[List[List[int]], List[List[float]]]:
        ids, confidences = self.top5_tensors(images)
        return ids.tolist(), confidences.tolist()


def check_rows(scores: torch.Tensor, images: int, model_class: str) -> None:
    """One row of class scores per input image: a model that returns fewer rows would lose
    images from predictions.csv, more would shift them. Checked on every call."""
    if scores.dim() != 2 or scores.shape[0] != images:
        raise ModelRunError(
            "model %s returned %d rows for %d images (output shape %s): it must return one row "
            "of class scores per input image; no predictions file was written"
            % (model_class, scores.shape[0] if scores.dim() else 0, images,
               list(scores.shape)))


def make_loader(dataset: ImageDataset, config: Config, placement: Placement) -> DataLoader:
    workers = loader_workers(config, len(dataset))
    return DataLoader(
        dataset,
        batch_size=loader_batch(config, len(dataset), workers),
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=placement.kind == "cuda",
        **compat.loader_kwargs(workers, PREFETCH_BATCHES),
    )


# A model batch in flight: (dataset indices, (ids, confidences) on the device or None,
# the unreadable images among them)
Pending = Tuple[torch.Tensor, Any, List[Tuple[int, str]]]


def predict(predictor: Predictor, dataset: ImageDataset, timing: Timing,
            on_batch: Callable[[int], None] = lambda n: None) -> Iterator[Row]:
    """Rows for every image of `dataset`, in dataset order; unreadable images included.

    Loader batches move to the device as they arrive and are gathered into model batches.
    One model batch stays in flight: batch k+1 is queued on the device before batch k's rows
    are read back, so a GPU never idles while Python formats rows or waits for the loader.
    """
    loader = make_loader(dataset, predictor.config, predictor.placement)
    gathered: List[Tuple[torch.Tensor, Optional[torch.Tensor], List[Tuple[int, str]]]] = []
    count = 0
    pending: Optional[Pending] = None
    waited = time.perf_counter()
    for indices, images, failures, seconds in loader:
        started = time.perf_counter()
        timing.wait_s += started - waited
        timing.decode_s += seconds
        gathered.append((indices, predictor.to_device(images) if indices.numel() else None,
                         failures))
        count += indices.numel()
        rows: List[Row] = []
        while count >= predictor.chunk:
            batch, gathered, count = take(gathered, predictor.chunk)
            launched = _launch(predictor, batch)
            if pending is not None:
                rows.extend(_rows(pending, timing))
            pending = launched
        timing.model_s += time.perf_counter() - started
        if rows:
            yield from rows
            on_batch(len(rows))
        waited = time.perf_counter()
    started = time.perf_counter()
    last = _launch(predictor, gathered) if gathered else None
    for finished in (pending, last):
        if finished is not None:
            rows = _rows(finished, timing)
            timing.model_s += time.perf_counter() - started
            yield from rows
            on_batch(len(rows))
            started = time.perf_counter()


Gathered = List[Tuple[torch.Tensor, Optional[torch.Tensor], List[Tuple[int, str]]]]


def take(gathered: Gathered, size: int) -> Tuple[Gathered, Gathered, int]:
    """(the first `size` gathered images as one model batch, the rest, the rest's count).

    Every model batch but the last is then exactly `size` images, whatever the loader batch:
    a compiled model pads a shorter one up to its batch size (wasted work and a wrong speed),
    and gathering whole loader batches overshoots a size they do not divide. Unreadable
    images go with the batch whose images surround them, so rows stay in file order."""
    parts = [(indices, images) for indices, images, _ in gathered if images is not None]
    failures = [failure for _, _, batch_failures in gathered for failure in batch_failures]
    indices = torch.cat([i for i, _ in parts]) if len(parts) > 1 else parts[0][0]
    images = torch.cat([x for _, x in parts]) if len(parts) > 1 else parts[0][1]
    if indices.numel() <= size:
        whole: Gathered = [(indices, images, failures)]
        return whole, [], 0
    boundary = int(indices[size])
    head: Gathered = [(indices[:size], images[:size], [f for f in failures if f[0] < boundary])]
    rest: Gathered = [(indices[size:], images[size:], [f for f in failures if f[0] >= boundary])]
    return head, rest, indices.numel() - size


def model_batches(loader: Iterable[Any], size: int) -> Iterator[Tuple[Gathered, int]]:
    """(a model batch of `size` images, the images and unreadable ones the loader gave for it)
    from loader batches, the last one shorter (for --compare-precision)."""
    gathered: Gathered = []
    count = seen = 0
    for indices, images, failures, _ in loader:
        gathered.append((indices, images if indices.numel() else None, failures))
        count += indices.numel()
        seen += indices.numel() + len(failures)
        while count >= size:
            batch, gathered, count = take(gathered, size)
            yield batch, seen
            seen = 0
    if gathered:
        yield gathered, seen


def _launch(predictor: Predictor, gathered: List[Tuple[torch.Tensor, Optional[torch.Tensor],
                                                        List[Tuple[int, str]]]]) -> Pending:
    """Queue one model batch made of the gathered loader batches."""
    parts = [(indices, images) for indices, images, _ in gathered if images is not None]
    failures = [failure for _, _, batch_failures in gathered for failure in batch_failures]
    if not parts:
        return torch.empty(0, dtype=torch.long), None, failures
    indices = torch.cat([i for i, _ in parts]) if len(parts) > 1 else parts[0][0]
    images = torch.cat([x for _, x in parts]) if len(parts) > 1 else parts[0][1]
    return indices, predictor.rows_tensors(images, indices), failures


def _rows(pending: Pending, timing: Timing) -> List[Row]:
    """A finished batch's rows in index order (reading them back waits for the device)."""
    indices, result, failures = pending
    rows: List[Row] = []
    if result is not None:
        ids, confidences, finite = result
        for i, d, c, ok in zip(indices.tolist(), ids.tolist(), confidences.tolist(),
                               finite.tolist()):
            if ok:
                rows.append((i, d, c, None))
            else:
                failures.append((i, NOT_FINITE))
    for index, reason in failures:
        timing.unreadable.append((index, reason))
        rows.append((index, [], [], reason))
    rows.sort(key=lambda row: row[0])
    return rows


def sample_indices(count: int, wanted: int) -> Sequence[int]:
    """`wanted` indices spread evenly over `count` items (for --compare-precision)."""
    if wanted >= count:
        return range(count)
    step = count / float(wanted)
    return [int(i * step) for i in range(wanted)]
