"""A stage step at 80x24, the smallest terminal the wizard supports (issue 12, item 7): the
outcome is said once (the log does not repeat it), the log gets the rows that are left, and
after a failure the error is on screen without scrolling."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from tui_support import run_async, screen_text, settle, write_answers

from wizard.docker_events import ContainerRun
from wizard.runner_profile import RunnerProfile, Usage
from wizard.smoke import ContainerFailedError, _check_exit
from wizard.tui.app import create_app
from wizard.tui.widgets.log_view import LogView

SIZE = (80, 24)
BREAKER = """

class breaker(tiny):
    \"\"\"Passes the engine's one-image start-up check, then fails on the first batch.\"\"\"

    def forward(self, x):
        if x.shape[0] > 1:
            raise RuntimeError("the model failed on a batch of " + str(x.shape[0]))
        return super().forward(x)
"""


def _app(project: Path, **answers):
    from wizard.samples import make_images

    make_images(project / "sample-images", 6)
    path = write_answers(project / "answers.toml", smoke_images="sample-images", **answers)
    return create_app(path, project)


async def _run_smoke(app, pilot) -> None:
    await settle(pilot)
    app.go("smoke")
    await pilot.pause()
    await pilot.press("ctrl+r")
    await pilot.pause()
    await app.wait_for_stage(timeout=240)
    await settle(pilot, 0.2)


def _words_on_screen(app) -> str:
    """The screen's text with the log's border taken out, so wrapped lines read on."""
    return " ".join(screen_text(app).replace("│", " ").split())


def _visible_rows(widget, app) -> int:
    """Rows of `widget` that are on screen (inside the step's scrolling body)."""
    body = app.screen.query_one("#step-body")
    return widget.region.intersection(body.region).height


@run_async
async def test_after_a_smoke_run_at_80x24_the_log_has_room_and_repeats_nothing(
        project: Path) -> None:
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await _run_smoke(app, pilot)
        outcome = app.screen.query_one("#stage-outcome", Static)
        text = str(outcome.content)
        assert text.startswith("✓ local run: 6 images"), text
        log = app.screen.query_one(LogView)
        logged = "\n".join(log.text_lines)
        for line in text.removeprefix("✓ ").splitlines():
            assert line not in logged, f"the log repeats the outcome: {line}"
        assert _visible_rows(outcome, app) == outcome.region.height, "the outcome is cut"
        # Inside its border, the log shows at least 6 lines at 80x24 (it showed 3).
        assert _visible_rows(log, app) - 2 >= 6, (log.region, outcome.region)


@run_async
async def test_after_a_failure_at_80x24_the_error_is_on_screen(project: Path) -> None:
    with (project / "model" / "model_description.py").open("a") as models:
        models.write(BREAKER)
    app = _app(project, model_class="breaker")
    async with app.run_test(size=SIZE) as pilot:
        await _run_smoke(app, pilot)
        outcome = app.screen.query_one("#stage-outcome", Static)
        text = str(outcome.content)
        assert text.startswith("✗") and "the model failed on a batch of" in text, text
        assert _visible_rows(outcome, app) == outcome.region.height, "the error is cut"
        assert "the model failed on a batch of" in _words_on_screen(app), screen_text(app)


# The last lines of a container whose model failed after a long start: what the engine
# prints, then its one-line error.
CONTAINER_LOG = "\n".join(
    [f"warning: torch.load of layer{n}.weight took the slow path (weights_only is off in this "
     "torch)" for n in range(14)]
    + ["predicting 48 images on cpu (batch 8, 0 loader workers, fp32)",
       "error: the run failed while predicting (RuntimeError: the model failed on a batch of "
       "8); no predictions file was written: lower --batch_size"])


@run_async
async def test_a_failed_image_run_at_80x24_keeps_its_error_on_screen(project: Path,
                                                                    tmp_path: Path) -> None:
    run = ContainerRun(1, CONTAINER_LOG)
    try:
        _check_exit("127.0.0.1:5000/syn123/m:v1", run, tmp_path / "none.csv", RunnerProfile(),
                    Usage(None, None))
    except ContainerFailedError as failed:
        error = failed
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("image_smoke")
        await pilot.pause()
        app.screen.stage_failed(str(error), error)
        await settle(pilot, 0.2)
        shown = _words_on_screen(app)
        assert "the image exited with code 1" in shown, screen_text(app)
        assert "the model failed on a batch of 8" in shown, screen_text(app)
