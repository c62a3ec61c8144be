"""predictions.csv: the row format the challenge scorer reads, written so that a run killed at
any moment leaves either no file or a complete one."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from pathlib import Path
from typing import IO, Optional, Sequence

from engine.errors import OutputError

TOP_K = 5
# An unreadable image still gets a row, so every image found has exactly one; -1 = no class,
# which the scorer accepts and counts as wrong, the same as a missing row.
UNREADABLE_IDS = [-1] * TOP_K
UNREADABLE_CONFIDENCES = [0.0] * TOP_K


class _LastLine:
    """A file-like target that keeps the one line csv.writer last wrote."""

    text = ""

    def write(self, text: str) -> None:
        self.text = text


_LINE = _LastLine()
# The csv module, as the demo wrote and the scorer reads (csv.reader, row[0]): a name with a
# comma or a quote is quoted and reads back whole. Lines end in "\n" (csv.reader takes both).
_CSV = csv.writer(_LINE, lineterminator="\n")


def format_row(name: str, ids: Sequence[int], confidences: Sequence[float]) -> str:
    """`name,id1,conf1,...,id5,conf5` - pairs interleaved, highest confidence first."""
    fields = [name]
    for class_id, confidence in zip(ids, confidences):
        fields.append(str(int(class_id)))
        fields.append(repr(float(confidence)))
    _CSV.writerow(fields)
    return _LINE.text


class AtomicWriter:
    """Writes the target's content aside and puts it in place whole on `commit()`.

    On Linux the content goes to an unnamed file (O_TMPFILE) that is linked in only when
    complete, so even SIGKILL leaves nothing behind; elsewhere it is a hidden temporary file
    beside the target, renamed into place.
    """

    def __init__(self, target: Path, suffix: str = ".part") -> None:
        self.target = target
        self.path: Optional[Path] = None
        try:
            handle = self._unnamed(target.parent)
            if handle is None:
                handle, name = tempfile.mkstemp(
                    prefix="." + target.name + ".", suffix=suffix, dir=str(target.parent)
                )
                self.path = Path(name)
        except OSError as error:
            raise OutputError("cannot write in %s: %s" % (target.parent, error.strerror)) from None
        self.file: Optional[IO[str]] = os.fdopen(handle, "w", encoding="utf-8", newline="")

    @staticmethod
    def _unnamed(folder: Path) -> Optional[int]:
        flag = getattr(os, "O_TMPFILE", None)
        if flag is None or not os.path.isdir("/proc/self/fd"):
            return None
        try:
            return os.open(str(folder), flag | os.O_WRONLY, 0o644)
        except OSError:
            return None  # the filesystem has no O_TMPFILE: fall back to a named file

    def write(self, text: str) -> None:
        assert self.file is not None
        self.file.write(text)

    def commit(self) -> None:
        assert self.file is not None
        self.file.flush()
        os.fsync(self.file.fileno())
        if self.path is None:
            # Give the unnamed file a hidden name, then rename it over the target atomically.
            name = tempfile.mktemp(prefix="." + self.target.name + ".", dir=str(self.target.parent))
            # linkat(AT_SYMLINK_FOLLOW) on the /proc entry; CPython only uses linkat when a
            # dir_fd is given, plain link() would try to link the /proc symlink itself.
            proc = os.open("/proc/self/fd", os.O_RDONLY)
            try:
                os.link(str(self.file.fileno()), name, src_dir_fd=proc, follow_symlinks=True)
            finally:
                os.close(proc)
            self.path = Path(name)
        self.file.close()
        self.file = None
        os.chmod(str(self.path), 0o644)
        os.replace(str(self.path), str(self.target))

    def abort(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(self.path))
