"""The in-image smoke step (Verify) is never a wait with no sign of life (issue 12, item 6):
on the real engine, with an image built from the small project and a model that takes 50 ms
a call, the container's output reaches the log while it runs, the engine's progress after
each batch drives the bar, the status line counts the seconds, and Esc stops and removes
the container, with a result that says "cancelled". The CLI prints the same output and
progress. One image is built for the module and removed after it."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from textual.widgets import Button, ProgressBar, Static
from tui_support import run_async, settle, write_answers

from wizard import cli, docker_ops
from wizard.answers_file import load_answers
from wizard.cli import StagePrinter
from wizard.events import Log, Progress, StageFinished
from wizard.pipeline import Pipeline
from wizard.samples import make_images
from wizard.tui.app import create_app
from wizard.tui.widgets.log_view import LogView

SLOW_MODEL = """

class slow(tiny):
    \"\"\"tiny, 0.3 s a call: a run that lasts long enough to be watched and cancelled.\"\"\"

    def forward(self, x):
        import time

        time.sleep(0.3)
        return super().forward(x)
"""
FEW, MANY = 40, 160
SIZE = (100, 32)
# Only the container's engine prints its summary: the local run reports to the pipeline.
CONTAINER_DONE = "wrote /output/predictions.csv: {count} images"


@dataclass
class Built:
    project: Path
    base_image: str
    reference: str

    def answers(self, images: int) -> Path:
        """The answers file for a smoke run on `images` images (the image is the same)."""
        return write_answers(
            self.project / "answers.toml", base_image=self.base_image, model_class="slow",
            batch_size=1, workers=0, registry="127.0.0.1:5000", synapse_project_id="syn123",
            repository="tui12a-verify", tag=f"live-{os.getpid()}",
            smoke_images=f"images-{images}", runner_strict="skip", runner_gpus=False)


@pytest.fixture(scope="module")
def built(project_template: Path, docker_client, base_image: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    project = tmp_path_factory.mktemp("verify") / "project"
    shutil.copytree(project_template, project)
    with (project / "model" / "model_description.py").open("a") as models:
        models.write(SLOW_MODEL)
    for count in (FEW, MANY):
        make_images(project / f"images-{count}", count, seed=3)
    state = Built(project, base_image, "")
    answers = load_answers(state.answers(FEW))
    state.reference = answers.image_reference()
    pipeline = Pipeline(answers, project, docker=docker_ops.connect)
    pipeline.build()
    pipeline.close()
    yield state
    docker_client.api.remove_image(state.reference, force=True)


def _containers_of(docker_client, reference: str) -> list:
    return docker_client.containers.list(all=True, filters={"ancestor": reference})


def _local_run(app) -> Pipeline:
    """The local run the image is compared with, done before the step: the step's bar and
    log then show the container alone."""
    pipeline = app.pipeline()
    assert pipeline is not None
    pipeline.smoke()
    return pipeline


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@pytest.mark.docker
def test_the_pipeline_reports_the_container_output_and_each_batch(built: Built) -> None:
    events: list = []
    answers = load_answers(built.answers(FEW))
    pipeline = Pipeline(answers, built.project, on_event=events.append,
                        docker=docker_ops.connect)
    pipeline.smoke()
    events.clear()
    result = pipeline.image_smoke()
    pipeline.close()
    assert result.comparison.ok
    finished = next(i for i, e in enumerate(events) if isinstance(e, StageFinished))
    lines = [e.line for e in events[:finished] if isinstance(e, Log)
             and e.stage == "image-smoke"]
    assert any(line.startswith(f"predicting {FEW} images on cpu") for line in lines), lines
    assert any(line.startswith(CONTAINER_DONE.format(count=FEW)) for line in lines), lines
    progress = [(e.done, e.total) for e in events[:finished] if isinstance(e, Progress)]
    assert {total for _, total in progress} == {FEW}
    done = [count for count, _ in progress]
    # A mark per batch, from 0 to all: more than the engine's three quarter milestones.
    assert done[0] == 0 and done[-1] == FEW and done == sorted(set(done)), done
    assert len(done) >= 5, done
    assert not any("images (" in line for line in lines), "progress lines are not log lines"


@pytest.mark.docker
def test_the_cli_prints_the_container_output_and_its_progress(
        built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    printer = StagePrinter(cli.console)  # what `run` prints on stderr, off a terminal here
    answers = load_answers(built.answers(FEW))
    pipeline = Pipeline(answers, built.project, on_event=printer, docker=docker_ops.connect)
    pipeline.image_smoke()
    pipeline.close()
    printer.close()
    text = capsys.readouterr().err
    container = text[text.index("✓ smoke: "):]  # what came after the local run
    assert CONTAINER_DONE.format(count=FEW) in container
    # Off a terminal: a progress line at each quarter, with the seconds so far.
    quarters = [line for line in container.splitlines()
                if line.split(" ")[0].endswith(f"/{FEW}") and " images (" in line]
    assert len(quarters) >= 3 and quarters[-1].startswith(f"{FEW}/{FEW} images ("), container
    assert "✓ image-smoke: image run: exit code 0" in container


@pytest.mark.docker
@run_async
async def test_the_verify_step_shows_the_container_live(built: Built) -> None:
    app = create_app(built.answers(FEW), built.project, docker=docker_ops.connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await asyncio.to_thread(_local_run, app)
        app.go("image_smoke")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#image-smoke-run", Button)
        await pilot.press("enter")  # the Run button has the focus
        bar = app.screen.query_one("#image-smoke-progress", ProgressBar)
        log = app.screen.query_one(LogView)
        seen_live = False
        deadline = time.monotonic() + 300
        while app.screen.running:
            assert time.monotonic() < deadline, "the run did not end"
            await pilot.pause(0.05)
            # Mid-run: the container's first lines are in the log, the bar moves.
            if (not seen_live and 0 < bar.progress < FEW
                    and any(line.startswith("predicting") for line in log.text_lines)):
                seen_live = True
                status = _text(app, "#step-status")
                assert status.startswith("… the in-image smoke test: 0:"), status
        await app.wait_for_stage(timeout=60)
        await pilot.pause()
        outcome = _text(app, "#stage-outcome")
        assert outcome.startswith("✓ image run: exit code 0"), outcome
        assert seen_live, "no progress was shown while the container ran"
        assert any(line.startswith(CONTAINER_DONE.format(count=FEW))
                   for line in log.text_lines)
        assert (bar.progress, bar.total) == (FEW, FEW)
        # The outcome says it once; the log does not repeat it.
        assert not any("agreement with the local run" in line for line in log.text_lines)


@pytest.mark.docker
@run_async
async def test_esc_stops_and_removes_the_container(built: Built, docker_client) -> None:
    app = create_app(built.answers(MANY), built.project, docker=docker_ops.connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pipeline = await asyncio.to_thread(_local_run, app)
        app.go("image_smoke")
        await pilot.pause()
        await pilot.press("ctrl+r")
        bar = app.screen.query_one("#image-smoke-progress", ProgressBar)
        deadline = time.monotonic() + 240
        while bar.progress < 3:
            assert time.monotonic() < deadline and app.running_stage(), "no progress shown"
            await pilot.pause(0.05)
        assert _containers_of(docker_client, built.reference), "the container runs"
        status = _text(app, "#step-status")
        assert status.startswith("… the in-image smoke test: 0:") and "esc cancels" in status
        await pilot.press("escape")
        await app.wait_for_stage(timeout=60)
        await pilot.pause()
        outcome = _text(app, "#stage-outcome")
        assert outcome.startswith("✗") and "cancelled" in outcome, outcome
        assert "stopped and removed" in outcome
        assert _text(app, "#step-status") == ""
        assert bar.progress < MANY
        assert pipeline.state.image_smoke is None
    assert _containers_of(docker_client, built.reference) == []
    assert not [t for t in threading.enumerate() if t.name == "container-output"]
