"""Which base image fits a checkpoint.

A table of official pytorch/pytorch runtime images (wizard/data/base_images.toml) lets the
wizard suggest an image whose torch matches the one that saved the checkpoint, and warn about
a chosen image before a long build: too old for the engine, older than the checkpoint, or
not in the table at all. Any image reference is accepted; the table only informs.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

ENGINE_MIN_PYTHON = (3, 8)
ENGINE_MIN_TORCH = (1, 8)
# CUDA 13 needs an R580 or newer NVIDIA driver. Suggest CUDA 12.x (or older) images so the
# suggestion also runs on the drivers most workstations and challenge machines have; with
# CUDA 12's minor-version compatibility any 12.x runtime works on an R525+ driver.
PREFERRED_CUDA_MAJOR_MAX = 12

_DOCKER_HUB_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")
_VERSION = re.compile(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a torch version string such as "2.3.1+cu121" or "1.4"."""
    match = _VERSION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a torch version such as 2.3.1")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _cuda_version(text: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")) if text else ()


@dataclass(frozen=True)
class BaseImage:
    """One image of the table. `python_env` is "conda" (pip installs freely) or "system"
    (a distribution Python that refuses pip installs under PEP 668 unless told otherwise);
    `python_checked` is False where the Python version is inferred rather than on record."""

    ref: str
    torch: str
    cuda: str | None
    cudnn: str | None
    python: str
    python_env: str
    python_checked: bool
    archs: tuple[str, ...] = ()
    """GPU code its torch build carries (torch.cuda.get_arch_list()); see wizard/gpu_compat."""

    @property
    def torch_version(self) -> tuple[int, int, int]:
        return parse_version(self.torch)

    @property
    def python_version(self) -> tuple[int, int]:
        major, minor, _ = parse_version(self.python)
        return major, minor

    @property
    def engine_supported(self) -> bool:
        """Whether the engine runs in this image (Python 3.8+, torch 1.8+)."""
        return (self.python_version >= ENGINE_MIN_PYTHON
                and self.torch_version[:2] >= ENGINE_MIN_TORCH)

    def describe(self) -> str:
        """E.g. "torch 2.3.1, CUDA 12.1, cuDNN 8, Python 3.10"."""
        parts = [f"torch {self.torch}"]
        if self.cuda:
            parts.append(f"CUDA {self.cuda}")
        if self.cudnn:
            parts.append(f"cuDNN {self.cudnn}")
        unsure = "" if self.python_checked else " (not on record)"
        parts.append(f"Python {self.python}{unsure}")
        return ", ".join(parts)


@dataclass(frozen=True)
class BaseImageWarning:
    """Something to tell the user about a base image before building. `code` is one of
    unknown-image, python-too-old, torch-too-old, checkpoint-newer."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


@functools.cache
def _data() -> dict:
    text = resources.files("wizard").joinpath("data/base_images.toml").read_text("utf-8")
    return tomllib.loads(text)


@functools.cache
def load_table() -> tuple[BaseImage, ...]:
    """Every image of the table, ordered by torch version, then CUDA version."""
    images = [
        BaseImage(
            ref=entry["ref"],
            torch=entry["torch"],
            cuda=entry.get("cuda"),
            cudnn=entry.get("cudnn"),
            python=entry["python"],
            python_env=entry["python_env"],
            python_checked=bool(entry.get("python_checked", False)),
            archs=tuple(entry.get("archs", ())),
        )
        for entry in _data()["image"]
    ]
    return tuple(sorted(images, key=lambda image: (image.torch_version,
                                                   _cuda_version(image.cuda))))


def cpu_note() -> str:
    """What to pick without an NVIDIA GPU: the same image; it runs on the CPU when no GPU
    is visible, so what is tested is exactly what the challenge runs."""
    return str(_data()["cpu"]["note"])


def _normalise(ref: str) -> str:
    text = ref.strip().split("@", 1)[0]
    for prefix in _DOCKER_HUB_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return text.removeprefix("library/")


def find(ref: str) -> BaseImage | None:
    """The table's entry for an image reference (a docker.io/ prefix or a digest is
    ignored), or None for an image the table does not know."""
    wanted = _normalise(ref)
    for image in load_table():
        if image.ref == wanted:
            return image
    return None


def _preference(image: BaseImage) -> tuple[bool, tuple[int, ...]]:
    cuda = _cuda_version(image.cuda)
    return (bool(cuda) and cuda[0] <= PREFERRED_CUDA_MAJOR_MAX, cuda)


def suggest(torch_version: str) -> BaseImage:
    """The image to build on for a checkpoint saved by `torch_version`: among the images the
    engine supports, the newest with the same major.minor, else the nearest newer one (a
    checkpoint loads in a newer torch, not always in an older one), else the newest. Among
    CUDA variants of one torch, the newest CUDA 12.x or older (see PREFERRED_CUDA_MAJOR_MAX).
    Raises ValueError for a string that is not a version."""
    wanted = parse_version(torch_version)[:2]
    supported = [image for image in load_table() if image.engine_supported]
    same = [image for image in supported if image.torch_version[:2] == wanted]
    if same:
        pool = same
    else:
        newer = [image for image in supported if image.torch_version[:2] > wanted]
        if newer:
            nearest = min(image.torch_version[:2] for image in newer)
        else:
            nearest = max(image.torch_version[:2] for image in supported)
        pool = [image for image in supported if image.torch_version[:2] == nearest]
    newest = max(image.torch_version for image in pool)
    pool = [image for image in pool if image.torch_version == newest]
    return max(pool, key=_preference)


def check(base_image_ref: str, checkpoint_torch: str | None = None) -> list[BaseImageWarning]:
    """Warnings for building on `base_image_ref`, for a checkpoint saved by
    `checkpoint_torch` (None when unknown; callers may pass the local torch instead).
    An empty list means nothing to warn about."""
    image = find(base_image_ref)
    if image is None:
        return [BaseImageWarning(
            "unknown-image",
            f"{base_image_ref} is not in the wizard's table of pytorch/pytorch images, so its "
            "Python and torch could not be checked: the engine needs Python 3.8+ with torch "
            "1.8+ and torchvision, and the smoke run will show whether the image has them",
        )]
    warnings: list[BaseImageWarning] = []
    if not image.engine_supported:
        replacement = suggest(image.torch).ref
        if image.python_version < ENGINE_MIN_PYTHON:
            warnings.append(BaseImageWarning(
                "python-too-old",
                f"{image.ref} has Python {image.python}, older than the 3.8 the engine needs: "
                f"pick {replacement} instead",
            ))
        if image.torch_version[:2] < ENGINE_MIN_TORCH:
            warnings.append(BaseImageWarning(
                "torch-too-old",
                f"{image.ref} has torch {image.torch}, older than the 1.8 the engine needs: "
                f"pick {replacement} instead",
            ))
    if checkpoint_torch:
        try:
            saved = parse_version(checkpoint_torch)
        except ValueError:
            saved = None
        if saved is not None and saved[:2] > image.torch_version[:2]:
            warnings.append(BaseImageWarning(
                "checkpoint-newer",
                f"the checkpoint was saved by torch {checkpoint_torch}, newer than the "
                f"image's torch {image.torch}, which may fail to load it: pick "
                f"{suggest(checkpoint_torch).ref} instead",
            ))
    return warnings
