"""ctrl+g: go to a step by its number (1-9, 0 for the tenth), or pick it from the list."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wizard.tui.screens.dialog import Dialog


def step_key(index: int) -> str:
    """The number key of the step at `index` (0-based): 1-9, then 0 for the tenth."""
    return str((index + 1) % 10)


class JumpScreen(Dialog[str | None]):
    """Dismisses with the chosen step's key, or None (Escape, or ctrl+g again)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+g", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, labels: list[tuple[str, str]], current: str) -> None:
        super().__init__()
        self.labels = labels
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(f"{step_key(index)}  {label}" + ("  (here)" if key == self.current
                                                              else ""), id=key)
                   for index, (key, label) in enumerate(self.labels)]
        with Vertical(id="jump"):
            yield Static("Go to step (press its number)", id="jump-title", markup=False)
            yield OptionList(*options, id="jump-steps")

    def on_mount(self) -> None:
        steps = self.query_one("#jump-steps", OptionList)
        steps.highlighted = [key for key, _ in self.labels].index(self.current)
        steps.focus()

    def on_key(self, event: events.Key) -> None:
        keys = {step_key(index): key for index, (key, _) in enumerate(self.labels)}
        if event.character in keys:
            event.stop()
            self.dismiss(keys[event.character])

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
