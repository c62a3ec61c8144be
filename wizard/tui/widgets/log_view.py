"""A scrolling log that takes lines in batches and remembers its text (for tests and for
copying), so a fast docker build never floods the UI with one refresh per line."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

MAX_LINES = 5000


class LogView(RichLog):
    # Lines are wrapped to the width at the time they are written; a stable gutter keeps
    # that width the same once the vertical scrollbar appears, so no column goes under it.
    DEFAULT_CSS = """
    LogView {
        height: 1fr; min-height: 5; border: round $panel-lighten-2;
        scrollbar-gutter: stable; overflow-x: hidden;
    }
    """

    def __init__(self, **kwargs) -> None:
        # min_width: RichLog renders at least 78 columns, wider than the log is at 80x24,
        # which hid the last columns under the scrollbar.
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False,
                         min_width=1, **kwargs)
        self.text_lines: list[str] = []
        self.batches = 0
        """How many writes took the lines so far (fewer than lines when batched)."""

    def add_lines(self, lines: Iterable[str]) -> None:
        """Append many lines with one write (one refresh)."""
        batch = [line.rstrip("\n") for line in lines]
        if not batch:
            return
        self.batches += 1
        self.text_lines.extend(batch)
        del self.text_lines[:-MAX_LINES]
        self.write(Text("\n".join(batch)))

    def reset(self) -> None:
        self.text_lines.clear()
        self.clear()
