"""Giving back the pages of a memory-mapped checkpoint that a copied weight no longer uses.

A checkpoint read with mmap (torch.load(mmap=True) on torch 2.1+, safetensors) is one private
mapping of the file, and every weight is a view into it. A weight that is then copied (to
channels_last for the CPU's convolutions, to fp32 from a half-precision file, to 64-byte
alignment) leaves its old pages resident for as long as any other weight keeps the mapping
alive: the checkpoint a second time, next to the copies, in the peak RSS. Those pages are
clean copies of the file, so dropping them from this process (madvise MADV_DONTNEED) loses
nothing: the page cache keeps them, and a read would fault them in again from the file. A
page something wrote to (copy-on-write made it private) is never dropped. Linux only
(/proc/self/maps and /proc/self/pagemap); elsewhere the pages stay, clean and reclaimable.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

import torch
import torch.nn as nn

PAGE = mmap.PAGESIZE
# Python 3.8 defines the advice constants where the system has them.
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
# /proc/self/pagemap, one 64-bit entry per page: present, swapped, file page (or shared).
_PRESENT, _SWAPPED, _FILE_PAGE = 1 << 63, 1 << 62, 1 << 61
_PRIVATE = b"\x01"
_PRIVATE_TABLE = bytes(
    1 if flags & (_SWAPPED >> 56) or (flags & (_PRESENT >> 56) and not flags & (_FILE_PAGE >> 56))
    else 0 for flags in range(256))
"""For an entry's last byte: 1 where the page is private to this process (swapped, or present
and not the file's own page)."""


def _madvise() -> Optional[Callable[..., int]]:
    if _MADV_DONTNEED is None:
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def _mapped_ranges(path: Path) -> List[Tuple[int, int]]:
    """Address ranges where `path` is mapped in this process (by path, or by device and
    inode, which overlay file systems report differently in the two places)."""
    try:
        info = os.stat(str(path))
        real = os.path.realpath(str(path))
        with open("/proc/self/maps") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return []
    device = "%02x:%02x" % (os.major(info.st_dev), os.minor(info.st_dev))
    ranges = []
    for line in lines:
        fields = line.split(None, 5)
        if len(fields) < 6:
            continue
        same_file = fields[5] == real or (fields[4] == str(info.st_ino) and fields[3] == device)
        if same_file:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def resident(path: Path) -> int:
    """Bytes of this process's mappings of `path` that are resident (/proc/self/smaps; 0
    where it cannot be read)."""
    real, total, inside = os.path.realpath(str(path)), 0, False
    try:
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                fields = line.split()
                if fields and "-" in fields[0] and not fields[0].endswith(":"):
                    inside = len(fields) >= 6 and fields[5] == real
                elif inside and fields[0] == "Rss:":
                    total += int(fields[1]) * 1024
    except OSError:
        return 0
    return total


def _extent(tensor: torch.Tensor) -> Tuple[int, int]:
    """The first and one-past-last byte address `tensor`'s elements occupy."""
    if tensor.numel() == 0:
        return 0, 0
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    start = tensor.data_ptr()
    return start, start + (last + 1) * tensor.element_size()


class MappedFile:
    """Where one file is mapped in this process, and the pages of it given back so far."""

    def __init__(self, path: Path) -> None:
        self.ranges = _mapped_ranges(path)
        self.released = 0
        """Bytes given back."""
        self._madvise = _madvise() if self.ranges else None

    def release(self, tensor: torch.Tensor) -> None:
        """Drop from this process the whole pages of `tensor`'s bytes that lie in the file's
        mapping, when every one of them is clean (still the file's own)."""
        if self._madvise is None or tensor.device.type != "cpu":
            return
        start, end = _extent(tensor)
        for low, high in self.ranges:
            first = -(-max(start, low) // PAGE) * PAGE
            last = min(end, high) // PAGE * PAGE
            if (first < last and _clean(first, last)
                    and self._madvise(first, last - first, _MADV_DONTNEED) == 0):
                self.released += last - first


def _clean(first: int, last: int) -> bool:
    """True when no page in [first, last) is private to this process (written, or swapped):
    the others are the file's own pages, or not loaded at all."""
    pages = (last - first) // PAGE
    try:
        with open("/proc/self/pagemap", "rb") as pagemap:
            raw = os.pread(pagemap.fileno(), 8 * pages, first // PAGE * 8)
    except OSError:
        return False
    if len(raw) != 8 * pages:
        return False
    # The three flags are in each little-endian entry's last byte: look at those bytes alone,
    # mapped through a table, in C (a big model has hundreds of thousands of pages).
    return _PRIVATE not in raw[7::8].translate(_PRIVATE_TABLE)


def to_channels_last(model: nn.Module, checkpoint: Path) -> Any:
    """`model.to(memory_format=torch.channels_last)`, giving back each copied weight's pages
    of the mapped checkpoint as it goes, so the checkpoint is never resident a second time
    next to the copies. Same conversion, same values and strides as Module.to."""
    mapped = MappedFile(checkpoint)

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dim() not in (4, 5):
            return tensor
        converted = tensor.to(memory_format=torch.channels_last)
        if converted.data_ptr() != tensor.data_ptr():
            mapped.release(tensor)
        return converted

    return model._apply(convert)
