"""What can be known before a build, as findings: one shape for `objectnet-wizard check`, the
pipeline's check stage and the TUI's environment, model and base-image steps.

A `Finding` says what was checked, what was found and what to do about it. The producers
below each look at one thing (the project folder, the Docker engine, the torch installed here,
the model's requirements, the checkpoint against its class, the checkpoint file itself, the
base image against that checkpoint, the model code's downloads, the base image against the
evaluation GPU) and never raise for what they find: a missing engine or a checkpoint that
does not fit is a finding, not an error. Views decide what a finding means for them: the
environment step lets the user go on past any of them; `check` and `run` stop at an error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.answers import Answers
from wizard.errors import WizardError, error_text


class Status(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    """Advice: the run can go on (e.g. a base image older than the checkpoint's torch)."""
    ERROR = "error"
    """The run cannot succeed until it is fixed."""
    PENDING = "pending"
    """Still being checked (a view shows it while a producer runs in the background)."""


class Area(enum.Enum):
    """Whose problem an error is, which sets `check`'s exit code."""

    ENVIRONMENT = "environment"
    """This machine or the engine is not ready (exit 3)."""
    MODEL = "model"
    """The model folder, class, checkpoint or requirements as answered (exit 2)."""


MARKS = {Status.OK: "✓", Status.WARNING: "!", Status.ERROR: "✗", Status.PENDING: "…"}


@dataclass(frozen=True)
class Finding:
    name: str
    """What was checked, e.g. "Docker engine"."""
    status: Status
    detail: str
    """What was found; may hold several lines."""
    fix: str = ""
    """What to do about it (or, for what is fine to lack, what it blocks)."""
    area: Area = Area.ENVIRONMENT
    brief: str | None = None
    """The detail as a narrow view shows it (the model step lists keys line by line where the
    engine's message runs them together); None: the detail itself."""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def blocking(self) -> bool:
        """An error blocks the run; a warning is advice. (Derived, so the two cannot
        disagree.)"""
        return self.status is Status.ERROR

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    @property
    def shown(self) -> str:
        return self.detail if self.brief is None else self.brief

    def __str__(self) -> str:
        """One line for a log: the detail, then the fix."""
        return f"{self.detail}: {self.fix}" if self.fix else self.detail


def ready(findings: Iterable[Finding]) -> bool:
    """Nothing blocks the run."""
    return not any(finding.blocking for finding in findings)


def model_problem(findings: Iterable[Finding]) -> bool:
    """Something blocks the run, and it is the model's (exit 2, not 3)."""
    return any(f.blocking and f.area is Area.MODEL for f in findings)


def pending(name: str) -> Finding:
    return Finding(name, Status.PENDING, "checking…")


# -- this machine --------------------------------------------------------------------------

PROJECT = "Project folder"
DOCKER = "Docker engine"
BASE_IMAGE = "base image"
TORCH = "torch (local)"
GPUS = "GPUs"

DOCKER_FIX = ("the Dockerfile and the local smoke run work without it; the build, the "
              "in-image test and the push need it")
TORCH_FIX = ("install torch and torchvision next to the wizard (`make venv`); the model "
             "check and the local smoke run need them, the image brings its own")


def project(root: Path) -> Finding:
    """Is `root` a project folder: does it hold the engine the image is built from?"""
    if (root / "engine" / "__main__.py").is_file():
        return Finding(PROJECT, Status.OK, "engine/ found: the image is built from this folder")
    return Finding(PROJECT, Status.ERROR, "no engine/ folder here",
                   "start the wizard in the objectnet-wizard folder (the one holding engine/), "
                   "or pass --answers FILE that lies in it")


def docker(connect: Callable[[], Any], base_image: str | None = None) -> list[Finding]:
    """Is a Docker engine reachable (`connect` returns the wizard.docker_ops client, or a
    test's), and, when `base_image` is given, is that image there?"""
    try:
        client = connect()
        describe = getattr(client, "describe", None)
        found = [Finding(DOCKER, Status.OK, describe() if callable(describe) else "reachable")]
    except Exception as error:  # any failure to reach it is the finding
        return [Finding(DOCKER, Status.ERROR, error_text(error), DOCKER_FIX)]
    if base_image:
        try:
            present = client.image_present(base_image)
        except WizardError as error:
            found.append(Finding(BASE_IMAGE, Status.ERROR, str(error)))
            return found
        if present:
            found.append(Finding(BASE_IMAGE, Status.OK, f"{base_image} is present"))
        else:
            found.append(Finding(
                BASE_IMAGE, Status.WARNING, f"{base_image} is not present locally",
                f"`docker pull {base_image}` (the build pulls it when the engine has network; "
                "otherwise load it with `docker load`)"))
    return found


def local_torch(facts: Callable[[], tuple[str | None, list[str]]] | None = None
                ) -> list[Finding]:
    """The torch installed next to the wizard and the GPUs it sees (imports torch: call from
    a worker). `facts` replaces wizard.local_torch.torch_facts (a view that ran it itself)."""
    from wizard.local_torch import torch_facts

    try:
        version, gpus = (facts or torch_facts)()
    except Exception as error:  # a torch that fails to import is the finding
        return torch_missing(error_text(error))
    if version is None:
        return torch_missing("not installed next to the wizard")
    found = [Finding(TORCH, Status.OK,
                     f"torch {version}: for the model check and the local smoke run")]
    if gpus:
        found.append(Finding(GPUS, Status.OK, f"{len(gpus)}: " + ", ".join(gpus)))
    else:
        found.append(Finding(GPUS, Status.WARNING, "none visible: the local smoke run uses the "
                             "CPU (slower); the same image uses the challenge's GPUs"))
    return found


def torch_missing(detail: str) -> list[Finding]:
    return [Finding(TORCH, Status.ERROR, detail, TORCH_FIX),
            Finding(GPUS, Status.WARNING, "unknown without torch")]


# -- the model -----------------------------------------------------------------------------

REQUIREMENTS = "requirements"
CHECKPOINT = "checkpoint"
MODEL_FOLDER = "model folder"
BASE_VS_TORCH = "base image vs torch"
BASE_VS_GPU = "base image vs GPU"
OFFLINE = "offline-ready"
SMOKE_IMAGES = "smoke images"

CHECKPOINT_FIX = "pick the class the checkpoint was trained with, or re-export it"
SHOWN_KEYS = 4


def requirements(answers: Answers, root: Path,
                 connect: Callable[[], Any] | None = None) -> tuple[list[Finding], Path | None]:
    """What model/requirements.txt needs and whether its wheelhouse is complete (none
    without the file); also the private install the model check imports from."""
    from wizard import wheelhouse
    from wizard.samples import default_cache_dir

    path = answers.model_path(root) / wheelhouse.REQUIREMENTS
    if not path.is_file():
        return [], None
    if connect is None:
        from wizard import docker_ops

        connect = docker_ops.connect
    try:
        image = wheelhouse.image_env(connect(), answers.base_image, default_cache_dir())
    except WizardError as error:
        return [Finding(REQUIREMENTS, Status.ERROR, f"cannot read what {answers.base_image} "
                        f"provides: {error}", "start Docker and load the base image, then "
                        "check again")], None
    try:
        prepared = wheelhouse.prepare(path, image, wheelhouse.host_env(),
                                      root / ".objectnet-wizard", root)
    except wheelhouse.WheelhouseError as error:
        return [Finding(REQUIREMENTS, Status.ERROR, str(error), area=Area.MODEL)], None
    found = [Finding(REQUIREMENTS, Status.OK, line) for line in prepared.lines()]
    found += [Finding(REQUIREMENTS, Status.WARNING, text) for text in prepared.warnings]
    return found, prepared.local_site


def _keys(label: str, keys: Sequence[str]) -> str:
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return f"\n  {label}: " + ", ".join(keys[:SHOWN_KEYS]) + more


def model(model_dir: Path, model_class: str, checkpoint: Path, trust: bool = False
          ) -> Finding:
    """Does the checkpoint load into the class, as the engine will load it? (Imports torch
    and runs the model code: call from a worker.) The detail is the engine's own message;
    the brief lists the missing, unexpected and misshapen keys line by line."""
    from wizard.model_check import check_model

    if not model_dir.is_dir():  # the engine's words would say "pass --model-dir"
        return Finding(CHECKPOINT, Status.ERROR, f"model folder {model_dir} does not exist: "
                       "check the model_dir setting", area=Area.MODEL)
    result = check_model(model_dir, model_class, checkpoint, trust)
    if result.ok:
        return Finding(CHECKPOINT, Status.OK, result.message, area=Area.MODEL)
    brief = result.shown()  # a wrapper example as a code block, where there is one
    if result.missing:
        brief += _keys("missing", result.missing)
    if result.unexpected:
        brief += _keys("unexpected", result.unexpected)
    if result.shapes:
        brief += _keys("other shape", result.shapes)
    # Picking another class is the fix for keys that differ, not for a class that cannot
    # be built (its message already shows the wrapper that can).
    keys_differ = bool(result.missing or result.unexpected or result.shapes)
    return Finding(CHECKPOINT, Status.ERROR, result.detail or result.message,
                   CHECKPOINT_FIX if keys_differ else "", Area.MODEL, brief=brief)


def model_folder(answers: Answers, root: Path) -> Finding:
    """What of the model folder goes into the image, with sizes."""
    from wizard import model_folder as folder
    from wizard.errors import RenderError

    try:
        entries = folder.resolve(answers.model_path(root), answers.checkpoint,
                                 answers.model_include, answers.model_exclude)
    except (RenderError, OSError) as error:
        return Finding(MODEL_FOLDER, Status.ERROR, str(error), area=Area.MODEL)
    link = folder.link_problem(root, answers.model_dir, answers.checkpoint)
    if link is not None:  # `check` said ready, and `render` refused it
        return Finding(MODEL_FOLDER, Status.ERROR, link, area=Area.MODEL)
    return Finding(MODEL_FOLDER, Status.OK, "\n".join(folder.summary_lines(entries)),
                   area=Area.MODEL)


def checkpoint(path: Path, trust: bool) -> tuple[str | None, list[Finding]]:
    """(the torch the checkpoint is taken to come from, warnings about the file): one that
    would run foreign code when unpickled, or a whole pickled model without `trust`.
    (Imports torch for the local version: call from a worker.)"""
    from wizard.checkpoint_info import inspect, local_torch_version

    if not path.is_file():
        return None, []
    try:
        info = inspect(path, with_sha256=False)
    except WizardError:  # unreadable: model() says why
        return None, []
    saved_by = info.torch_for_check(local_torch_version())
    foreign = info.foreign_globals
    if foreign:
        text = (f"{path.name} would call or build {', '.join(foreign[:4])} when loaded, which "
                "is not a torch model class: a file like this runs code on your machine; the "
                "engine refuses it, and trust_checkpoint = true would run that code too: use a "
                "state_dict from a source you trust")
    elif info.needs_trust and not trust:
        text = (f"{path.name} is a whole pickled model: the engine refuses it unless "
                "trust_checkpoint = true (loading it runs code from the file); better, "
                "re-save model.state_dict()")
    else:
        return saved_by, []
    return saved_by, [Finding(CHECKPOINT, Status.WARNING, text, area=Area.MODEL)]


def base_image(ref: str, checkpoint_torch: str | None) -> list[Finding]:
    """The base image against the torch the checkpoint needs (None: unknown): too old for
    the engine or for the checkpoint, or not in the table (see wizard.base_images.check)."""
    from wizard import base_images

    warnings = base_images.check(ref, checkpoint_torch)
    if warnings:
        return [Finding(BASE_VS_TORCH, Status.WARNING, str(w)) for w in warnings]
    image = base_images.find(ref)  # in the table: check() warns about any other image
    suits = f"; suits a checkpoint from torch {checkpoint_torch}" if checkpoint_torch else ""
    return [Finding(BASE_VS_TORCH, Status.OK, f"{image.describe() if image else ref}{suits}")]


def gpu(ref: str, target_gpu: str | None) -> list[Finding]:
    """Can the base image drive the evaluation GPU? A refusal blocks: see wizard.gpu_compat."""
    from wizard import base_images, gpu_compat

    verdicts = gpu_compat.check(ref, target_gpu)
    if verdicts:
        return [Finding(BASE_VS_GPU, Status.ERROR if v.blocking else Status.WARNING, v.message)
                for v in verdicts]
    image = base_images.find(ref)
    if image is None or target_gpu == "none" or not image.archs:
        return []  # unknown image: base_image() warns; CPU runner: nothing to check
    target = target_gpu or ", ".join(gpu_compat.CURRENT_DATA_CENTRE)
    return [Finding(BASE_VS_GPU, Status.OK, f"{ref} has compiled code for {target}")]


def smoke_images(answers: Answers, root: Path) -> list[Finding]:
    """The smoke_images folder, when one is set, is a folder: found by `check`, not by the
    smoke stage after the model was loaded."""
    folder = answers.smoke_images_path(root)
    if folder is None or folder.is_dir():
        return []
    what = "is not a folder" if folder.exists() else "does not exist"
    return [Finding(SMOKE_IMAGES, Status.ERROR,
                    f"smoke images folder {answers.smoke_images} {what}: fix the smoke_images "
                    "setting, or leave it out to use generated images", area=Area.MODEL)]


def offline(model_dir: Path) -> list[Finding]:
    """Model code that would need the network, which the challenge does not give. A
    warning, not an error: the scan reads source, and an import is not a download."""
    from wizard import offline as scan

    if not model_dir.is_dir():
        return []  # no code to scan: the model folder's own row says it is not there
    found = scan.scan(model_dir)
    if not found:
        return [Finding(OFFLINE, Status.OK, "no downloads found in the model code",
                        area=Area.MODEL)]
    return [Finding(OFFLINE, Status.WARNING, f"{_within(f.path, model_dir)}:{f.line}: {f.what}",
                    f.fix, Area.MODEL) for f in found]


def _within(path: Path, folder: Path) -> str:
    """A path as relative to `folder` as it can be (a sub-package's file keeps its folder)."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name
