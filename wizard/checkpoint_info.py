"""What a checkpoint file tells without the model and without unpickling anything.

The wizard uses this before a build: the format (to explain what the engine will do with
it), size and sha256 (for the image's labels), the torch version that saved it where the file
records one (to suggest a base image), and the classes a pickle would import (a whole pickled
model needs `trust_checkpoint`). Pickles are only disassembled with pickletools, never run.
"""

from __future__ import annotations

import enum
import hashlib
import pickletools
import re
import sys
import zipfile
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import IO

from engine import checkpoint_format
from engine.pickled import outside_plain, scan_globals
from wizard.errors import CheckpointError

# Pickles larger than this are not disassembled (the scan is informative only).
_PICKLE_SCAN_MAX = 64 * 1024 * 1024
_VERSION_TEXT = re.compile(r"\d+\.\d+(\.\d+)?([a-z0-9.+-]*)?", re.ASCII)

# Records that only newer torch writes into its zip archives, newest first: (record, torch
# version that introduced it). byteorder is documented as added in 2.1.0; serialization_id
# came with pytorch/pytorch#100994 (May 2023, after 2.0); .format_version with #143880
# (Dec 2024, so 2.6 at the earliest); .storage_alignment with #147788 (Feb 2025, so 2.7).
# Each only proves "this version or newer".
_ZIP_RECORDS = (
    (".storage_alignment", "2.7"),
    (".format_version", "2.6"),
    ("byteorder", "2.1"),
    (".data/serialization_id", "2.1"),
)

LEGACY_TORCH = "1.5.1"
"""The last torch release whose torch.save wrote the legacy (pre-zip) format by default."""


class CheckpointFormat(enum.Enum):
    TORCH_ZIP = "torch.save zip (torch 1.6+ default)"
    TORCH_LEGACY = "torch.save legacy pickle (before torch 1.6)"
    TORCHSCRIPT = "TorchScript archive"
    SAFETENSORS = "safetensors"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CheckpointInfo:
    """What inspect() learned. `torch_version` is the exact version that saved the file where
    it is recorded; `torch_version_min` a lower bound from records only newer torch writes,
    with `evidence` saying which. `pickled_classes` lists the classes (module.name) a pickle
    would import beyond tensors and plain containers: empty for a state_dict, a model's
    classes for a whole pickled model, None where the file has no pickle or it was not
    scanned."""

    path: Path
    format: CheckpointFormat
    size: int
    sha256: str | None
    torch_version: str | None = None
    torch_version_min: str | None = None
    evidence: str | None = None
    pickled_classes: tuple[str, ...] | None = None
    detail: str = ""

    @property
    def needs_trust(self) -> bool:
        """Whether loading needs trust_checkpoint (a pickle that names other classes)."""
        return bool(self.pickled_classes)

    @property
    def foreign_globals(self) -> tuple[str, ...]:
        """Pickled globals from the standard library (posix.system, builtins.exec): code the
        file would run when loaded, never a model class, so trusting it is never the advice."""
        return tuple(name for name in self.pickled_classes or ()
                     if name.partition(".")[0] in sys.stdlib_module_names)

    def torch_for_check(self, local_torch: str | None) -> str | None:
        """The torch version to compare base images against: the recorded one, else the local
        torch (the likeliest to have saved it) unless the file proves a newer one."""
        if self.torch_version:
            return self.torch_version
        if self.format is CheckpointFormat.TORCH_LEGACY and self.torch_version_min is None:
            # torch.save wrote this format by default before 1.6; every later torch reads it.
            return LEGACY_TORCH
        if self.torch_version_min is None:
            return local_torch
        if local_torch is None:
            return self.torch_version_min
        from wizard.base_images import parse_version

        try:
            local = parse_version(local_torch)
        except ValueError:
            return self.torch_version_min
        return local_torch if local >= parse_version(self.torch_version_min) \
            else self.torch_version_min


def sha256_file(path: str | PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks (checkpoints can be many GB)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def local_torch_version() -> str | None:
    """The torch version installed next to the wizard, or None. Imports torch (slow), so
    only call it when needed."""
    from wizard.local_torch import torch_version

    return torch_version()


def _pickled_classes(stream: IO[bytes], size: int) -> tuple[str, ...] | None:
    if size > _PICKLE_SCAN_MAX:
        return None
    try:
        return outside_plain(scan_globals(stream))
    except Exception:  # a damaged pickle: the scan is only informative
        return None


def _inspect_zip(path: Path) -> dict:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        return {"format": CheckpointFormat.UNKNOWN, "detail": f"a damaged zip archive ({error})"}
    with archive:
        prefix, records = checkpoint_format.zip_records(archive.namelist())
        kind_name = checkpoint_format.zip_kind(records)
        if kind_name == checkpoint_format.TORCHSCRIPT:
            kind = CheckpointFormat.TORCHSCRIPT
            detail = "a TorchScript archive (torch.jit.save)"
        elif kind_name == checkpoint_format.ZIP:
            kind = CheckpointFormat.TORCH_ZIP
            detail = "a torch.save zip archive"
        else:
            return {"format": CheckpointFormat.UNKNOWN,
                    "detail": "a zip archive, but not one torch wrote (no data.pkl)"}
        result: dict = {"format": kind, "detail": detail}
        for record, version in _ZIP_RECORDS:
            if record in records:
                result["torch_version_min"] = version
                result["evidence"] = (f"it has a {record} record, which torch {version} and "
                                      "newer write")
                break
        if kind is CheckpointFormat.TORCH_ZIP:
            member = archive.getinfo(prefix + "data.pkl")
            with archive.open(member) as stream:
                result["pickled_classes"] = _pickled_classes(stream, member.file_size)
        return result


def _inspect_legacy(path: Path) -> dict:
    result: dict = {"format": CheckpointFormat.TORCH_LEGACY,
                    "detail": "a torch.save file in the legacy (pre-1.6) pickle format"}
    try:
        with open(path, "rb") as stream:
            # magic number, protocol version and system info come first, then the object.
            for _ in range(3):
                for opcode, _arg, _pos in pickletools.genops(stream):
                    if opcode.name == "STOP":
                        break
            result["pickled_classes"] = outside_plain(scan_globals(stream))
    except Exception:  # a damaged header: still the legacy format, just not scanned
        result["pickled_classes"] = None
    return result


def _safetensors_torch_version(header: dict) -> str | None:
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict):
        return None
    for key, value in metadata.items():
        normal = key.lower().replace("-", "_")
        if normal in ("torch_version", "pytorch_version", "torch") and isinstance(value, str):
            text = value.strip()
            if _VERSION_TEXT.fullmatch(text):
                return text
    return None


def inspect(path: str | PathLike[str], *, with_sha256: bool = True) -> CheckpointInfo:
    """Read what the file tells about itself. Raises CheckpointError when it cannot be read;
    a file of another kind is reported as CheckpointFormat.UNKNOWN, not an error."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise CheckpointError(f"checkpoint {file} is a folder: give the checkpoint file "
                                  "inside it")
        with open(file, "rb") as stream:
            head = stream.read(checkpoint_format.HEAD_SIZE)
    except FileNotFoundError as error:
        raise CheckpointError(f"checkpoint {file} does not exist: check the checkpoint "
                              "setting (it is relative to the model folder)") from error
    except OSError as error:
        raise CheckpointError(f"checkpoint {file} cannot be read: {error.strerror}") from error

    if head.startswith(checkpoint_format.ZIP_MAGICS):
        found = _inspect_zip(file)
    elif checkpoint_format.is_legacy(head):
        found = _inspect_legacy(file)
    elif (header := checkpoint_format.safetensors_header(file, size)) is not None:
        found = {"format": CheckpointFormat.SAFETENSORS, "detail": "a safetensors file",
                 "torch_version": _safetensors_torch_version(header), "pickled_classes": ()}
        if found["torch_version"]:
            found["evidence"] = "its metadata records the torch version"
    elif head.startswith(b"\x80"):
        found = {"format": CheckpointFormat.UNKNOWN,
                 "detail": "a Python pickle, but not one written by torch.save"}
    else:
        found = {"format": CheckpointFormat.UNKNOWN,
                 "detail": "not a format the engine reads (torch.save, TorchScript or "
                 "safetensors)"}
    try:
        digest = sha256_file(file) if with_sha256 else None
    except OSError as error:
        raise CheckpointError(f"checkpoint {file} cannot be read: {error.strerror}") from error
    return CheckpointInfo(path=file, size=size, sha256=digest, **found)


def describe(info: CheckpointInfo) -> str:
    """One line for the user, e.g. "resnet50.pth: a torch.save zip archive, 97.8 MB, saved by
    torch 2.1 or newer"."""
    parts = [f"{info.path.name}: {info.detail}", _human_size(info.size)]
    if info.torch_version:
        parts.append(f"saved by torch {info.torch_version}")
    elif info.torch_version_min:
        parts.append(f"saved by torch {info.torch_version_min} or newer")
    if info.foreign_globals:
        parts.append(f"would run {', '.join(info.foreign_globals[:3])} when loaded (not a "
                     "model class: do not trust it)")
    elif info.pickled_classes:
        shown = ", ".join(info.pickled_classes[:3])
        more = f" and {len(info.pickled_classes) - 3} more" if len(info.pickled_classes) > 3 \
            else ""
        parts.append(f"pickles {shown}{more} (needs trust_checkpoint)")
    return ", ".join(parts)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def checkpoint_torch(path: Path | None) -> tuple[str | None, str]:
    """The torch version a base image should match for the checkpoint at `path`, and how it is
    known (None: not yet chosen; the torch installed here stands in). Imports torch: call it
    from a worker."""
    local = local_torch_version()
    if path is None or not path.is_file():
        return local, "no checkpoint yet: assumed to match the torch installed here"
    info = inspect(path, with_sha256=False)
    version = info.torch_for_check(local)
    if info.torch_version:
        return version, f"{path.name} records torch {info.torch_version}"
    if version == LEGACY_TORCH:
        return version, (f"{path.name} is in the legacy format: saved by torch < 1.6, which "
                         "every newer torch reads")
    if version == local:
        why = f" ({info.evidence})" if info.evidence else ""
        return version, (f"{path.name} was likely saved by the torch installed here{why}")
    return version, f"{path.name} needs torch {version} or newer: {info.evidence}"


__all__ = [
    "CheckpointFormat",
    "CheckpointInfo",
    "checkpoint_torch",
    "describe",
    "inspect",
    "local_torch_version",
    "sha256_file",
]
