"""An answers file with problems opens at the right step with a notice on that step (issue
12, item 9): not a toast that covers Back/Next for 15 s, with the paths as the wizard shows
them (relative to the project), and a checkpoint that is not there named with the rest."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from tui_support import run_async, screen_text, settle, write_answers

from wizard import docker_ops
from wizard.session import Session
from wizard.tui.app import STAGE_STEPS, STEP_SCREENS, create_app

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"
QUESTION_STEPS = [key for key, _, _ in STEP_SCREENS if key not in STAGE_STEPS]


def _app(path: Path, project: Path):
    return create_app(path, project, docker=functools.partial(docker_ops.connect, NO_ENGINE))


def test_opening_problems_show_short_paths_and_the_missing_checkpoint(project: Path) -> None:
    path = write_answers(project / "answers.toml", synapse_project_id="12345",
                         checkpoint="gone.pth")
    session = Session.open(path, project)
    assert session.opening_problems() == [
        'synapse_project_id: "12345" lacks the "syn" prefix: write syn12345',
        "checkpoint model/gone.pth does not exist: pick a file of the model folder",
    ]


def test_complete_answers_with_a_missing_checkpoint_name_it(project: Path) -> None:
    path = write_answers(project / "answers.toml", checkpoint="gone.pth")
    assert Session.open(path, project).opening_problems() == [
        "checkpoint model/gone.pth does not exist: pick a file of the model folder"]
    assert Session.open(write_answers(project / "good.toml"), project).opening_problems() == []


@run_async
async def test_a_bad_answers_file_gets_a_notice_that_leaves_back_and_next_free(
        project: Path) -> None:
    path = write_answers(project / "answers.toml", synapse_project_id="12345",
                         checkpoint="gone.pth")
    app = _app(path, project)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "registry"
        nav = app.screen.query_one("#step-nav").region
        for toast in app.screen.query("Toast"):
            assert not toast.region.overlaps(nav), (toast.region, nav)
        shown = screen_text(app)
        assert "answers.toml has 2 problems" in shown, shown
        assert "model/gone.pth does not exist" in shown
        assert str(project) not in shown  # no full paths
        notice = app.screen.query_one("#opening-problems")
        assert not notice.region.overlaps(nav)
        # The notice belongs to the step it opened at; the fields keep their own errors.
        await pilot.press("ctrl+b")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "registry"
        assert not app.screen.query("#opening-problems")


# TOML values of the wrong type for a text setting (issue 12, hostile testing): each crashed a
# step with a traceback, the wizard exiting 0. A number is kept as the text it reads as
# (`tag = 1.5` meant "1.5"); a list, table or true/false is left out (a default stands), as a
# field cannot show it.
WRONG_TYPES = [("model_dir", 5, "5"), ("checkpoint", 7, "7"), ("model_class", ["tiny"], None),
               ("base_image", 12, "12"), ("tag", 1.5, "1.5"),
               ("synapse_project_id", 12345678, "12345678"),
               ("registry", True, "docker.synapse.org"),
               ("repository", {"name": "x"}, None), ("smoke_images", 3, "3")]


@pytest.mark.parametrize(("name", "value", "kept"), WRONG_TYPES,
                         ids=[name for name, _, _ in WRONG_TYPES])
def test_a_wrong_type_in_the_answers_file_is_a_notice_at_every_step(
        project: Path, name: str, value: object, kept: str | None) -> None:
    path = write_answers(project / "answers.toml", **{name: value})
    assert Session.open(path, project).draft.get(name) == kept

    async def visit_every_step() -> str:
        app = _app(path, project)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            opened = screen_text(app)
            for key in QUESTION_STEPS:  # each step, done or not, renders this draft
                app.go(key)
                await settle(pilot)
                assert key == app.screen.STEP
        return opened

    opened = run_async(visit_every_step)()  # a step that raises fails the test here
    assert f"{name} = " in opened and "must be" in opened, opened


def test_a_checkpoint_that_is_a_fifo_is_not_said_to_be_missing(project: Path) -> None:
    """A FIFO where the checkpoint goes was "does not exist" at opening and on the model
    step (hostile testing, issue 12), while `check` named it; both say what it is."""
    import os

    (project / "model" / "tiny.pth").unlink()
    os.mkfifo(project / "model" / "tiny.pth")
    path = write_answers(project / "answers.toml")
    assert Session.open(path, project).opening_problems() == [
        "checkpoint model/tiny.pth is not a regular file (a FIFO): pick a file of the model "
        "folder"]

    async def model_step() -> str:
        app = _app(path, project)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.go("model")
            await settle(pilot)
            return screen_text(app)

    shown = " ".join(run_async(model_step)().split())
    assert "tiny.pth (not a file)" in shown, shown
    assert "model/tiny.pth is not a regular file (a FIFO): pick a file" in shown, shown
    assert "does not exist" not in shown


def test_a_value_the_wizard_had_to_change_is_not_said_to_be_saved(project: Path) -> None:
    """`tag = 1.5` shows as the text "1.5" and `registry = true` as the default: the file
    still holds the wrong values, so the wizard must not call it up to date, and saving
    writes what the fields show (hostile testing, issue 12)."""
    path = write_answers(project / "answers.toml", tag=1.5, registry=True)
    session = Session.open(path, project)
    assert (session.draft["tag"], session.draft["registry"]) == ("1.5", "docker.synapse.org")
    assert not session.up_to_date
    assert session.save_state() == ("answers.toml is not saved: registry, tag changed; ctrl+s "
                                    "saves these answers")
    session.save()
    assert Session.open(path, project).load_problems == []
