"""Helpers for the TUI tests (importable as `tui_support`: pytest puts tests/tui on sys.path):
a complete set of answers for the small project, the screen as text, and a hand-written
slow fake Docker client for event-handling tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import threading
import time
from pathlib import Path

from rich.console import Console

COMPLETE = {
    "model_dir": "model",
    "model_class": "tiny",
    "checkpoint": "tiny.pth",
    "base_image": "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    "batch_size": 8,
    "workers": 0,
    "synapse_project_id": "syn12345678",
    "repository": "tiny-model",
    "tag": "v1",
}


def run_async(test):
    """Run an async test function with asyncio.run (no async pytest plugin needed); the
    wrapper keeps the signature, so fixtures still arrive as arguments."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


async def settle(pilot, delay: float = 0.05) -> None:
    """Let the app's workers finish and their results reach the screen. A worker that
    failed on purpose (a stage refused: its message is on screen) is not an error here."""
    from textual.worker import WorkerCancelled, WorkerFailed

    await pilot.pause(delay)
    for worker in list(pilot.app.workers):
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await worker.wait()
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (the same render as a screenshot)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False,
                      safe_box=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def write_answers(path: Path, **values) -> Path:
    from wizard.answers_file import save_answers

    save_answers({**COMPLETE, **values}, path)
    return path


class SlowDocker:
    """Stands in for wizard.docker_ops.DockerOps in event-handling tests only, with the same
    method signatures: build() emits a real docker_events.BuildStep every `delay` seconds,
    then, when `hold` is set, waits for `release` before returning a real BuildResult; it
    honours the cancel event the way DockerOps does (BuildCancelledError). The real engine
    is exercised by the docker-marked tests."""

    def __init__(self, lines: int = 200, delay: float = 0.02, hold: bool = False) -> None:
        self.lines = lines
        self.delay = delay
        self.emitted = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def describe(self) -> str:
        return "fake engine for event tests"

    def ensure_base_image(self, ref: str, on_event=None):
        return None

    def build(self, context_dir, dockerfile: str = "Dockerfile", tag: str | None = None,
              on_event=None, cancel: threading.Event | None = None, *,
              base_image: str | None = None, nocache: bool = False):
        from wizard import docker_events

        started = time.monotonic()
        for number in range(1, self.lines + 1):
            if cancel is not None and cancel.is_set():
                raise docker_events.BuildCancelledError(
                    f"the build was cancelled at step {number}/{self.lines}")
            if on_event is not None:
                on_event(docker_events.BuildStep(number, self.lines, "RUN something"))
            self.emitted += 1
            if self.delay:
                time.sleep(self.delay)
        while not self.release.wait(0.01):
            if cancel is not None and cancel.is_set():
                raise docker_events.BuildCancelledError("the build was cancelled at its end")
        return docker_events.BuildResult(
            image_id="sha256:" + "0" * 64, tag=tag or "", size=3_000_000_000,
            base_size=2_900_000_000, layers=12, base_layers=9, cached_steps=0,
            steps=self.lines, seconds=time.monotonic() - started)
