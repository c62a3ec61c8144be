"""Finding the images: every file under the images folder, each once, or a refusal that names
what could not be searched.

os.walk drops folders it cannot list and, following links, walks a link to an ancestor
forever; this walk names every folder it cannot list and enters each real folder once
(remembered by device and inode), so no image is lost in silence and no tree is endless.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

from engine.config import IMAGE_SUFFIXES
from engine.errors import ImagesError

SHOWN = 5
SHOWN_CHARS = 160


def find_images(root: Path) -> List[Path]:
    """All images under `root`, any depth, sorted by file name (the scorer's key).

    Hidden files and folders are skipped. Refused up front, naming them: folders that cannot
    be listed (their images would be lost), two files with the same name anywhere in the tree
    (the scorer keys rows by name, so one would be lost), and names the scorer could not read
    back from predictions.csv (undecodable bytes, line breaks).
    """
    if not root.is_dir():
        raise ImagesError("images folder %s does not exist or is not a folder" % root)
    by_name: Dict[str, List[Path]] = defaultdict(list)
    failed = _walk(root, by_name)
    if failed:
        raise ImagesError(
            "cannot search %d folder(s) under %s: %s%s; their images would be missing from "
            "the predictions: make them readable, or move them out of the images folder"
            % (len(failed), root, "; ".join("%s (%s)" % (shown(Path(p), root), why)
                                             for p, why in failed[:SHOWN]), _more(failed)))
    if not by_name:
        raise ImagesError(
            "no images in %s (looked for %s in all subfolders)"
            % (root, "/".join(s.lstrip(".") for s in IMAGE_SUFFIXES))
        )
    unreadable = sorted(name for name in by_name if not scorer_can_read(name))
    if unreadable:
        raise ImagesError(
            "%d file name(s) under %s cannot be written to predictions.csv so that the scorer "
            "reads them back (not UTF-8, or a line break): %s%s; rename them"
            % (len(unreadable), root, ", ".join(_printable(n) for n in unreadable[:SHOWN]),
               _more(unreadable)))
    clashes = sorted((name, paths) for name, paths in by_name.items() if len(paths) > 1)
    if clashes:
        listed = "; ".join(
            "%s in %s" % (_printable(name), ", ".join(str(p.parent) for p in sorted(paths)))
            for name, paths in clashes[:SHOWN]
        )
        raise ImagesError(
            "%d file name(s) occur more than once under %s: %s%s. Predictions are keyed by "
            "file name, so rename or remove the copies" % (len(clashes), root, listed,
                                                          _more(clashes))
        )
    return [by_name[name][0] for name in sorted(by_name)]


def _walk(root: Path, by_name: Dict[str, List[Path]]) -> List[Tuple[str, str]]:
    """Collect image files into `by_name`; returns (folder, reason) for folders it could not
    list. Links are followed, but each real folder is entered once."""
    failed: List[Tuple[str, str]] = []
    seen: Set[Tuple[int, int]] = set()
    pending = [str(root)]
    while pending:
        folder = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue  # a link back to a folder already searched: nothing new there
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as error:
            failed.append((folder, error.strerror or str(error)))
            continue
        subfolders = []
        for entry in listed:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False  # unresolvable: if it is an image name it gets its row below
            if is_dir:
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(IMAGE_SUFFIXES):
                # Anything with an image name counts, whatever it is: a FIFO, a device or a
                # dangling link gets a row with its reason from the loader, not silence.
                by_name[entry.name].append(Path(entry.path))
        pending.extend(sorted(subfolders, reverse=True))
    return failed


def scorer_can_read(name: str) -> bool:
    """Whether `name`, written with the csv module, reads back equal through csv.reader on a
    file opened as the scorer opens it: UTF-8 text, newline translation on (which turns CR
    into LF even inside quotes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as lone surrogates
        return False
    return "\r" not in name and "\n" not in name


def _printable(name: str) -> str:
    """A file name on one line: undecodable bytes and control characters escaped."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(path: Path, root: Path) -> str:
    """`path` for a one-line message: under `root`, printable, middle elided when long."""
    try:
        text = _printable(str(path.relative_to(root)))
    except ValueError:
        text = _printable(str(path))
    if len(text) > SHOWN_CHARS:
        half = SHOWN_CHARS // 2
        text = "%s...%s (%d characters)" % (text[:half], text[-half:], len(text))
    return text


def _more(items: List) -> str:
    return " (and %d more)" % (len(items) - SHOWN) if len(items) > SHOWN else ""
