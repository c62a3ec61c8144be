"""Step 7: the pipeline's local smoke stage: the engine on a few images on this machine,
as the image will run it, with progress, speed, the time 50,273 images would take, and the
validator's verdict."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Input, ProgressBar, Static

from wizard.tui.screens.stage import StageScreen, result_text
from wizard.tui.widgets.field import Field
from wizard.tui.widgets.log_view import LogView


class SmokeScreen(StageScreen):
    STEP = "smoke"
    STAGE = "smoke"
    RUN_BUTTON = "smoke-run"
    SKIP_QUESTION = ("The smoke test has not run: it is the quick check that the model "
                     "predicts here, before minutes of building. Run it now?")
    TITLE = "Smoke test on this machine"
    INTRO = "The engine here on a few images, as in the image: speed, estimate, verdict."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self) -> None:
        super().__init__()
        self.result: Any = None

    def compose_body(self) -> ComposeResult:
        yield Field("smoke_images", "Images", value=self.answer("smoke_images"),
                    placeholder="generated ObjectNet-like images",
                    hint="a folder of images; blank: generated, with ObjectNet's frame")
        yield Button("Run the smoke test (ctrl+r)", id="smoke-run", compact=True,
                     variant="primary")
        with Horizontal(classes="stage-progress"):
            yield ProgressBar(id="smoke-progress", show_percentage=False)
            yield Static("", id="smoke-rate", classes="stage-rate", markup=False)
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    def has_run(self) -> bool:
        pipeline = self.wizard.pipeline()
        return (pipeline is None or pipeline.state.local_smoke is not None
                or self.last_error is not None)

    @on(Button.Pressed, "#smoke-run")
    def _run_pressed(self) -> None:
        self.action_run()

    @on(Input.Submitted, "#input-smoke_images")
    def _images_submitted(self, event: Input.Submitted) -> None:
        # Enter here runs the test, as the button below says; it used to go on to the build
        # without running anything.
        event.prevent_default()
        self.action_run()

    def action_run(self) -> None:
        if not self.query_one(Field).check():
            return
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        self.result = None
        if self.start("the smoke test", pipeline.smoke):
            self.show_outcome("… running the engine")

    def stage_done(self, result: Any) -> None:
        self.result = result
        self.hide_progress()
        self.show_outcome("✓ " + result_text(result, self.summary, self.session.short))
