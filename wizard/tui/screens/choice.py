"""A question with several answers over the current step (e.g. Next before a smoke test
that never ran: run it, skip it, or stay)."""

from __future__ import annotations

from typing import NamedTuple

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from wizard.tui.screens.dialog import Dialog

KEY_NAMES = {"escape": "esc"}


class Choice(NamedTuple):
    value: str
    """What the dialog dismisses with."""
    label: str
    key: str
    """The key that picks it (shown on its button)."""
    variant: ButtonVariant = "default"


class ChoiceScreen(Dialog[str | None]):
    """Dismisses with the picked choice's value (its button or its key), or None on an
    Escape that no choice takes. The first choice has the focus, so Enter picks it."""

    def __init__(self, question: str, choices: list[Choice]) -> None:
        super().__init__()
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="dialog-question", markup=False)
            with Horizontal(id="dialog-buttons"):
                for choice in self.choices:
                    key = KEY_NAMES.get(choice.key, choice.key)
                    yield Button(f"{choice.label} ({key})", id=f"choice-{choice.value}",
                                 variant=choice.variant, compact=True)

    def on_mount(self) -> None:
        self.query_one(Button).focus()

    def on_key(self, event: events.Key) -> None:
        for choice in self.choices:
            if event.key == choice.key:
                event.stop()
                self.dismiss(choice.value)
                return
        if event.key == "escape":
            event.stop()
            self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "").removeprefix("choice-"))
