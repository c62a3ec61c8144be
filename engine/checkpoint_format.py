"""What kind of checkpoint a file is, from its first bytes and (for zip archives) its record
names: the one set of rules that the engine's loader and the wizard's checkpoint inspection both
use. Standard library only, Python 3.8+, and no torch: it runs before torch is imported."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Iterable, Optional, Set, Tuple

SAFETENSORS = "safetensors"
TORCHSCRIPT = "torchscript"
ZIP = "zip"
"""torch.save's zip archive (the default since torch 1.6)."""
LEGACY = "legacy"
"""torch.save's legacy pickle (before torch 1.6)."""
UNKNOWN = "unknown"

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
"""torch.save's legacy format starts with this number, pickled."""
HEAD_SIZE = 32
SAFETENSORS_HEADER_MAX = 100 * 1024 * 1024
"""A safetensors header is JSON; anything bigger than this is not one."""


def zip_records(names: Iterable[str]) -> Tuple[str, Set[str]]:
    """The archive's top folder ("archive/" or "name/", as torch writes it) and its record
    names relative to that folder."""
    names = list(names)
    prefix = names[0].split("/", 1)[0] + "/" if names and "/" in names[0] else ""
    return prefix, {name[len(prefix):] for name in names if name.startswith(prefix)}


def zip_kind(records: Set[str]) -> str:
    """TORCHSCRIPT (torch.jit.save: constants and code), ZIP (torch.save: data.pkl) or
    UNKNOWN (a zip archive torch did not write)."""
    if "constants.pkl" in records or any(name.startswith("code/") for name in records):
        return TORCHSCRIPT
    if "data.pkl" in records:
        return ZIP
    return UNKNOWN


def is_legacy(head: bytes) -> bool:
    return head.startswith(b"\x80") and LEGACY_MAGIC in head


def safetensors_header(path: "os.PathLike[str] | str", size: int) -> Optional[dict]:
    """The parsed JSON header when the file is safetensors (an 8-byte little-endian length,
    then a JSON object), else None."""
    with open(str(path), "rb") as stream:
        head = stream.read(8)
        if len(head) < 8:
            return None
        length = int.from_bytes(head, "little")
        if not 2 <= length <= min(size - 8, SAFETENSORS_HEADER_MAX):
            return None
        header = stream.read(length)
    if header[:1] != b"{":
        return None
    try:
        parsed = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def sniff(path: "os.PathLike[str] | str") -> str:
    """SAFETENSORS, TORCHSCRIPT, ZIP, LEGACY or UNKNOWN. Raises OSError when the file cannot
    be read; a damaged zip archive is UNKNOWN."""
    with open(str(path), "rb") as stream:
        head = stream.read(HEAD_SIZE)
    if head.startswith(ZIP_MAGICS):
        try:
            with zipfile.ZipFile(str(path)) as archive:
                return zip_kind(zip_records(archive.namelist())[1])
        except zipfile.BadZipFile:
            return UNKNOWN
    if is_legacy(head):
        return LEGACY
    if safetensors_header(path, os.stat(str(path)).st_size) is not None:
        return SAFETENSORS
    return UNKNOWN
