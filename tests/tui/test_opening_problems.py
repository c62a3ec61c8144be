"""An answers file with problems opens at the right step with a notice on that step (issue
12, item 9): not a toast that covers Back/Next for 15 s, with the paths as the wizard shows
them (relative to the project), and a checkpoint that is not there named with the rest."""

from __future__ import annotations

import functools
from pathlib import Path

from tui_support import run_async, screen_text, settle, write_answers

from wizard import docker_ops
from wizard.session import Session
from wizard.tui.app import create_app

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"


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
