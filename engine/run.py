"""One evaluation run: check everything that can be checked before reading an image, then
stream predictions into predictions.csv."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from PIL import Image

from engine import capability, compat, devices, distributed, fastpath, mapping, plugin, weights
from engine.config import Config
from engine.dataset import ImageDataset
from engine.errors import ConfigError, EngineError, ModelError, OutputError, RunCancelledError
from engine.labels import ANSWERS_BESIDE_IMAGES, LabelsError, find_labels
from engine.predict import Predictor, Timing, model_outputs, predict
from engine.predictions import (
    UNREADABLE_CONFIDENCES,
    UNREADABLE_IDS,
    AtomicWriter,
    format_row,
)
from engine.scan import find_images
from engine.scores import UNLABELLED, Scores, Tally, merge_counts
from engine.usercode import USER_ERRORS, describe_failure

ProgressCallback = Callable[[int, int], None]
LogCallback = Callable[[str], None]

# (ids, confidences) of one image, in file-name order.
Row = Tuple[List[int], List[float]]

# Size of the stand-in image for the start-up check: a typical ObjectNet photo minus its frame.
PREFLIGHT_SIZE = (480, 270)


class Rates:
    """The two rates of a timed run, for any record of its images, wall time and start-up
    (the engine's Summary, the benchmarks' measures), so every figure is computed one way."""

    images: int
    wall_s: float
    startup_s: float

    @property
    def img_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_img_per_s(self) -> float:
        """The rate once the model is loaded: what a 50,273-image run will see."""
        busy = self.wall_s - self.startup_s
        return self.images / busy if busy > 0 else 0.0


@dataclass(frozen=True)
class Summary(Rates):
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
    scores: Optional[Scores] = None
    """Top-1/top-5 of each conversion, for a --score run on labelled images."""


def check_output(config: Config) -> List[Path]:
    """Refuse to clobber results or inputs, and find an unwritable folder before hours of
    work. Returns the folders it created, deepest first, for remove_empty() if the run fails."""
    target = config.output_file
    if target.is_dir():
        raise ConfigError("output %s is a folder; give a file path such as %s"
                          % (target, target / "predictions.csv"))
    if _inside(target, config.images_dir):
        raise ConfigError("output %s is inside the images folder %s: it could overwrite an "
                          "image, and the next run would search it; write it elsewhere"
                          % (target, config.images_dir))
    if target.exists() and not config.overwrite:
        raise ConfigError("output %s already exists: pass --overwrite to replace it, or choose "
                          "another path" % target)
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        remove_empty(created)
        raise ConfigError("cannot create the output folder %s: %s"
                          % (target.parent, error.strerror)) from None
    try:
        AtomicWriter(target).abort()
    except OutputError as error:
        remove_empty(created)
        raise ConfigError(str(error)) from None
    return created


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def remove_empty(folders: List[Path]) -> None:
    """Remove folders a failed run created, deepest first, where they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def preflight(predictor: Predictor, transform: Callable, config: Config) -> Tuple[int, ...]:
    """Run the transform and the model on a stand-in image, so a broken transform, a model
    that fails on real input sizes, or a wrong output count is reported before any image."""
    tensor = _transformed(transform)
    try:
        with torch.no_grad():
            scores = model_outputs(devices.eager(predictor.model)(tensor.unsqueeze(0).to(
                predictor.placement.device)))
    except EngineError:
        raise
    except USER_ERRORS as error:
        if compat.is_device_error(error):  # the device's limits, not a fault of the model
            raise
        model_file = config.model_dir / plugin.MODEL_FILE
        raise ModelError("model %s (%s) fails on a transformed image of shape %s: %s"
                         % (config.model_class, model_file, list(tensor.shape),
                            describe_failure(error, model_file))) from None
    _check_scores(scores, config)
    if not bool(torch.isfinite(scores).all()):
        raise ModelError("model %s gives scores that are not finite (NaN or Inf) on the "
                         "start-up image: check the checkpoint's weights (were they saved "
                         "after training diverged?)" % config.model_class)
    return tuple(tensor.shape)


def preflight_on_meta(skeleton: nn.Module, transform: Callable, config: Config
                      ) -> Optional[Tuple[int, ...]]:
    """The same check on the meta device, before the weights arrive: shapes only, so it
    costs nothing (a big model's one-image forward on 2 cores takes seconds). None when the
    model cannot run without values (the real check then decides). The scores' finiteness,
    which needs values, is checked on the weights instead (check_weights_finite)."""
    tensor = _transformed(transform)
    try:
        skeleton.eval()
        with torch.no_grad():
            scores = model_outputs(skeleton(tensor.unsqueeze(0).to("meta")))
    except Exception:
        return None
    _check_scores(scores, config)
    return tuple(tensor.shape)


def check_weights_finite(model: nn.Module, config: Config) -> None:
    """NaN or Inf weights (a checkpoint saved after training diverged), where the start-up
    check ran on shapes alone and so saw no scores."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point() and not compat.all_finite(tensor):
            raise ModelError("model %s has weights that are not finite (NaN or Inf): check the "
                             "checkpoint's weights (were they saved after training diverged?)"
                             % config.model_class)


def _transformed(transform: Callable) -> torch.Tensor:
    """The user's transform applied to the stand-in photo, checked to be a CxHxW tensor."""
    try:
        tensor = transform(_stand_in())
    except USER_ERRORS as error:
        width, height = PREFLIGHT_SIZE
        raise ModelError("data_transform().getTransform() fails on a %dx%d RGB image: %s"
                         % (width, height, describe_failure(error))) from None
    if not isinstance(tensor, torch.Tensor) or tensor.dim() != 3:
        raise ModelError("data_transform().getTransform() must turn a PIL image into a CxHxW "
                         "tensor (end it with transforms.ToTensor()), it gave %s"
                         % (type(tensor).__name__ if not isinstance(tensor, torch.Tensor)
                            else "shape %s" % list(tensor.shape)))
    return tensor


def _check_scores(scores: torch.Tensor, config: Config) -> None:
    if scores.dim() != 2 or scores.shape[0] != 1:
        raise ModelError("model %s returns outputs of shape %s for one image; expected "
                         "(1, classes)" % (config.model_class, list(scores.shape)))
    try:
        mapping.check_output_count(scores.shape[1], config.convert_outputs_mode)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def run(config: Config, on_progress: Optional[ProgressCallback] = None,
        log: Optional[LogCallback] = None,
        cancelled: Optional[Callable[[], bool]] = None) -> Summary:
    """Evaluate `config.images_dir` and write `config.output_file`; returns what happened.
    `cancelled` is asked between start-up phases and after every batch; when it says True
    the run ends with RunCancelledError and leaves no predictions file. fp32 is true fp32
    throughout (no TF32 on GPUs), restored afterwards."""
    started = time.perf_counter()
    shard = distributed.from_environment()
    created = check_output(config) if shard.is_writer else []

    def check_cancelled() -> None:
        if cancelled is not None and cancelled():
            raise RunCancelledError("the run was cancelled")

    try:
        with compat.exact_float32():
            return _run(config, shard, started, on_progress, log or (lambda line: None),
                        check_cancelled)
    except BaseException:
        remove_empty(created)
        raise


def _run(config: Config, shard: distributed.Shard, started: float,
         on_progress: Optional[ProgressCallback], say: LogCallback,
         check_cancelled: Callable[[], None]) -> Summary:
    paths = find_images(config.images_dir)
    tally = make_tally(config, paths, say) if config.score else None
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

    check_cancelled()
    model = weights.load_model(config, say, check_on_meta)
    check_cancelled()
    channels_last = devices.uses_channels_last(model, config)
    model = devices.prepare(model, config, placement)
    loader_transform, normaliser = fastpath.plan(transform, placement.device, channels_last,
                                                 config.fastpath, PREFLIGHT_SIZE)
    predictor = Predictor(model, config, placement, channels_last, normaliser)
    if checked:
        check_weights_finite(model, config)
    image_shape = checked[0] if checked else preflight(predictor, transform, config)
    check_cancelled()
    # Images batched together need one size; one image per model call may have any.
    loader_shape = None if predictor.chunk == 1 else image_shape if (
        loader_transform is transform) else tuple(loader_transform(_stand_in()).shape)
    if config.compile:
        predictor.warm_up(image_shape)
    distributed.start(shard, placement.kind == "cuda")
    try:
        distributed.check_same_images(shard, [p.name for p in paths])
        mine = paths[shard.rank::shard.world]
        if tally is not None:
            tally.labels = tally.labels[shard.rank::shard.world]
            predictor.tally = tally
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
        dataset = ImageDataset(mine, loader_transform, config.border, config.decoder,
                               config.max_image_bytes, loader_shape)
        rows = _rows(predictor, dataset, timing,
                     len(paths) if not shard.active else len(mine), on_progress, say,
                     check_cancelled)
        _deliver(rows, config.output_file, paths, shard)
        unreadable = [(mine[i].name, reason) for i, reason in timing.unreadable]
        counts = tally.counts() if tally is not None else None
        if shard.active:
            unreadable = sorted(u for part in distributed.gather(shard, unreadable) for u in part)
            if counts is not None:
                counts = merge_counts(distributed.gather(shard, counts))
            distributed.barrier(shard)
    finally:
        distributed.stop(shard)
    return Summary(
        output=config.output_file, images=len(paths), unreadable=unreadable,
        wall_s=time.perf_counter() - started, startup_s=startup, decode_s=timing.decode_s,
        wait_s=timing.wait_s, model_s=timing.model_s, workers=workers,
        device=_device_name(placement),
        scores=tally.scores(counts) if tally is not None and counts is not None else None,
    )


def make_tally(config: Config, paths: List[Path], say: LogCallback) -> Optional[Tally]:
    """The hit counters for --score, or None (said once) when the images carry no labels."""
    try:
        labels = find_labels(config.images_dir)
    except LabelsError as error:
        raise ConfigError("--score: %s" % error) from None
    if labels is None:
        say("--score: the images carry no labels (no ObjectNet class folders, no %s in %s), "
            "so no accuracy is reported" % (ANSWERS_BESIDE_IMAGES, config.images_dir))
        return None
    source = ("%s" % (config.images_dir / ANSWERS_BESIDE_IMAGES)
              if (config.images_dir / ANSWERS_BESIDE_IMAGES).is_file()
              else "ObjectNet class folders")
    return Tally([labels.get(path.name, UNLABELLED) for path in paths], source,
                 config.convert_outputs_mode, all_labels=list(labels.values()))


def _deliver(rows: Iterator[Row], target: Path, paths: List[Path],
             shard: distributed.Shard) -> None:
    """Write this process's rows, or under torchrun bring every rank's rows to rank 0, which
    alone writes `target`: no folder needs to be shared between machines."""
    if not shard.active:
        _write(target, paths, rows)
        return
    with distributed.spool(rows) as spooled:
        if not shard.is_writer:
            distributed.send_rows(spooled)
            return
        streams = [distributed.read_spool(spooled)] + [
            distributed.receive_rows(rank, len(paths[rank::shard.world]))
            for rank in range(1, shard.world)]
        _write(target, paths, distributed.interleave(streams, len(paths)))


def _stand_in() -> Image.Image:
    return Image.new("RGB", PREFLIGHT_SIZE, (124, 116, 104))


def _device_name(placement: devices.Placement) -> str:
    if placement.kind == "cpu":
        return "cpu"
    return "%d x %s" % (placement.gpus, torch.cuda.get_device_name(placement.device))


def _rows(predictor: Predictor, dataset: ImageDataset, timing: Timing, total: int,
          on_progress: Optional[ProgressCallback], say: LogCallback,
          check_cancelled: Callable[[], None]) -> Iterator[Row]:
    """(ids, confidences) for every image of `dataset` in order; -1 rows for images without
    a prediction, each named in the log with its reason."""
    done = [0]

    def advance(count: int) -> None:
        check_cancelled()
        done[0] += count
        if on_progress is not None:
            on_progress(done[0], total)

    advance(0)
    for index, ids, confidences, reason in predict(predictor, dataset, timing, advance):
        if reason is not None:
            say("unreadable: %s: %s" % (dataset.paths[index], reason))
            ids, confidences = UNREADABLE_IDS, UNREADABLE_CONFIDENCES
        yield ids, confidences


def _write(target: Path, paths: List[Path], rows: Iterator[Any]) -> None:
    """One row per path, in order, into `target`, which appears only when complete."""
    writer = AtomicWriter(target)
    try:
        for path in paths:
            row = next(rows, None)
            if row is None:  # pragma: no cover - never silence: a row per image or no file
                raise RuntimeError("no prediction came back for %s" % path.name)
            writer.write(format_row(path.name, *row))
        # Run the generator to its end: the last progress report comes after the last row.
        if next(rows, None) is not None:  # pragma: no cover - a bug: never drop a row
            raise RuntimeError("more predictions came back than there are images")
        writer.commit()
    except BaseException:
        writer.abort()
        raise
