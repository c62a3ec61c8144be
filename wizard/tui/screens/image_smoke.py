"""Step 9: the pipeline's in-image smoke stage: the built image run the way the challenge
runs it (no network, /input read-only), compared with the local run. The container's output
streams into the log as it runs, its engine's progress drives the bar (with an ETA), and
Esc stops and removes the container."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, ProgressBar, Static

from wizard.tui.screens.stage import StageScreen, result_text
from wizard.tui.widgets.log_view import LogView


class ImageSmokeScreen(StageScreen):
    STEP = "image_smoke"
    STAGE = "image-smoke"
    RUN_BUTTON = "image-smoke-run"
    SKIP_QUESTION = ("The image has not been run here: the challenge runs it with no network "
                     "and read-only input, and an image that fails there scores nothing. "
                     "Run it now?")
    TITLE = "Smoke test inside the image"
    INTRO = "The built image with no network and read-only input, as the challenge runs it."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None

    def compose_body(self) -> ComposeResult:
        yield Button("Run the image (ctrl+r)", id="image-smoke-run", compact=True,
                     variant="primary")
        with Horizontal(classes="stage-progress"):
            yield ProgressBar(id="image-smoke-progress", show_percentage=False)
            yield Static("", id="image-smoke-rate", classes="stage-rate", markup=False)
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    def has_run(self) -> bool:
        pipeline = self.wizard.pipeline()
        return (pipeline is None or pipeline.state.image_smoke is not None
                or self.last_error is not None)

    @on(Button.Pressed, "#image-smoke-run")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        self.result = None
        self.query_one(LogView).reset()
        if self.start("the in-image smoke test", pipeline.image_smoke):
            self.show_outcome("… running the image")

    def stage_done(self, result: Any) -> None:
        self.result = result
        self.hide_progress()
        self.show_outcome("✓ " + result_text(result, self.summary, self.session.short))
