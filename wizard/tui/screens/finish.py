"""The end of the wizard: the receipt of a push, read back from the submission record, and
the pinned reference to submit, with a key that copies it.

Copying goes through the terminal (OSC 52), which some terminals ignore; so the reference is
also shown as selectable text, and `objectnet-wizard` prints it when the wizard exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from wizard.tui.screens.dialog import Dialog

if TYPE_CHECKING:
    from wizard.receipt import Receipt


class FinishScreen(Dialog[None]):
    """Shows `receipt`; `record_name` is the submission record as the wizard shows paths.
    c copies the reference; Esc goes back to the push step."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy reference"),
        Binding("escape", "close", "Back to the push step"),
    ]

    def __init__(self, receipt: Receipt, record_name: str) -> None:
        super().__init__()
        self.receipt = receipt
        self.record_name = record_name

    def compose(self) -> ComposeResult:
        receipt = self.receipt
        title = ("Pushed and verified: ready to submit" if receipt.verified
                 else "Pushed, but not verified: do not submit it")
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for label, value in receipt.rows:
            table.add_row(Text(label), Text(value))
        with Vertical(id="finish"):
            yield Static(Text(title), id="finish-title", classes="-ok" if receipt.verified
                         else "-error")
            yield Static("Submit this reference (the challenge pulls exactly this image):",
                         markup=False)
            yield Static(Text(receipt.pinned), id="finish-reference")
            with VerticalScroll(id="finish-receipt"):
                yield Static(table)
            yield Static(f"Kept in {self.record_name}. The reference is printed again when "
                         "you quit.", id="finish-record", markup=False)
            with Horizontal(id="finish-buttons"):
                yield Button("Copy reference (c)", id="finish-copy", variant="primary",
                             compact=True)
                yield Button("Back (esc)", id="finish-back", compact=True)

    def on_mount(self) -> None:
        self.query_one("#finish-copy", Button).focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.receipt.pinned)
        self.notify("copied the reference (where the terminal allows it; select it with the "
                    "mouse otherwise)", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#finish-copy")
    def _copy(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#finish-back")
    def _back(self) -> None:
        self.action_close()
