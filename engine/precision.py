"""--compare-precision: how much an opt-in speed-up (--precision bf16/fp16, --compile) changes
the predictions, measured on an even sample of the user's own images before a long run is
committed to it. Nothing is written: the answer is a few numbers to decide with.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch

from engine import capability, compat, devices, fastpath, plugin, weights
from engine.config import Config
from engine.dataset import ImageDataset
from engine.errors import ConfigError
from engine.predict import Predictor, make_loader, model_batches, sample_indices
from engine.run import PREFLIGHT_SIZE, preflight
from engine.scan import find_images

DEFAULT_SAMPLE = 500

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Agreement:
    """The chosen setting against exact fp32 on the same decoded images."""

    setting: str
    """What was compared with fp32, e.g. "bf16" or "bf16 + compile"."""
    images: int
    """Images compared (the readable ones of the sample)."""
    total: int
    """Images in the folder."""
    top1_same: int
    """Images whose first prediction is the same id."""
    top5_same: int
    """Images whose five ids are the same (in any order)."""
    max_confidence_diff: float
    reference_img_per_s: float
    candidate_img_per_s: float
    warning: Optional[str] = None
    """Set when the chosen precision is emulated on this device (engine.capability)."""

    @property
    def top1(self) -> float:
        return self.top1_same / self.images if self.images else 0.0

    @property
    def top5(self) -> float:
        return self.top5_same / self.images if self.images else 0.0

    def lines(self) -> List[str]:
        speedup = (self.candidate_img_per_s / self.reference_img_per_s
                   if self.reference_img_per_s else 0.0)
        return [
            "compared fp32 with %s on %d of %d images (evenly spread):"
            % (self.setting, self.images, self.total),
            "  top-1 agreement: %.1f%% (%d images' first prediction differs)"
            % (100 * self.top1, self.images - self.top1_same),
            "  top-5 agreement: %.1f%% (%d images' five ids differ)"
            % (100 * self.top5, self.images - self.top5_same),
            "  largest confidence difference: %.2g" % self.max_confidence_diff,
            "  speed on this sample: fp32 %.1f img/s, %s %.1f img/s (%.2fx)"
            % (self.reference_img_per_s, self.setting, self.candidate_img_per_s, speedup),
        ] + (["  warning: " + self.warning] if self.warning else [])


def describe(config: Config) -> str:
    parts = [config.precision] if config.precision != "fp32" else ["fp32"]
    if config.compile:
        parts.append("compile")
    return " + ".join(parts)


def compare(config: Config, sample: int = DEFAULT_SAMPLE,
            on_progress: Optional[ProgressCallback] = None) -> Agreement:
    """Predict `sample` evenly spread images of `config.images_dir` both in exact fp32 (true
    fp32: no TF32) and as `config` asks (its precision and compile settings), and count how
    often they agree."""
    with compat.exact_float32():
        return _compare(config, sample, on_progress)


def _compare(config: Config, sample: int, on_progress: Optional[ProgressCallback]
             ) -> Agreement:
    if config.precision == "fp32" and not config.compile:
        raise ConfigError("--compare-precision compares fp32 with a faster setting: add "
                          "--precision bf16 (or fp16 on a GPU), or --compile")
    if sample < 1:
        raise ConfigError("--compare-precision needs a sample of 1 image or more, got %d"
                          % sample)
    paths = find_images(config.images_dir)
    chosen = [paths[i] for i in sample_indices(len(paths), sample)]
    placement = devices.place(config)
    if placement.gpus > 1:  # a sample is small: one device is enough
        placement = devices.Placement(placement.device, 1)
    devices.check_precision(config, placement)
    transform = plugin.load_transform(config.model_dir)
    model = weights.load_model(config)
    exact = dataclasses.replace(config, precision="fp32", compile=False, gpus=placement.gpus)
    channels_last = devices.uses_channels_last(model, exact)
    model = devices.prepare(model, exact, placement)
    candidate_model = compat.compile_for_inference(model) if config.compile else model
    loader_transform, normaliser = fastpath.plan(transform, placement.device, channels_last,
                                                 config.fastpath, PREFLIGHT_SIZE)
    reference = Predictor(model, exact, placement, channels_last, normaliser)
    candidate = Predictor(candidate_model, dataclasses.replace(config, gpus=placement.gpus),
                          placement, channels_last, normaliser)
    image_shape = preflight(reference, transform, exact)
    for predictor in (reference, candidate):  # one-off set-up (and compiling) is not timed
        predictor.warm_up(image_shape)
    dataset = ImageDataset(chosen, loader_transform, config.border, config.decoder)
    compared = top1 = top5 = done = 0
    worst = 0.0
    seconds = [0.0, 0.0]
    if on_progress is not None:
        on_progress(0, len(chosen))
    # Model batches of exactly the candidate's size: a compiled model pads shorter ones.
    for batch, seen in model_batches(make_loader(dataset, exact, placement), candidate.chunk):
        done += seen
        parts = [images for _, images, _ in batch if images is not None]
        if parts:
            images = torch.cat(parts) if len(parts) > 1 else parts[0]
            results = []
            for slot, predictor in enumerate((reference, candidate)):
                started = time.perf_counter()
                ids, confidences = predictor.top5_tensors(images)
                results.append((ids.tolist(), confidences.tolist()))  # waits for the device
                seconds[slot] += time.perf_counter() - started
            (ref_ids, ref_conf), (cand_ids, cand_conf) = results
            for a, b, ca, cb in zip(ref_ids, cand_ids, ref_conf, cand_conf):
                compared += 1
                top1 += a[0] == b[0]
                top5 += sorted(a) == sorted(b)
                worst = max(worst, max(abs(x - y) for x, y in zip(ca, cb)))
        if on_progress is not None:
            on_progress(done, len(chosen))
    rates = [compared / spent if spent > 0 else 0.0 for spent in seconds]
    return Agreement(describe(config), compared, len(paths), top1, top5, worst, rates[0],
                     rates[1], capability.emulation_warning(config.precision,
                                                            placement.device))
