"""Can the base image drive the evaluation GPU? Answered before any build.

A torch build carries compiled code (SASS, "sm_XY") for some GPU architectures and maybe PTX
("compute_XY"). Compiled code for X.Y runs on X.Z with Z >= Y; PTX can be JIT-compiled by the
driver for any newer GPU (slow at start-up, and not every kernel). So, for a GPU of compute
capability X.Z, an image either *runs* it (matching SASS), *may JIT* for it (only PTX), or
*cannot* drive it at all: torch then fails with "no kernel image is available" on the first
batch, hours into a submission. The arch lists per image live in data/base_images.toml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wizard.base_images import BaseImage, find, load_table
from wizard.errors import WizardError

GPUS: dict[str, tuple[int, int]] = {
    "V100": (7, 0),
    "T4": (7, 5),
    "A100": (8, 0),
    "A10G": (8, 6),
    "L4": (8, 9),
    "H100": (9, 0),
    "H200": (9, 0),
    "B200": (10, 0),
}
"""Evaluation GPUs the answers may name, with their compute capability."""

TARGET_GPUS: tuple[str, ...] = (*GPUS, "none")
"""Values of the target_gpu answer ("none": the runner has no GPU)."""

CURRENT_DATA_CENTRE = ("A100", "H100")
"""Without a target_gpu, an image that cannot drive these is warned about. Not B200: every
image before torch 2.7 would be warned about, so a B200 runner is named with target_gpu."""

Support = Literal["runs", "jit", "cannot"]


def arch_name(capability: tuple[int, int]) -> str:
    return f"sm_{capability[0]}{capability[1]}"


def _parse(arch: str) -> tuple[str, tuple[int, int]]:
    kind, _, digits = arch.partition("_")
    return kind, (int(digits[:-1]), int(digits[-1]))


def support(image: BaseImage, gpu: str) -> Support:
    """How `image`'s torch build serves `gpu` (a key of GPUS)."""
    major, minor = GPUS[gpu]
    jit = False
    for arch in image.archs:
        kind, (a_major, a_minor) = _parse(arch)
        if kind == "sm" and a_major == major and a_minor <= minor:
            return "runs"
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            jit = True
    return "jit" if jit else "cannot"


def oldest_that_runs(gpu: str) -> BaseImage | None:
    """The oldest table image (by torch, then CUDA) with compiled code for `gpu`."""
    for image in load_table():
        if image.engine_supported and image.archs and support(image, gpu) == "runs":
            return image
    return None


class GpuIncompatibleError(WizardError):
    """The base image cannot drive the declared evaluation GPU."""


@dataclass(frozen=True)
class GpuVerdict:
    """What `check` says about an image and the GPU. `code` is gpu-cannot (`blocking`: the
    build is refused), gpu-jit or gpu-unknown (warnings)."""

    code: str
    message: str
    blocking: bool = False

    def __str__(self) -> str:
        return self.message


def _cannot(image: BaseImage, gpu: str) -> str:
    arch = arch_name(GPUS[gpu])
    oldest = oldest_that_runs(gpu)
    instead = (f": pick {oldest.ref} ({oldest.describe()}) or newer" if oldest is not None
               else ": no image in the table can")
    return (f"{image.ref} cannot drive the target GPU {gpu} ({arch}): its torch {image.torch} "
            f"with CUDA {image.cuda} carries code for {' '.join(image.archs)} only, so every "
            f"batch would fail with 'no kernel image is available'{instead}")


def check(base_image_ref: str, target_gpu: str | None) -> list[GpuVerdict]:
    """Verdicts on `base_image_ref` for `target_gpu` (None: unknown, "none": a CPU runner).

    An image not in the table, or without CUDA, gives nothing to say here (base_images.check
    already warns about an unknown image)."""
    image = find(base_image_ref)
    if image is None or target_gpu == "none" or not image.archs:
        return []
    if target_gpu is None:
        unable = [gpu for gpu in CURRENT_DATA_CENTRE if support(image, gpu) == "cannot"]
        if not unable:
            return []
        names = ", ".join(f"{gpu} ({arch_name(GPUS[gpu])})" for gpu in unable)
        oldest = oldest_that_runs(unable[0])
        hint = f"; {oldest.ref} is the oldest that can drive {unable[0]}" if oldest else ""
        return [GpuVerdict(
            "gpu-unknown",
            f"{image.ref} (torch {image.torch}, CUDA {image.cuda}) cannot drive {names}; set "
            f"target_gpu to the evaluation GPU so the wizard can check it{hint}")]
    how = support(image, target_gpu)
    if how == "cannot":
        return [GpuVerdict("gpu-cannot", _cannot(image, target_gpu), blocking=True)]
    if how == "jit":
        arch = arch_name(GPUS[target_gpu])
        ptx = " ".join(a for a in image.archs if a.startswith("compute_"))
        return [GpuVerdict(
            "gpu-jit",
            f"{image.ref} carries no compiled code for {target_gpu} ({arch}), only PTX "
            f"({ptx}) that the driver must JIT-compile at start-up: slow, and some kernels may "
            f"fail; {_oldest_hint(target_gpu)}")]
    return []


def _oldest_hint(gpu: str) -> str:
    oldest = oldest_that_runs(gpu)
    return (f"{oldest.ref} or newer has compiled code for it" if oldest is not None
            else "no image in the table has compiled code for it")
