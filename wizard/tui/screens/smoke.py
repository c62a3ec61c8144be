"""Step 7: the pipeline's local smoke stage: the engine on a few images on this machine,
as the image will run it, with progress, speed, the time 50,273 images would take, and the
validator's verdict."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, ProgressBar, Static

from wizard.tui.screens.stage import StageScreen, result_text
from wizard.tui.widgets.field import Field
from wizard.tui.widgets.log_view import LogView


def rate_line(done: int, total: int, elapsed: float) -> str:
    """Progress with the speed so far; the finished run reports the steady speed and the
    estimate for the whole test set."""
    text = f"{done}/{total} images"
    if done and elapsed > 0:
        text += f" · {done / elapsed:.1f} img/s so far (start-up included)"
    return text


class SmokeScreen(StageScreen):
    STEP = "smoke"
    TITLE = "Smoke test on this machine"
    INTRO = ("The engine on a few images, here, as the image will run it: speed, the time "
             "for all 50,273 ObjectNet images, and the scorer's verdict.")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "run", "Run")]

    def __init__(self) -> None:
        super().__init__()
        self.started = 0.0
        self.result: Any = None

    def compose_body(self) -> ComposeResult:
        yield Field("smoke_images", "Images", value=self.answer("smoke_images"),
                    placeholder="generated ObjectNet-like images",
                    hint="a folder of images (blank: generated ones with ObjectNet's frame)")
        yield Button("Run the smoke test (ctrl+r)", id="smoke-run", compact=True,
                     variant="primary")
        yield ProgressBar(show_eta=False, id="smoke-progress")
        yield Static("", id="smoke-rate", markup=False)
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    def on_mount(self) -> None:
        # Shown from the first run on: idle, it would animate (and snapshots hold no clocks).
        self.query_one("#smoke-progress", ProgressBar).display = False

    @on(Button.Pressed, "#smoke-run")
    def _run_pressed(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        if not self.query_one(Field).check():
            return
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        self.started = time.monotonic()
        self.result = None
        bar = self.query_one("#smoke-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.show_outcome("… running the engine")
        self.start("the smoke test", pipeline.smoke)

    def progress(self, done: int, total: int) -> None:
        self.query_one("#smoke-progress", ProgressBar).update(total=total, progress=done)
        self.query_one("#smoke-rate", Static).update(
            rate_line(done, total, time.monotonic() - self.started))

    def stage_done(self, result: Any) -> None:
        self.result = result
        self.query_one("#smoke-rate", Static).update("")
        self.show_outcome("✓ " + result_text(result, self.summary, self.session.short))
