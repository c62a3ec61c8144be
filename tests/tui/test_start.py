"""`objectnet-wizard` with no arguments (issue 10): it opens ./answers.toml when there is
one; otherwise it asks: open another answers file, or start new answers filled in from what
model/ holds (what `init` would write). Nothing is written until the user saves."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from terminal import Terminal, wizard_command
from textual.widgets import Footer, Input, Static
from tui_support import run_async, settle, write_answers

from wizard.base_images import suggest
from wizard.checkpoint_info import local_torch_version
from wizard.tui.app import create_app
from wizard.tui.screens.start import StartScreen

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"


def no_engine():
    from wizard import docker_ops

    return functools.partial(docker_ops.connect, NO_ENGINE)


def dialog_text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@run_async
async def test_start_new_fills_in_what_the_model_folder_holds(project: Path) -> None:
    app = create_app(project_root=project, docker=no_engine(), ask_start=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        found = dialog_text(app, "#start-found")
        assert "checkpoint = 'tiny.pth': the one checkpoint in model/" in found
        assert "model_description.py defines tiny, tiny_head: pick one" in found
        await pilot.press("enter")  # Start new, focused first
        await settle(pilot)
        assert app.screen.STEP == "environment"
        draft = app.session.draft
        assert draft["checkpoint"] == "tiny.pth" and "model_class" not in draft
        assert draft["base_image"] == suggest(local_torch_version()).ref
        assert app.session.unsaved
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"
        assert app.screen.query_one("#checkpoint").value == "tiny.pth"
    assert not (project / "answers.toml").exists()


@run_async
async def test_open_another_answers_file(project: Path) -> None:
    write_answers(project / "mine.toml")
    app = create_app(project_root=project, docker=no_engine(), ask_start=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.screen.query_one("#start-path", Input).focus()
        await pilot.press(*"nope.toml", "enter")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert dialog_text(app, "#start-error") == (
            '✗ "nope.toml" does not exist: give the path of an answers file (e.g. '
            "answers.toml), or start new")
        await pilot.press("ctrl+a", "ctrl+k", *"mine.toml", "enter")
        await settle(pilot)
        assert app.session.answers_path == (project / "mine.toml").resolve()
        assert app.screen.STEP == "review"  # complete answers open at the review
        assert app.session.up_to_date


@run_async
async def test_an_answers_file_given_or_found_is_opened_without_asking(project: Path) -> None:
    path = write_answers(project / "answers.toml")
    app = create_app(path, project, docker=no_engine(), ask_start=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"


@run_async
async def test_the_start_question_says_how_to_quit_and_quits(project: Path) -> None:
    """A dialog's footer shows only its own keys: the first screen a new user sees still
    offers ctrl+q, and it leaves at once (nothing was answered, nothing to save)."""
    app = create_app(project_root=project, docker=no_engine(), ask_start=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        assert app.screen.query_one(Footer).display
        shown = {(active.binding.key, active.binding.description)
                 for active in app.screen.active_bindings.values() if active.binding.show}
        assert shown == {("ctrl+q", "Quit")}
        await pilot.press("ctrl+q")
        await settle(pilot)
        assert app.return_code == 0 and not app.is_running
    assert not (project / "answers.toml").exists()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("command", [(), ("tui",)])
def test_no_arguments_open_answers_toml_or_ask(project: Path, command: tuple[str, ...]
                                               ) -> None:
    env = {"DOCKER_HOST": NO_ENGINE}
    terminal = Terminal(wizard_command(*command), project, env=env)
    try:
        terminal.wait_for("There is no answers.toml in this folder.")
        terminal.wait_for("the one checkpoint in model/", timeout=60)
        terminal.keys("Enter")
        terminal.wait_gone("There is no answers.toml in this folder.")
        terminal.keys("C-q")
        terminal.wait_for("Quit (y)")
        terminal.keys("y")
        assert terminal.exit_code() == 0
    finally:
        terminal.close()
    assert not (project / "answers.toml").exists()

    write_answers(project / "answers.toml")
    terminal = Terminal(wizard_command(*command), project, env=env)
    try:
        terminal.wait_for("Step 6 of 10 · Review the Dockerfile")
        terminal.wait_for("answers.toml is up to date", timeout=60)
        terminal.keys("C-q")
        assert terminal.exit_code() == 0
    finally:
        terminal.close()


@run_async
async def test_a_wizard_that_fails_does_not_exit_0(project: Path, monkeypatch) -> None:
    """A bug in the wizard (here a step that raises as it shows) ends it with Textual's
    traceback; the exit code says it failed rather than 0 (hostile testing, issue 12)."""
    from wizard.tui.app import exit_code
    from wizard.tui.screens.base import StepScreen

    def broken(self) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(StepScreen, "on_screen_resume", broken)
    app = create_app(project_root=project, docker=no_engine(), ask_start=True)
    with pytest.raises(RuntimeError, match="a bug"):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")  # start new: the first step shows, and fails
            await settle(pilot)
    assert exit_code(app, app.return_value) == 1
    assert exit_code(create_app(project_root=project, docker=no_engine()), None) == 0
