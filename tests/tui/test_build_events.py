"""The build stage in the TUI with a slow, hand-written Docker client (tui_support.SlowDocker)
injected through create_app: keys are answered while the log streams, lines arrive in
batches, Escape cancels, and quitting asks first and cancels cleanly. The real engine is
exercised by the docker-marked tests of wizard.docker_ops and the pipeline."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from textual.widgets import Static
from tui_support import SlowDocker, run_async, settle, write_answers

from wizard.tui.app import create_app
from wizard.tui.screens.confirm import ConfirmScreen
from wizard.tui.screens.help import HelpScreen
from wizard.tui.screens.stage import EventRelay
from wizard.tui.widgets.log_view import LogView

SIZE = (100, 32)


async def until(pilot, condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


async def open_build(project: Path, docker: SlowDocker):
    path = write_answers(project / "answers.toml")
    return create_app(path, project, docker=lambda: docker)


def outcome(app) -> str:
    return str(app.screen.query_one("#stage-outcome", Static).content)


@run_async
async def test_keys_are_handled_while_the_build_streams(project: Path) -> None:
    docker = SlowDocker(lines=100, delay=0.01, hold=True)
    app = await open_build(project, docker)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n", "ctrl+n", "s")  # s: skip the smoke test
        await pilot.pause()
        assert app.screen.STEP == "build"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: docker.emitted >= 20)

        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        (project / "answers.toml").unlink()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert (project / "answers.toml").is_file()
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.screen.STEP == "smoke"
        assert app.running_stage() == "the build"  # all of that happened mid-build

        await pilot.press("ctrl+n")
        docker.release.set()
        await app.wait_for_stage()
        await pilot.pause()
        log = app.screen.query_one(LogView)
        assert f"Step {docker.lines}/{docker.lines} : RUN something" in log.text_lines
        assert outcome(app).startswith("✓ docker.synapse.org/syn12345678/tiny-model:v1: "
                                       "3000 MB (100.0 MB over the base)")


@run_async
async def test_a_fast_log_reaches_the_view_in_batches(project: Path) -> None:
    docker = SlowDocker(lines=3000, delay=0)
    app = await open_build(project, docker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n", "ctrl+n", "s", "ctrl+r")
        await until(pilot, lambda: app.running_stage() is None and docker.emitted)
        await app.wait_for_stage()
        await pilot.pause()
        log = app.screen.query_one(LogView)
        steps = [line for line in log.text_lines if line.startswith("Step ")]
        assert len(steps) == docker.lines
        assert steps == [f"Step {i}/{docker.lines} : RUN something"
                         for i in range(1, docker.lines + 1)]
        assert log.batches < docker.lines / 10


def test_relay_posts_one_message_per_batch() -> None:
    posted: list[object] = []

    class Target:
        def post_message(self, message: object) -> bool:
            posted.append(message)
            return True

    relay = EventRelay()
    relay.target = Target()  # type: ignore[assignment]
    thread = threading.Thread(target=lambda: [relay(i) for i in range(1000)])
    thread.start()
    thread.join()
    assert len(posted) == 1
    assert relay.drain() == list(range(1000))
    relay("next")
    assert len(posted) == 2


@run_async
async def test_escape_cancels_the_build(project: Path) -> None:
    docker = SlowDocker(lines=2000, delay=0.05, hold=True)
    app = await open_build(project, docker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n", "ctrl+n", "s", "ctrl+r")
        await until(pilot, lambda: docker.emitted >= 5)
        await pilot.press("escape")
        await app.wait_for_stage()
        await pilot.pause()
        assert docker.emitted < docker.lines
        assert outcome(app).startswith("✗ the build was cancelled at step ")
        assert app.running_stage() is None


@run_async
async def test_quitting_during_a_build_asks_then_cancels_cleanly(project: Path) -> None:
    docker = SlowDocker(lines=2000, delay=0.05, hold=True)
    app = await open_build(project, docker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n", "ctrl+n", "s", "ctrl+r")
        await until(pilot, lambda: docker.emitted >= 5)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.STEP == "build" and app.running_stage() == "the build"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        deadline = time.monotonic() + 20
        while app.is_running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    assert app.return_value == 130
    assert 5 <= docker.emitted < docker.lines
    assert not app.session.cancel.is_set() or app.running_stage() is None
