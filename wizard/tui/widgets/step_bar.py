"""The one-line map of the wizard's steps, with the current one marked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StepBar(Static):
    """`Env › Model › … › Push`, the current step in reverse video (readable without
    colour, so it also works under NO_COLOR)."""

    DEFAULT_CSS = """
    StepBar { height: 1; width: 1fr; background: $panel; color: $text-muted; }
    """

    def __init__(self, labels: list[tuple[str, str]], current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._labels = labels
        self._current = current

    def render(self) -> Text:
        text = Text(" ")
        for index, (key, label) in enumerate(self._labels):
            if index:
                text.append(" › ")
            if key == self._current:
                text.append(f" {label} ", style="bold reverse")
            else:
                text.append(label)
        return text
