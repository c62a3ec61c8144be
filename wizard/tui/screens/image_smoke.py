"""Step 9: the pipeline's in-image smoke stage: the built image run the way the challenge
runs it (no network, /input read-only), compared with the local run."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Static

from wizard.tui.screens.stage import StageScreen, result_text
from wizard.tui.widgets.log_view import LogView


class ImageSmokeScreen(StageScreen):
    STEP = "image_smoke"
    TITLE = "Smoke test inside the image"
    INTRO = "The built image with no network and read-only input, as the challenge runs it."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None

    def compose_body(self) -> ComposeResult:
        yield Button("Run the image (ctrl+r)", id="image-smoke-run", compact=True,
                     variant="primary")
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    @on(Button.Pressed, "#image-smoke-run")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        self.result = None
        if self.start("the in-image smoke test", pipeline.image_smoke):
            self.show_outcome("… running the image")

    def stage_done(self, result: Any) -> None:
        self.result = result
        self.show_outcome("✓ " + result_text(result, self.summary, self.session.short))
