"""Questions over the current step: yes/no (e.g. quitting while a build runs), and quitting
with unsaved answers, which offers to save them first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from wizard.tui.screens.dialog import Dialog


def dialog(question: str, buttons: Sequence[Button]) -> ComposeResult:
    """The dialog's layout: the question, then the buttons on the right."""
    with Vertical(id="dialog"):
        yield Static(question, id="dialog-question", markup=False)
        with Horizontal(id="dialog-buttons"):
            yield from buttons


class ConfirmScreen(Dialog[bool]):
    """Dismisses with True (yes, or the y key) or False (no, n or Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        yield from dialog(self.question, [
            Button(f"{self.yes} (y)", id="yes", variant="error", compact=True),
            Button(f"{self.no} (n)", id="no", variant="primary", compact=True),
        ])

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitScreen(Dialog[str]):
    """Quitting with unsaved answers. Dismisses with "save" (save them, then quit: s),
    "quit" (without saving: y) or "stay" (n or Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "answer('save')", "Save and quit", show=False),
        Binding("y", "answer('quit')", "Quit", show=False),
        Binding("n,escape", "answer('stay')", "Stay", show=False),
    ]

    def __init__(self, answers_name: str) -> None:
        super().__init__()
        self.answers_name = answers_name

    def compose(self) -> ComposeResult:
        yield from dialog(
            f"Your answers changed since they were last saved to {self.answers_name}.", [
                Button("Save and quit (s)", id="save", variant="primary", compact=True),
                Button("Quit (y)", id="quit", variant="error", compact=True),
                Button("Stay (n)", id="stay", compact=True),
            ])

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(str(event.button.id))

    def action_answer(self, choice: str) -> None:
        self.dismiss(choice)
