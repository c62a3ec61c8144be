"""Moving around the wizard (issue 12, item 10): the step bar is clickable, ctrl+g jumps to a
step, the command palette holds the steps and the main actions, the quit dialog saves and
quits, the footer names keys the way the buttons do, and the step bar fits 60 columns.
Going forward by any of these follows the rules Next follows."""

from __future__ import annotations

import functools
from pathlib import Path

from textual.command import CommandPalette
from tui_support import run_async, screen_text, settle, write_answers

from wizard import docker_ops
from wizard.tui.app import create_app
from wizard.tui.screens.confirm import QuitScreen
from wizard.tui.widgets.step_bar import StepBar

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"


def _app(path: Path | None, project: Path):
    return create_app(path, project, docker=functools.partial(docker_ops.connect, NO_ENGINE))


async def click_step(pilot, label: str) -> None:
    """Click `label` in the step bar, where it is drawn."""
    bar = pilot.app.screen.query_one(StepBar)
    drawn = bar.render().plain
    assert label in drawn, drawn
    await pilot.click(StepBar, offset=(drawn.index(label), 0))
    await settle(pilot)


@run_async
async def test_clicking_a_step_in_the_bar_goes_there(project: Path) -> None:
    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"
        await click_step(pilot, "Base")
        assert app.screen.STEP == "base_image"
        await click_step(pilot, "Name")
        assert app.screen.STEP == "registry"
        await click_step(pilot, "Env")
        assert app.screen.STEP == "environment"


@run_async
async def test_going_forward_stops_at_the_first_step_not_done(project: Path) -> None:
    app = _app(write_answers(project / "answers.toml", synapse_project_id="12345"), project)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "registry"
        await click_step(pilot, "Model")
        assert app.screen.STEP == "model"
        await click_step(pilot, "Settings")  # the steps up to it are done
        assert app.screen.STEP == "settings"
        await click_step(pilot, "Smoke")  # past the unfinished Name step: stops there
        assert app.screen.STEP == "registry"
        assert "Finish the Name step first" in screen_text(app)
        # The step shown is checked first, as Next does.
        await pilot.press("ctrl+a", "ctrl+k", *"x1")
        await click_step(pilot, "Push")
        assert app.screen.STEP == "registry"
        assert "fix 1 field" in screen_text(app)


@run_async
async def test_ctrl_g_and_a_number_jumps_to_a_step(project: Path) -> None:
    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "Go to step" in screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.STEP == "base_image"
        await pilot.press("ctrl+g", "escape")
        await settle(pilot)
        assert app.screen.STEP == "base_image"
        await pilot.press("ctrl+g", "0")  # 0 is the tenth step
        await settle(pilot)
        assert app.screen.STEP == "push"


@run_async
async def test_the_command_palette_goes_to_steps_and_saves(project: Path) -> None:
    app = _app(None, project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "environment"
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to model")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.STEP == "model"
        await pilot.press("ctrl+p", *"save answers")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
    assert (project / "answers.toml").is_file()


async def quit_with_a_change(pilot) -> None:
    """Change the model folder (Model step) to "models", then press ctrl+q."""
    await settle(pilot)
    await pilot.press("ctrl+n")
    await settle(pilot)
    assert pilot.app.screen.STEP == "model"
    await pilot.press("ctrl+a", "ctrl+k", *"models", "ctrl+q")
    await pilot.pause()


@run_async
async def test_save_and_quit_saves_then_quits(project: Path) -> None:
    app = _app(None, project)
    async with app.run_test(size=SIZE) as pilot:
        await quit_with_a_change(pilot)
        assert isinstance(app.screen, QuitScreen)
        assert "Save and quit (s)" in screen_text(app)
        await pilot.press("s")
        await pilot.pause()
    assert app.return_value == 0
    assert 'model_dir = "models"' in (project / "answers.toml").read_text()


@run_async
async def test_save_and_quit_stays_when_saving_fails(project: Path) -> None:
    (project / "not-a-folder").write_text("a file")
    app = _app(project / "not-a-folder" / "answers.toml", project)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await quit_with_a_change(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert app.is_running
        assert app.screen.STEP == "model"
        assert "cannot save not-a-folder/answers.toml" in screen_text(app)
        assert app.return_value is None


@run_async
async def test_the_footer_names_keys_as_the_buttons_do(project: Path) -> None:
    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("build")
        await settle(pilot)
        shown = screen_text(app)
        assert "Build (ctrl+r)" in shown
        assert "ctrl+r Build" in shown, shown.splitlines()[-1]
        assert "^" not in shown.splitlines()[-1]


@run_async
async def test_the_step_bar_fits_60_columns(project: Path) -> None:
    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        for step in ("environment", "review", "push"):
            app.go(step)
            await settle(pilot)
            bar = app.screen.query_one(StepBar)
            drawn = screen_text(app).splitlines()[0].rstrip()
            assert len(bar.render().plain.rstrip()) <= 60
            # The current step by name, the first and the last step, all on the one line.
            assert dict(app.step_labels())[step] in drawn, drawn
            assert drawn.lstrip().startswith(("Env", "1")), drawn
            assert drawn.endswith(("Push", "0")), drawn
        await click_step(pilot, "Env" if "Env" in bar.render().plain else "1")
        assert app.screen.STEP == "environment"


@run_async
async def test_keys_typed_fast_after_ctrl_g_take_one_step(project: Path) -> None:
    """Digits that reach the dialog before it closes (typed fast, or pasted) chose again:
    `5 5` blanked the screen and `5 5 5` stopped the wizard with a traceback (hostile
    testing, issue 12), as did closing any dialog twice. The first choice wins; the rest are
    dropped with the dialog."""
    from textual import events

    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for typed in (["5", "5"], ["5", "3", "4"], ["escape", "3"], ["1", "escape"]):
            await pilot.press("ctrl+g")
            await pilot.pause()
            for key in typed:  # all at once, as a terminal delivers a burst
                app.post_message(events.Key(key, key if len(key) == 1 else None))
            await settle(pilot)
            assert app.is_running
            want = {"5": "registry", "1": "environment"}.get(typed[0])
            assert (want or app.screen.STEP) == app.screen.STEP, typed
            assert len(app.screen_stack) == 2, app.screen_stack  # default screen + the step
            assert "Next (ctrl+n)" in screen_text(app)
        # Every dialog closes once: the key list, closed with a burst of its close keys.
        await pilot.press("f1")
        await pilot.pause()
        for key in ("escape", "q", "escape"):
            app.post_message(events.Key(key, None if key == "escape" else key))
        await settle(pilot)
        assert app.screen.STEP == "environment" and len(app.screen_stack) == 2


@run_async
async def test_a_digit_right_after_ctrl_g_is_the_step_not_typed_into_a_field(
        project: Path) -> None:
    """ctrl+g and a digit in one burst (a fast hand, a paste): the digit went into the
    focused field, `syn12345678` became the still valid `syn123456783`, and the dialog
    stayed open (hostile testing, issue 12). The digit now picks the step."""
    from textual import events
    from textual.widgets import Input

    app = _app(write_answers(project / "answers.toml"), project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("registry")
        await settle(pilot)
        field = app.screen.query_one("#input-synapse_project_id", Input)
        field.focus()
        await pilot.pause()
        for key, character in (("ctrl+g", None), ("3", "3")):
            app.post_message(events.Key(key, character))
        await settle(pilot)
        assert field.value == "syn12345678"
        assert app.screen.STEP == "base_image" and len(app.screen_stack) == 2
        # Under the dialog, ctrl+g still closes it.
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "Go to step" in screen_text(app)
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert app.screen.STEP == "base_image" and len(app.screen_stack) == 2
