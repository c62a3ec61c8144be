"""The key list (F1 or ?): every binding active on the step the user came from, plus the
keys every screen understands."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from wizard.tui.screens.dialog import Dialog

COMMON_KEYS = (
    ("tab / shift+tab", "next / previous field or button"),
    ("enter", "next field; on the last field, the next step"),
    ("up / down", "move in lists and tables; open a drop-down"),
    ("space", "toggle a checkbox or radio button"),
    ("esc", "close a dialog or help; cancel a running step"),
    ("ctrl+n / ctrl+b", "next / previous step"),
    ("ctrl+g, 1…9 or 0", "go to step 1…9 or 10"),
    ("click a step", "in the step bar at the top: go to that step"),
    ("ctrl+p", "command palette: any step or action by name"),
)


def key_rows(screen: Screen) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding active on `screen`, in footer order."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.action in seen or binding.system:
            continue
        if not binding.show and binding.action != "help":
            continue
        seen.add(binding.action)
        shown = "F1 or ?" if binding.action == "help" else screen.app.get_key_display(binding)
        rows.append((shown, binding.tooltip or binding.description))
    return rows


class HelpScreen(Dialog[None]):
    """Lists the keys. Any of F1, ?, Escape or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1,question_mark", "close", "Close", show=False),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        # Read now: once this dialog is up, the step's keys are disabled beneath it.
        self.rows = key_rows(under)

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in self.rows:
            table.add_row(key, what)
        for key, what in COMMON_KEYS:
            table.add_row(key, what)
        with Vertical(id="help"):
            yield Static("Keys", id="help-title")
            with VerticalScroll():
                yield Static(table)
            yield Static("Press Esc to close.", id="help-foot")

    def action_close(self) -> None:
        self.dismiss(None)
