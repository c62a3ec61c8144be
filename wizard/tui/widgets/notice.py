"""A notice at the top of a step: what was wrong with the answers file the wizard opened.

It sits in the step's layout, above its fields, so it covers nothing (a toast would cover
Back and Next); the app removes it when the user leaves the step, where the fields show
their own errors."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

MAX_LINES = 3


class Notice(Static):
    """`heading`, then up to MAX_LINES of `lines` and how many more there are."""

    DEFAULT_CSS = """
    Notice {
        height: auto;
        margin: 0 1;
        padding: 0 1;
        border-left: thick $warning;
        color: $text-warning;
    }
    """

    def __init__(self, heading: str, lines: Sequence[str], **kwargs) -> None:
        text = Text(f"! {heading}", style="bold")
        for line in lines[:MAX_LINES]:
            text.append(f"\n  {line}", style="not bold")
        if len(lines) > MAX_LINES:
            text.append(f"\n  … and {len(lines) - MAX_LINES} more (objectnet-wizard check "
                        "lists every one)", style="not bold")
        super().__init__(text, **kwargs)
