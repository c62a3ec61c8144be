"""The one-line map of the wizard's steps, with the current one marked; a click on a step
asks to go there."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static


class StepBar(Static):
    """`Env › Model › … › Push`, the current step in reverse video (readable without
    colour, so it also works under NO_COLOR). Where the names do not fit (60 columns), the
    other steps are shown by number, the numbers ctrl+g takes: `1 › 2 › 3 Base › 4 …`."""

    DEFAULT_CSS = """
    StepBar { height: 1; width: 1fr; background: $panel; color: $text-muted; }
    StepBar:hover { color: $text; }
    """

    class Clicked(Message):
        """The user clicked step `key` in the bar."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, labels: list[tuple[str, str]], current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self._labels = labels
        self._current = current
        self._spans: list[tuple[int, int, str]] = []

    def _layout(self, numbered: bool, separator: str) -> tuple[Text, list[tuple[int, int, str]]]:
        text = Text(" ")
        spans = []
        for index, (key, label) in enumerate(self._labels):
            if index:
                text.append(separator)
            number = str((index + 1) % 10)
            start = len(text)
            if key == self._current:
                shown = f"{number} {label}" if numbered else label
                text.append(f" {shown} ", style="bold reverse")
            else:
                text.append(number if numbered else label)
            spans.append((start, len(text), key))
        return text, spans

    def render(self) -> Text:
        width = self.size.width or 80
        for numbered, separator in ((False, " › "), (True, " › "), (True, "›")):
            text, spans = self._layout(numbered, separator)
            if len(text) <= width:
                break
        self._spans = spans
        return text

    def key_at(self, x: int) -> str | None:
        """The step drawn at column `x`, or None (a separator)."""
        for start, end, key in self._spans:
            if start <= x < end:
                return key
        return None

    def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x)
        if key is not None:
            event.stop()
            self.post_message(self.Clicked(key))
