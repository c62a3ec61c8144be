"""What the user sees while the engine runs: a Rich progress bar on a terminal, a few short
lines otherwise (the challenge keeps only the last lines of a container's log)."""

from __future__ import annotations

import os
import re
import time
from typing import IO, TYPE_CHECKING, Any, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from engine.run import Summary

MILESTONES = (0.25, 0.5, 0.75)
SHOWN_UNREADABLE = 20
PROGRESS_ENV = "OBJECTNET_ENGINE_PROGRESS"
"""Set to "batch", a log gets a progress line after every batch: the wizard's in-image smoke
run sets it to follow the run live. The challenge does not set it, so its log stays short."""
_PROGRESS_LINE = re.compile(r"^(\d+)/(\d+) images \(\d+%\)")


class PlainReporter:
    """Line-oriented output for logs: a start line, quarter milestones (or, with
    `every_batch`, a line after each batch), a summary."""

    def __init__(self, stream: IO[str], every_batch: bool = False) -> None:
        self.stream = stream
        self.started: Optional[float] = None
        self.next_milestone = 0
        self.every_batch = every_batch

    def log(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def progress(self, done: int, total: int) -> None:
        if self.started is None:
            self.started = time.perf_counter()
            if self.every_batch:
                self.log("%d/%d images (0%%)" % (done, total))
            return
        if self.every_batch:
            self._line(done, total)
            return
        while self.next_milestone < len(MILESTONES) and done >= MILESTONES[
            self.next_milestone
        ] * total:
            self._line(done, total)
            self.next_milestone += 1

    def _line(self, done: int, total: int) -> None:
        elapsed = max(time.perf_counter() - (self.started or 0.0), 1e-9)
        self.log("%d/%d images (%d%%), %.1f img/s"
                 % (done, total, 100 * done // max(total, 1), done / elapsed))

    def close(self) -> None:
        pass

    def summary(self, summary: "Summary") -> None:
        for line in summary_lines(summary):
            self.log(line)


class RichReporter(PlainReporter):
    """A live progress bar with rate and time left, for an interactive terminal."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream)
        self.bar = Progress(
            TextColumn("predicting"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
            console=self.console, transient=True,
        )
        self.task: Any = None

    def log(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

    def progress(self, done: int, total: int) -> None:
        if self.task is None:
            self.started = time.perf_counter()
            self.bar.start()
            self.task = self.bar.add_task("predict", total=total, rate="")
        elapsed = max(time.perf_counter() - (self.started or 0.0), 1e-9)
        self.bar.update(self.task, completed=done, rate="%.1f img/s" % (done / elapsed))

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


def progress_from_line(line: str) -> Optional[Tuple[int, int]]:
    """(done, total) from a progress line of PlainReporter's, read back from a log (the
    wizard follows the in-image run this way); None for any other line."""
    found = _PROGRESS_LINE.match(line.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def make_reporter(stream: IO[str],
                  environ: Optional[Mapping[str, str]] = None) -> PlainReporter:
    if getattr(stream, "isatty", lambda: False)():
        try:
            return RichReporter(stream)
        except ImportError:
            pass
    every_batch = (os.environ if environ is None else environ).get(PROGRESS_ENV) == "batch"
    return PlainReporter(stream, every_batch=every_batch)


def summary_lines(summary: "Summary") -> list:
    lines = [
        "wrote %s: %d images, %d unreadable, %.1f s, %.1f img/s (%.1f after start-up) on %s"
        % (summary.output, summary.images, len(summary.unreadable), summary.wall_s,
           summary.img_per_s, summary.steady_img_per_s, summary.device),
        "time: model %.1f s, waiting for images %.1f s (decoding %.1f s summed over %d "
        "loader workers), start-up %.1f s"
        % (summary.model_s, summary.wait_s, summary.decode_s, summary.workers,
           summary.startup_s),
    ]
    if summary.scores is not None:
        lines.extend(summary.scores.lines())
    for name, reason in summary.unreadable[:SHOWN_UNREADABLE]:
        lines.append("unreadable: %s: %s" % (name, reason))
    if len(summary.unreadable) > SHOWN_UNREADABLE:
        lines.append("unreadable: ... and %d more (rows with -1 ids)"
                     % (len(summary.unreadable) - SHOWN_UNREADABLE))
    return lines
