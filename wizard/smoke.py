"""Smoke tests: does the model predict here, and does the built image predict the same?

`local_smoke` runs the engine in this process on a few images (the user's, or generated
ObjectNet-like ones), checks predictions.csv the way the challenge scorer does and measures
the speed. `image_smoke` runs the built image the way the challenge does (no network, images
read-only at /input, predictions written to /output) on the same images and compares its
predictions with the local run's, row by row.

The comparison of the two runs' predictions is wizard.agreement; the generated images are
wizard.samples'.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import Config
from engine.report import PROGRESS_ENV, progress_from_line
from wizard.agreement import TOLERANCES, Comparison, Tolerance, compare_predictions
from wizard.answers import Answers
from wizard.engine_settings import local_config
from wizard.errors import SmokeError
from wizard.runner_profile import (
    FULL_TEST_SET,
    NON_ROOT_USER,
    RunnerLimitError,
    RunnerProfile,
    TimeVerdict,
    Usage,
    oom_message,
    time_verdict,
    usage_lines,
)
from wizard.runner_profile import duration as _duration
from wizard.samples import DEFAULT_COUNT, generated_images

if TYPE_CHECKING:
    from engine.scores import Scores
    from wizard.docker_client import DockerClient
    from wizard.docker_events import ContainerRun

PREDICTIONS = "predictions.csv"
# Exit code 3: finished, but some images were unreadable (their rows hold -1 ids).
ENGINE_OK_CODES = (0, 3)

ProgressCallback = Callable[[int, int], None]
LogCallback = Callable[[str], None]


# ---- errors ---------------------------------------------------------------------------------


class LocalSmokeError(SmokeError):
    """The engine could not run the model on this machine."""


class LocalSmokeCancelledError(LocalSmokeError):
    """The user stopped the local smoke run; no predictions were kept."""


class ContainerFailedError(SmokeError):
    """The image exited with an error or wrote no predictions; `logs_tail` holds its last
    lines."""

    def __init__(self, message: str, exit_code: int, logs_tail: str):
        super().__init__(message)
        self.exit_code = exit_code
        self.logs_tail = logs_tail


class PredictionsInvalidError(SmokeError):
    """predictions.csv would be refused by the challenge scorer."""

    def __init__(self, message: str, validation: dict[str, Any]):
        super().__init__(message)
        self.validation = validation


class PredictionsMismatchError(SmokeError):
    """The image's predictions differ from the local run's beyond float rounding."""

    def __init__(self, message: str, comparison: Comparison):
        super().__init__(message)
        self.comparison = comparison


# ---- local smoke ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalSmokeResult:
    """What the engine did with the smoke images on this machine."""

    predictions: Path
    images_dir: Path
    generated: bool
    """True when the images were generated, not the user's."""
    images: int
    unreadable: list[tuple[str, str]]
    validation: dict[str, Any]
    """The challenge scorer's verdict (format only: the smoke images have no answers)."""
    wall_s: float
    startup_s: float
    steady_img_per_s: float
    device: str
    precision: str
    estimate_full_s: float
    """Estimated wall time for all 50,273 ObjectNet images *on this machine* (start-up plus
    images at the steady rate). The challenge machine has GPUs and is much faster."""
    scores: Scores | None = None
    """When the smoke images carry labels (ObjectNet class folders or
    an answers.json beside them): top-1/top-5 of each conversion from the same pass."""
    timing: dict[str, float] = dataclasses.field(default_factory=dict)
    """Where the time went: startup_s, decode_s (summed over loader workers), wait_s,
    model_s, wall_s."""
    batch_marks: tuple[tuple[float, int], ...] = ()
    """(seconds since the run started, images done) at the end of each batch: the spread
    of the batches' rates bounds the full-run estimate (see wizard/report.py)."""

    def lines(self) -> list[str]:
        what = "generated ObjectNet-like images" if self.generated else str(self.images_dir)
        out = [
            f"local run: {self.images} images ({what}) on {self.device}, {self.wall_s:.1f} s, "
            f"{self.steady_img_per_s:.1f} img/s after a {self.startup_s:.1f} s start-up",
            f"predictions.csv: {self.validation['prediction_file_status']} "
            f"({self.validation['images_scored']} rows)",
            f"all {FULL_TEST_SET:,} ObjectNet images would take about "
            f"{_duration(self.estimate_full_s)} in {self.precision} on this machine "
            f"({self.device}); the challenge machine has GPUs",
        ]
        if self.scores is not None:
            out.extend(self.scores.lines())
        elif not self.generated:
            out.append("accuracy: not measured (no labels: ObjectNet's class folders or "
                       "answers.json)")
        out.extend(f"unreadable: {name}: {reason}" for name, reason in self.unreadable[:5])
        return out




def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def local_smoke(source: Answers | Config, images_dir: str | PathLike[str] | None,
                output_dir: str | PathLike[str], on_progress: ProgressCallback | None = None,
                *, project_root: str | PathLike[str] | None = None,
                cache_dir: str | PathLike[str] | None = None, count: int = DEFAULT_COUNT,
                log: LogCallback | None = None,
                cancel: threading.Event | None = None) -> LocalSmokeResult:
    """Run the engine here on the smoke images and check its predictions.csv.

    `source` is the answers (then `project_root` is the folder they are relative to) or an
    engine Config. Images: `images_dir`, else the answers' smoke_images, else `count`
    generated ObjectNet-like images cached in `cache_dir`. predictions.csv is written into
    `output_dir` (replaced if there). `cancel` stops the run between batches
    (LocalSmokeCancelledError). Raises LocalSmokeError, PredictionsInvalidError."""
    from engine.errors import EngineError, RunCancelledError
    from wizard.local_torch import using_torch

    with using_torch():  # the import only: the run shares torch, not the lock
        from engine.run import run

    generated = False
    if isinstance(source, Answers):
        if project_root is None:
            raise TypeError("local_smoke(answers, ...) needs project_root")
        folder = images_dir if images_dir is not None else source.smoke_images_path(
            project_root)
    else:
        folder = images_dir if images_dir is not None else source.images_dir
    if folder is None:
        folder = generated_images(cache_dir, count)
        generated = True
    folder = Path(folder)
    if not folder.is_dir():
        raise LocalSmokeError(f"smoke images folder {folder} does not exist: check the "
                              "smoke_images setting, or leave it out to use generated images")
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LocalSmokeError(f"cannot create the output folder {out}: {error.strerror}") \
            from error
    target = out / PREDICTIONS
    if isinstance(source, Answers):
        config = local_config(source, project_root or ".", folder, target)
    else:
        config = dataclasses.replace(source, images_dir=folder, output_file=target,
                                     overwrite=True)
    config = dataclasses.replace(config, score=not generated)
    started = time.perf_counter()
    marks: list[tuple[float, int]] = []

    def progress(done: int, total: int) -> None:
        marks.append((time.perf_counter() - started, done))
        if on_progress is not None:
            on_progress(done, total)

    try:
        summary = run(config, on_progress=progress, log=log,
                      cancelled=cancel.is_set if cancel is not None else None)
    except RunCancelledError as error:
        raise LocalSmokeCancelledError("the local smoke run was cancelled") from error
    except EngineError as error:
        raise LocalSmokeError(f"the engine could not run the model here: {error}") from error
    except Exception as error:  # the model or torch failing on a real batch, as the CLI says it
        raise LocalSmokeError("the model failed during the local smoke run: "
                              f"{_first_line(error)}; no predictions file was written") from error
    refuse_empty_predictions(summary.images, summary.unreadable)
    validation = check_predictions(target, "the local run")
    steady = summary.steady_img_per_s
    estimate = summary.startup_s + FULL_TEST_SET / steady if steady > 0 else math.inf
    return LocalSmokeResult(
        predictions=target, images_dir=folder, generated=generated, images=summary.images,
        unreadable=list(summary.unreadable), validation=validation, wall_s=summary.wall_s,
        startup_s=summary.startup_s, steady_img_per_s=steady, device=summary.device,
        precision=config.precision, estimate_full_s=estimate, scores=summary.scores,
        timing={"startup_s": summary.startup_s, "decode_s": summary.decode_s,
                "wait_s": summary.wait_s, "model_s": summary.model_s,
                "wall_s": summary.wall_s},
        batch_marks=tuple(marks),
    )


def refuse_empty_predictions(images: int, unreadable: Sequence[tuple[str, str]]) -> None:
    """A run whose rows say nothing is not a pass, though the file is valid: the engine
    writes -1 ids for an image it could not read or whose scores were NaN or Inf. Scores
    that are not finite are the model's fault, on any image; unreadable images are the
    folder's, and fail the run only when no image was read."""
    from engine.predict import NOT_FINITE

    not_finite = [name for name, reason in unreadable if reason == NOT_FINITE]
    if not_finite:
        raise LocalSmokeError(
            f"the model's scores are not finite (NaN or Inf) for {len(not_finite)} of "
            f"{images} images (the first: {not_finite[0]}): the challenge would score them "
            "wrong; check the model's forward pass and its checkpoint")
    if images and len(unreadable) >= images:
        name, reason = unreadable[0]
        raise LocalSmokeError(
            f"none of the {images} smoke images could be read ({name}: {reason}): the run "
            "checked nothing; put JPEG or PNG images in the smoke images folder")


def check_predictions(path: Path, who: str) -> dict[str, Any]:
    """The scorer's verdict on a predictions.csv; PredictionsInvalidError when INVALID."""
    from engine.validate import validate_file

    try:
        validation = validate_file(path)
    except ValueError as error:
        raise PredictionsInvalidError(f"{who}: {error}", {}) from error
    if validation["prediction_file_status"] != "VALIDATED":
        errors = validation["prediction_file_errors"]
        shown = "; ".join(errors[:3]) + (f"; ... {len(errors) - 3} more" if len(errors) > 3
                                          else "")
        raise PredictionsInvalidError(
            f"{who} wrote a predictions.csv the challenge would refuse: {shown}", validation
        )
    return validation


# ---- image smoke ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSmokeResult:
    """What the built image did with the smoke images, run as the challenge runs it."""

    image: str
    exit_code: int
    logs_tail: str
    predictions: Path
    validation: dict[str, Any]
    comparison: Comparison
    seconds: float
    """Wall time of the container, start-up (Python, torch, the model) included."""
    img_per_s: float | None
    """The engine's own rate inside the container, after start-up (None if not reported)."""
    profile: RunnerProfile = dataclasses.field(default_factory=RunnerProfile)
    """The runner limits the container ran under."""
    usage: Usage = dataclasses.field(default_factory=lambda: Usage(None, None))
    time: TimeVerdict | None = None
    strict: tuple[StrictPass, ...] = ()
    """The read-only root filesystem and non-root passes (empty when skipped)."""

    def lines(self) -> list[str]:
        c = self.comparison
        rate = f", {self.img_per_s:.1f} img/s after start-up" if self.img_per_s else ""
        out = [
            f"image run: exit code {self.exit_code}, {self.seconds:.1f} s{rate}",
            f"/output/predictions.csv: {self.validation['prediction_file_status']} "
            f"({self.validation['images_scored']} rows)",
            f"agreement with the local run: top-1 {c.top1_agree}/{c.rows}, top-5 "
            f"{c.top5_agree}/{c.rows}" + (f", {len(c.ties)} tied" if c.ties else ""),
            f"runner profile: {self.profile.describe()}",
            *usage_lines(self.usage, self.profile),
        ]
        if self.time is not None:
            out.append(self.time.line())
        out.extend(strict.line() for strict in self.strict)
        return out


@dataclass(frozen=True)
class StrictPass:
    """One stricter re-run of the image: how a stricter runner would fare."""

    name: str
    """"read-only root filesystem" or "non-root user 1000:1000"."""
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {'works' if self.ok else 'FAILS'}" + (
            f" ({self.detail})" if self.detail else "")


_RATE = re.compile(r"\(([0-9.]+) after start-up\)")
_DEVICE = re.compile(r"after start-up\) on (.+)$", re.MULTILINE)
_STARTUP = re.compile(r"start-up ([0-9.]+) s")


def _engine_rate(logs: str) -> float | None:
    """The engine's summary line says `(N after start-up)`; see engine/report.py."""
    found = _RATE.findall(logs)
    try:
        return float(found[-1]) if found else None
    except ValueError:
        return None


def _tail(logs: str, lines: int = 12) -> str:
    kept = [line for line in logs.splitlines() if line.strip()][-lines:]
    return "\n".join(f"  {line}" for line in kept)


def image_smoke(ops: DockerClient, image: str, images_dir: str | PathLike[str],
                output_dir: str | PathLike[str], local_predictions: str | PathLike[str], *,
                precision: str = "fp32", tolerance: Tolerance | None = None,
                timeout_s: float = 3600.0, shm_size: str | None = None,
                extra_args: Sequence[str] = (), gpus: bool = False,
                cancel: threading.Event | None = None,
                profile: RunnerProfile | None = None,
                on_progress: ProgressCallback | None = None,
                log: LogCallback | None = None) -> ImageSmokeResult:
    """Run `image` as the challenge does on `images_dir`, under the runner `profile`'s limits
    (default: the ObjectNet runner's; `shm_size` overrides its shared memory), check
    /output/predictions.csv and compare it with `local_predictions` (the local run on the
    same images). The result carries peak memory and /dev/shm and the time verdict; the
    strict passes are `strict_passes`. While it runs, `log` gets the container's output
    line by line and `on_progress` the engine's progress after each batch (see
    `follow_output`).

    Raises RunnerLimitError (killed for memory), ContainerFailedError (non-zero exit, no
    CSV), PredictionsInvalidError, PredictionsMismatchError; Docker's own errors come from
    docker_ops."""
    profile = profile or RunnerProfile()
    if shm_size is not None:
        profile = dataclasses.replace(profile, shm=shm_size)
    out = Path(output_dir)
    started = time.monotonic()
    run = _run_image(ops, image, images_dir, out, profile, extra_args=extra_args,
                     timeout_s=timeout_s, gpus=gpus, cancel=cancel, user=profile.user,
                     on_output=follow_output(log, on_progress))
    seconds = time.monotonic() - started
    target = out / PREDICTIONS
    usage = Usage(run.memory_peak, run.shm_peak, run.oom_killed)
    _check_exit(image, run, target, profile, usage)
    validation = check_predictions(target, "the image")
    comparison = compare_predictions(local_predictions, target,
                                     tolerance or TOLERANCES.get(precision, TOLERANCES["fp32"]))
    if not comparison.ok:
        problems = comparison.problems()
        raise PredictionsMismatchError(
            f"the image's predictions differ from the local run's beyond float rounding for "
            f"{len(comparison.mismatches) + len(comparison.missing) + len(comparison.extra)} "
            f"of {comparison.rows} images: {'; '.join(problems)}. The image is not running "
            "what ran here: check that the base image's torch and torchvision can run the "
            "model as saved, and that the model folder and checkpoint were not changed since "
            "the build", comparison,
        )
    rate = _engine_rate(run.logs_tail)
    device = _last(_DEVICE, run.logs_tail) or "an unreported device"
    startup = float(_last(_STARTUP, run.logs_tail) or 0.0)
    on_cpu = device == "cpu"
    hardware = (f"this machine's CPU ({os.cpu_count() or 1} cores), in the image"
                if on_cpu else f"{device}, in the image")
    return ImageSmokeResult(
        image=image, exit_code=run.exit_code, logs_tail=run.logs_tail, predictions=target,
        validation=validation, comparison=comparison, seconds=seconds, img_per_s=rate,
        profile=profile, usage=usage,
        time=time_verdict(startup, rate, profile, hardware, upper_bound=on_cpu),
    )


def strict_passes(ops: DockerClient, image: str, images_dir: str | PathLike[str],
                  output_dir: str | PathLike[str], profile: RunnerProfile, *,
                  timeout_s: float = 3600.0, gpus: bool = False,
                  cancel: threading.Event | None = None,
                  on_progress: ProgressCallback | None = None,
                  log: LogCallback | None = None) -> tuple[StrictPass, ...]:
    """Re-run the image with a read-only root filesystem (tmpfs /tmp), then as the non-root
    user 1000:1000: some runners do either. Each pass must exit cleanly and write a valid
    predictions.csv. Failures are returned, not raised: the profile decides (see
    runner_profile.Strictness). `log` and `on_progress` follow each pass as in
    `image_smoke`."""
    passes = (("read-only root filesystem", True, profile.user),
              (f"non-root user {NON_ROOT_USER}", False, NON_ROOT_USER))
    results = []
    for number, (name, read_only, user) in enumerate(passes, start=1):
        out = Path(output_dir) / f"strict-{number}"
        if log is not None:
            log(f"strict pass {number}/{len(passes)}: {name}")
        run = _run_image(ops, image, images_dir, out, profile, timeout_s=timeout_s, gpus=gpus,
                         cancel=cancel, read_only=read_only, user=user,
                         on_output=follow_output(log, on_progress))
        target = out / PREDICTIONS
        try:
            _check_exit(image, run, target, profile, Usage(run.memory_peak, run.shm_peak,
                                                           run.oom_killed))
            check_predictions(target, "the image")
        except (SmokeError, RunnerLimitError) as error:
            last = [line for line in run.logs_tail.splitlines() if line.strip()]
            reason = str(error).splitlines()[0]
            detail = f"{reason}; last line: {last[-1].strip()}" if last else reason
            results.append(StrictPass(name, False, detail))
            continue
        results.append(StrictPass(name, True, ""))
    return tuple(results)


def _run_image(ops: DockerClient, image: str, images_dir: str | PathLike[str], out: Path,
               profile: RunnerProfile, *, extra_args: Sequence[str] = (), timeout_s: float,
               gpus: bool, cancel: threading.Event | None, user: str | None = None,
               read_only: bool = False,
               on_output: Callable[[str], None] | None = None) -> ContainerRun:
    out.mkdir(parents=True, exist_ok=True)
    # The engine refuses to overwrite; a stale file would also pass for a fresh one.
    with contextlib.suppress(FileNotFoundError):
        (out / PREDICTIONS).unlink()
    # Watched, the engine reports every batch (only its log changes: see engine/report.py).
    watched = {PROGRESS_ENV: "batch"} if on_output is not None else None
    return ops.run_smoke_container(image, images_dir, out, shm_size=profile.shm,
                                   extra_args=extra_args, timeout_s=timeout_s,
                                   mem_limit=profile.memory, gpus=gpus and profile.gpus,
                                   cancel=cancel, user=user, read_only=read_only,
                                   environment=watched, on_output=on_output)


def follow_output(log: LogCallback | None,
                  on_progress: ProgressCallback | None) -> Callable[[str], None] | None:
    """What to do with each line a smoke container writes: the engine's progress lines go
    to `on_progress` as (done, total) (to `log` when that is None), every other line to
    `log`. None when nobody watches."""
    if log is None and on_progress is None:
        return None

    def line(text: str) -> None:
        progress = progress_from_line(text)
        if progress is not None and on_progress is not None:
            on_progress(*progress)
        elif log is not None:
            log(text)

    return line


def _check_exit(image: str, run: ContainerRun, target: Path, profile: RunnerProfile,
                usage: Usage) -> None:
    if run.oom_killed:
        raise RunnerLimitError(oom_message(image, profile, usage))
    if run.exit_code not in ENGINE_OK_CODES:
        raise ContainerFailedError(
            f"the image exited with code {run.exit_code}; its last lines:\n{_tail(run.logs_tail)}",
            run.exit_code, run.logs_tail,
        )
    if not target.is_file():
        raise ContainerFailedError(
            f"the image exited with code {run.exit_code} but wrote no /output/{PREDICTIONS}: "
            "the challenge would score an empty file; its last lines:\n"
            f"{_tail(run.logs_tail)}", run.exit_code, run.logs_tail,
        )


def _last(pattern: re.Pattern[str], logs: str) -> str | None:
    found = pattern.findall(logs)
    return found[-1].strip() if found else None
