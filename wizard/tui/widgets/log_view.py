"""A scrolling log that takes lines in batches and remembers its text (for tests and for
copying), so a fast docker build never floods the UI with one refresh per line."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import RichLog

MAX_LINES = 5000


class LogView(RichLog):
    DEFAULT_CSS = """
    LogView { height: 1fr; min-height: 5; border: round $panel-lighten-2; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False,
                         **kwargs)
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
