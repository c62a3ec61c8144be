"""Focus and Enter on the steps that run something (issue 12, item 8): each one focuses its
Run action when shown, so Enter runs it; Next asks before leaving a smoke test that never
ran (Run it / Skip / Cancel) instead of skipping it silently."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from textual.screen import ModalScreen
from textual.widgets import Button
from tui_support import run_async, settle, write_answers

from wizard.tui.app import create_app

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"
RUN_BUTTONS = {"smoke": "smoke-run", "build": "build-run", "image_smoke": "image-smoke-run",
               "push": "push-run"}


def _app(project: Path, **answers):
    from wizard import docker_ops
    from wizard.samples import make_images

    make_images(project / "sample-images", 4)
    path = write_answers(project / "answers.toml", smoke_images="sample-images", **answers)
    return create_app(path, project, docker=functools.partial(docker_ops.connect, NO_ENGINE))


@pytest.mark.parametrize("step", sorted(RUN_BUTTONS))
@run_async
async def test_a_step_that_runs_something_focuses_its_run_action(
        project: Path, step: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_USERNAME", "alice")
    monkeypatch.setenv("SYNAPSE_AUTH_TOKEN", "token-from-the-environment")
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(2):  # on the first visit and on coming back
            app.go(step)
            await pilot.pause()
            assert app.screen.focused is app.screen.query_one(f"#{RUN_BUTTONS[step]}", Button)
            app.go("review")
            await pilot.pause()


@run_async
async def test_push_without_credentials_focuses_the_missing_one(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNAPSE_USERNAME", raising=False)
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("push")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#username")
        await pilot.press(*"alice")
        app.go("review")
        await pilot.pause()
        app.go("push")
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#token")


async def _go(pilot, step: str) -> None:
    await settle(pilot)
    pilot.app.go(step)
    await pilot.pause()


async def _ran_here(pilot) -> None:
    """The smoke test the last key started has run, and the step stayed."""
    app = pilot.app
    await pilot.pause()
    await app.wait_for_stage(timeout=240)
    await pilot.pause()
    assert app.screen.STEP == "smoke"
    assert str(app.screen.query_one("#stage-outcome").content).startswith("✓ local run")


async def _next_asks(pilot) -> ModalScreen:
    await pilot.press("ctrl+n")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, ModalScreen), f"no question: on to {getattr(dialog, 'STEP', dialog)}"
    labels = [str(button.label) for button in dialog.query(Button)]
    assert labels == ["Run it (r)", "Skip (s)", "Cancel (esc)"]
    return dialog


@run_async
async def test_next_asks_before_skipping_a_smoke_test_that_never_ran(project: Path) -> None:
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await _go(pilot, "smoke")

        await _next_asks(pilot)
        await pilot.press("escape")  # Cancel: stay, nothing runs
        await pilot.pause()
        assert app.screen.STEP == "smoke" and app.running_stage() is None

        await _next_asks(pilot)
        await pilot.press("s")  # Skip: on to the build, nothing ran
        await pilot.pause()
        assert app.screen.STEP == "build"
        assert app.pipeline().state.local_smoke is None

        await pilot.press("ctrl+b")
        await pilot.pause()
        await pilot.press("ctrl+n")  # skipped once for these answers: not asked again
        await pilot.pause()
        assert app.screen.STEP == "build"


@run_async
async def test_run_it_runs_the_smoke_test_and_then_next_goes_on(project: Path) -> None:
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await _go(pilot, "smoke")
        await _next_asks(pilot)
        await pilot.press("enter")  # Run it (it has the focus): runs here, stays here
        await _ran_here(pilot)

        await pilot.press("ctrl+n")  # it ran: no question
        await pilot.pause()
        assert app.screen.STEP == "build"


@run_async
async def test_next_asks_before_skipping_the_image_smoke_test_too(project: Path) -> None:
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await _go(pilot, "image_smoke")
        await _next_asks(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.STEP == "push"


@run_async
async def test_enter_in_the_images_field_runs_the_smoke_test(project: Path) -> None:
    app = _app(project)
    async with app.run_test(size=SIZE) as pilot:
        await _go(pilot, "smoke")
        app.screen.query_one("#input-smoke_images").focus()
        await pilot.press("enter")
        await _ran_here(pilot)
