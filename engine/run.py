"""One evaluation run: check everything that can be checked before reading an image, then
stream predictions into predictions.csv."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn as nn
from PIL import Image

from engine import capability, compat, devices, distributed, fastpath, mapping, plugin, weights
from engine.config import Config
from engine.dataset import ImageDataset
from engine.errors import ConfigError, ModelError, OutputError
from engine.images import find_images
from engine.predict import Predictor, Timing, model_outputs, predict
from engine.predictions import (
    UNREADABLE_CONFIDENCES,
    UNREADABLE_IDS,
    AtomicWriter,
    format_row,
    merge_sorted_parts,
)

ProgressCallback = Callable[[int, int], None]
LogCallback = Callable[[str], None]

# Size of the stand-in image for the start-up check: a typical ObjectNet photo minus its frame.
PREFLIGHT_SIZE = (480, 270)


@dataclass(frozen=True)
class Summary:
    output: Path
    images: int
    unreadable: List[Tuple[str, str]]
    wall_s: float
    startup_s: float
    decode_s: float
    wait_s: float
    model_s: float
    workers: int
    device: str

    @property
    def img_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_img_per_s(self) -> float:
        """The rate once the model is loaded: what a 50,273-image run will see."""
        busy = self.wall_s - self.startup_s
        return self.images / busy if busy > 0 else 0.0


def check_output(config: Config) -> None:
    """Refuse to clobber results, and find an unwritable folder before hours of work."""
    target = config.output_file
    if target.is_dir():
        raise ConfigError("output %s is a folder; give a file path such as %s"
                          % (target, target / "predictions.csv"))
    if target.exists() and not config.overwrite:
        raise ConfigError("output %s already exists: pass --overwrite to replace it, or choose "
                          "another path" % target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError("cannot create the output folder %s: %s"
                          % (target.parent, error.strerror)) from None
    try:
        AtomicWriter(target).abort()
    except OutputError as error:
        raise ConfigError(str(error)) from None


def preflight(predictor: Predictor, transform: Callable, config: Config) -> Tuple[int, ...]:
    """Run the transform and the model on a stand-in image, so a broken transform, a model
    that fails on real input sizes, or a wrong output count is reported before any image."""
    tensor = _stand_in(transform)
    try:
        with torch.no_grad():
            scores = model_outputs(devices.eager(predictor.model)(tensor.unsqueeze(0).to(
                predictor.placement.device)))
    except Exception as error:
        if compat.is_device_error(error):  # the device's limits, not a fault of the model
            raise
        raise ModelError("model %s fails on a transformed image of shape %s: %s: %s"
                         % (config.model_class, list(tensor.shape), type(error).__name__,
                            str(error).splitlines()[0] if str(error) else "")) from None
    _check_scores(scores, config)
    return tuple(tensor.shape)


def preflight_on_meta(skeleton: nn.Module, transform: Callable, config: Config
                      ) -> Optional[Tuple[int, ...]]:
    """The same check on the meta device, before the weights arrive: shapes only, so it
    costs nothing (a big model's one-image forward on 2 cores takes seconds). None when the
    model cannot run without values (the real check then decides)."""
    tensor = _stand_in(transform)
    try:
        skeleton.eval()
        with torch.no_grad():
            scores = model_outputs(skeleton(tensor.unsqueeze(0).to("meta")))
    except Exception:
        return None
    _check_scores(scores, config)
    return tuple(tensor.shape)


def _stand_in(transform: Callable) -> torch.Tensor:
    """The user's transform applied to a stand-in photo, checked to be a CxHxW tensor."""
    stand_in = Image.new("RGB", PREFLIGHT_SIZE, (124, 116, 104))
    try:
        tensor = transform(stand_in)
    except Exception as error:
        width, height = PREFLIGHT_SIZE
        raise ModelError("data_transform().getTransform() fails on a %dx%d RGB image: %s: %s"
                         % (width, height, type(error).__name__, error)) from None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 3:
        raise ModelError("data_transform().getTransform() must turn a PIL image into a CxHxW "
                         "tensor (end it with transforms.ToTensor()), it gave %s"
                         % (type(tensor).__name__ if not isinstance(tensor, torch.Tensor)
                            else "shape %s" % list(tensor.shape)))
    return tensor


def _check_scores(scores: torch.Tensor, config: Config) -> None:
    if scores.dim() != 2:
        raise ModelError("model %s returns outputs of shape %s; expected (batch, classes)"
                         % (config.model_class, list(scores.shape)))
    try:
        mapping.check_output_count(scores.shape[1], config.convert_outputs_mode)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def run(config: Config, on_progress: Optional[ProgressCallback] = None,
        log: Optional[LogCallback] = None) -> Summary:
    """Evaluate `config.images_dir` and write `config.output_file`; returns what happened.
    fp32 is true fp32 throughout (no TF32 on GPUs), restored afterwards."""
    with compat.exact_float32():
        return _run(config, on_progress, log)


def _run(config: Config, on_progress: Optional[ProgressCallback],
         log: Optional[LogCallback]) -> Summary:
    started = time.perf_counter()
    say = log or (lambda line: None)
    shard = distributed.from_environment()
    if shard.is_writer:
        check_output(config)
    paths = find_images(config.images_dir)
    placement = devices.place(config, shard.local_rank if shard.active else None)
    devices.check_precision(config, placement)
    threads = devices.set_cpu_threads()
    warning = capability.emulation_warning(config.precision, placement.device)
    transform = plugin.load_transform(config.model_dir)
    checked: List[Tuple[int, ...]] = []

    def check_on_meta(skeleton: nn.Module) -> bool:
        shape = preflight_on_meta(skeleton, transform, config)
        if shape is not None:
            checked.append(shape)
        return shape is not None

    model = weights.load_model(config, say, check_on_meta)
    channels_last = devices.uses_channels_last(model, config)
    model = devices.prepare(model, config, placement)
    loader_transform, normaliser = fastpath.plan(transform, placement.device, channels_last,
                                                 config.fastpath, PREFLIGHT_SIZE)
    predictor = Predictor(model, config, placement, channels_last, normaliser)
    image_shape = checked[0] if checked else preflight(predictor, transform, config)
    if config.compile:
        predictor.warm_up(image_shape)
    distributed.start(shard, placement.kind == "cuda")
    try:
        mine = paths[shard.rank::shard.world]
        workers = devices.loader_workers(config, len(mine))
        say(threads)
        if warning is not None:
            say("warning: " + warning)
        say("predicting %d images on %s (batch %d, %d loader workers, %s%s%s)"
            % (len(paths), _device_name(placement), config.batch_size, workers,
               config.precision, ", uint8 pixels normalised on the device" if normaliser else "",
               ", %d ranks" % shard.world if shard.active else ""))
        startup = time.perf_counter() - started
        timing = Timing()
        target = _part(config.output_file, shard.rank) if shard.active else config.output_file
        _write(predictor, ImageDataset(mine, loader_transform, config.border, config.decoder),
               target,
               timing, len(paths) if not shard.active else len(mine), on_progress, say)
        unreadable = [(mine[i].name, reason) for i, reason in timing.unreadable]
        if shard.active:
            unreadable = sorted(u for part in distributed.gather(shard, unreadable) for u in part)
            parts = [_part(config.output_file, rank) for rank in range(shard.world)]
            distributed.barrier(shard)
            if shard.is_writer:
                merge_sorted_parts(parts, config.output_file)
                for part in parts:
                    part.unlink()
            distributed.barrier(shard)
    finally:
        distributed.stop(shard)
    return Summary(
        output=config.output_file, images=len(paths), unreadable=unreadable,
        wall_s=time.perf_counter() - started, startup_s=startup, decode_s=timing.decode_s,
        wait_s=timing.wait_s, model_s=timing.model_s, workers=workers,
        device=_device_name(placement),
    )


def _part(output: Path, rank: int) -> Path:
    """Where rank `rank` writes its sorted share of the rows, hidden beside the output."""
    return output.parent / (".%s.rank%d" % (output.name, rank))


def _device_name(placement: devices.Placement) -> str:
    if placement.kind == "cpu":
        return "cpu"
    return "%d x %s" % (placement.gpus, torch.cuda.get_device_name(placement.device))


def _write(predictor: Predictor, dataset: ImageDataset, target: Path, timing: Timing,
           total: int, on_progress: Optional[ProgressCallback], say: LogCallback) -> None:
    writer = AtomicWriter(target)
    done = [0]

    def advance(count: int) -> None:
        done[0] += count
        if on_progress is not None:
            on_progress(done[0], total)

    try:
        advance(0)
        for index, ids, confidences, reason in predict(predictor, dataset, timing, advance):
            name = dataset.paths[index].name
            if reason is not None:
                say("unreadable: %s: %s" % (dataset.paths[index], reason))
                ids, confidences = UNREADABLE_IDS, UNREADABLE_CONFIDENCES
            writer.write(format_row(name, ids, confidences))
        writer.commit()
    except BaseException:
        writer.abort()
        raise
