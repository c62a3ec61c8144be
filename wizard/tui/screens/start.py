"""The question `objectnet-wizard` asks when started with no answers file and none in the
folder: open an answers file from elsewhere, or start new answers filled in from what the
model folder holds (what `objectnet-wizard init` would write).

The model folder is looked at in a thread as soon as the dialog is drawn (reading a
checkpoint to suggest a base image may import torch), so what "start new" fills in is on
screen before the user picks it. Then torch is imported, in a thread, while the user reads:
the first step's checks, which need it, start when the dialog is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState

from wizard.init_answers import Discovery
from wizard.tui.screens.dialog import Dialog


@dataclass(frozen=True)
class StartChoice:
    """What the user picked: a file to open, or new answers prefilled with `values`."""

    open_path: Path | None = None
    values: dict[str, str] | None = None


class StartScreen(Dialog[StartChoice]):
    """Dismisses with a StartChoice. Enter (on the Start button, focused first) starts new;
    typing a path and Enter in its field opens that file."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "start_new", "Start new", show=False),
        # The app's ctrl+q (a priority binding) quits from here too; a dialog's footer shows
        # only its own bindings, so this one puts Quit on the first screen's footer.
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, project_root: Path, answers_name: str = "answers.toml") -> None:
        super().__init__()
        self.project_root = project_root
        self.answers_name = answers_name
        self.found: Discovery | None = None
        self._start_asked = False

    def compose(self) -> ComposeResult:
        with Vertical(id="start"):
            yield Static(f"There is no {self.answers_name} in this folder.", id="start-title",
                         markup=False)
            yield Static("Start new answers, filled in from what model/ holds:", markup=False)
            yield Static("… looking at model/", id="start-found", markup=False)
            with Horizontal(classes="row"):
                yield Label("Or open a file", classes="field-label")
                yield Input(placeholder="path of an answers file, then enter", compact=True,
                            id="start-path")
            yield Static("", id="start-error", classes="note -error", markup=False)
            with Horizontal(id="start-buttons"):
                yield Button("Start new (enter)", id="start-new", variant="primary",
                             compact=True)
                yield Button("Open", id="start-open", compact=True)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#start-error").display = False
        self.query_one("#start-new", Button).focus()
        # After the first paint: the thread would hold the GIL while the dialog is drawn.
        self.call_after_refresh(self._discover, self.project_root / "model")

    @work(thread=True, exclusive=True, exit_on_error=False, group="start-discover")
    def _discover(self, model_dir: Path) -> Discovery:
        from wizard.init_answers import discover

        return discover(model_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="start-torch")
    def _import_torch(self) -> None:
        from wizard.local_torch import torch_version

        torch_version()

    @on(Worker.StateChanged)
    def _discovered(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "start-discover" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR):
            return
        found = event.worker.result if event.state == WorkerState.SUCCESS else None
        if not isinstance(found, Discovery):  # a model folder we cannot read
            found = Discovery(notes=[f"model/ could not be read ({event.worker.error}): the "
                                     "defaults are used"])
        self.found = found
        self.query_one("#start-found", Static).update("\n".join(found.notes))
        self._import_torch()
        if self._start_asked:
            self.action_start_new()

    def action_start_new(self) -> None:
        if self.found is None:  # dismissed as soon as the model folder was looked at
            self._start_asked = True
            return
        self.dismiss(StartChoice(values=dict(self.found.values)))

    @on(Button.Pressed, "#start-new")
    def _new(self) -> None:
        self.action_start_new()

    @on(Button.Pressed, "#start-open")
    @on(Input.Submitted, "#start-path")
    def _open(self) -> None:
        from wizard.session import answers_file_to_open

        typed = self.query_one("#start-path", Input).value
        try:
            path = answers_file_to_open(typed, self.project_root)
        except ValueError as error:
            self.query_one("#start-error", Static).update(f"✗ {error}")
            self.query_one("#start-error").display = True
            self.query_one("#start-path", Input).focus()
            return
        self.dismiss(StartChoice(open_path=path))
