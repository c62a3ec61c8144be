"""Step 8: the pipeline's build stage: docker build with its log streaming live, and a
cancel that stops it cleanly (the pipeline's cancel event)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Static

from wizard.tui.screens.stage import StageScreen
from wizard.tui.widgets.log_view import LogView


class BuildScreen(StageScreen):
    STEP = "build"
    STAGE = "build"
    RUN_BUTTON = "build-run"
    TITLE = "Build the image"
    INTRO = "docker build in the project folder; takes minutes the first time."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "build", "Build"),
        Binding("escape", "cancel", "Cancel build"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="build-target", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Build (ctrl+r)", id="build-run", compact=True, variant="primary")
            yield Button("Cancel (esc)", id="build-cancel", compact=True, variant="error",
                         disabled=True)
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    def refresh_from_draft(self) -> None:
        answers = self.session.answers()
        target = self.query_one("#build-target", Static)
        if answers is None:
            self.ready_pipeline()
            target.update("")
        else:
            target.update(f"{answers.image_reference()} on {answers.base_image}")

    @on(Button.Pressed, "#build-run")
    def _run_pressed(self) -> None:
        self.action_build()

    @on(Button.Pressed, "#build-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_build(self) -> None:
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        self.query_one(LogView).reset()
        self.result = None
        if self.start("the build", pipeline.build):
            self.show_outcome("… building")
            self.query_one("#build-cancel", Button).disabled = False
            self.query_one("#build-run", Button).disabled = True

    def _idle(self) -> None:
        self.query_one("#build-cancel", Button).disabled = True
        self.query_one("#build-run", Button).disabled = False

    def stage_done(self, result: Any) -> None:
        self._idle()
        self.result = result
        self.show_outcome(f"✓ {self.summary}\nNext: run it the way the challenge does (ctrl+n)")

    def stage_failed(self, message: str, error: BaseException | None) -> None:
        self._idle()
        super().stage_failed(self.session.short(message), error)
