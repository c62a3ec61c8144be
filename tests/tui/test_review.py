"""The review step: what of the model folder goes into the image (issue 10), and an answers
file that is written only when the user asks (issue 12: passing through the review used to
rewrite it, dropping the user's comments)."""

from __future__ import annotations

import functools
from pathlib import Path

from textual.widgets import Button, Input, Static, TabbedContent
from tui_support import run_async, settle, write_answers

from wizard.answers_file import load_answers
from wizard.model_folder import human_size
from wizard.tui.app import create_app

SIZE = (100, 32)


def no_engine():
    from wizard import docker_ops

    return functools.partial(docker_ops.connect, "unix:///nonexistent/docker.sock")


def outcome(app) -> str:
    return str(app.screen.query_one("#stage-outcome", Static).content)


def save_button_shown(app) -> bool:
    return bool(app.screen.query_one("#review-save-row").display
                and app.screen.query_one("#review-save", Button).display)


@run_async
async def test_passing_through_the_review_never_rewrites_the_answers_file(project: Path
                                                                          ) -> None:
    path = write_answers(project / "answers.toml")
    path.write_text("# my notes\n" + path.read_text())
    before = path.read_text()
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"
        # Back through every answers step to the model step and forward again, changing
        # nothing: nothing to save.
        for key in ("ctrl+b",) * 4 + ("ctrl+n",) * 4:
            await pilot.press(key)
            await settle(pilot)
        assert app.screen.STEP == "review"
        assert path.read_text() == before
        assert outcome(app) == "✓ wrote Dockerfile, .dockerignore; answers.toml is up to date"
        assert not save_button_shown(app)

        # A changed answer: the review renders it, says the file does not hold it, and
        # leaves the file alone.
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert app.screen.STEP == "registry"
        app.screen.query_one("#input-tag", Input).focus()
        await pilot.press("ctrl+a", "ctrl+k", *"v2", "ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "review"
        assert "tiny-model:v2" in app.screen.dockerfile_text
        assert path.read_text() == before  # today's main rewrote it here, comments lost
        assert outcome(app) == ("✓ wrote Dockerfile, .dockerignore; answers.toml is not "
                                "saved: tag changed; ctrl+s saves these answers")
        assert save_button_shown(app)

        # Saved when the user asks.
        await pilot.click("#review-save")
        await settle(pilot)
        assert load_answers(path).tag == "v2"
        assert outcome(app) == "✓ wrote Dockerfile, .dockerignore; answers.toml is up to date"
        assert not save_button_shown(app)


@run_async
async def test_the_review_lists_the_model_files_that_go_into_the_image(project: Path) -> None:
    model = project / "model"
    (model / "classes.json").write_text('{"0": "Air freshener"}\n')
    (model / "helpers").mkdir()
    (model / "helpers" / "__init__.py").write_text("")
    (model / "old.pth").write_bytes(b"\0" * 2048)
    (model / ".env").write_text("TOKEN=x\n")
    path = write_answers(project / "answers.toml")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"
        lines = app.screen.files_text.splitlines()

        def size(name: str) -> str:
            return human_size((model / name).stat().st_size)

        assert lines[0].startswith("5 files, ") and lines[0].endswith(" go into the image:")
        for line in ("  classes.json  23 B", "  data_transform_description.py  "
                     f"{size('data_transform_description.py')}",
                     "  helpers/__init__.py  0 B", f"  tiny.pth  {size('tiny.pth')}",
                     "  .env: named like credentials",
                     "  old.pth: another checkpoint (include it with model_include if the "
                     "model loads it)"):
            assert line in lines, "\n".join(lines)
        tabs = app.screen.query_one("#review-tabs", TabbedContent)
        assert tabs.get_tab("tab-files").label_text.startswith("model files (5, ")
        tabs.active = "tab-files"
        await pilot.pause()
        assert app.screen.query_one("#model-files", Static).content == \
            app.screen.files_text


@run_async
async def test_a_review_that_found_a_problem_does_not_go_on(project: Path) -> None:
    """Model code that fails to import: the review's check says ✗, and Next went on to the
    smoke test all the same (hostile testing, issue 12). It stays, saying what to do; fixed
    and rendered again, it goes on."""
    description = project / "model" / "model_description.py"
    good = description.read_text()
    description.write_text(good + "\nclass (\n")
    app = create_app(write_answers(project / "answers.toml"), project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for fixed, next_step in ((False, "review"), (True, "smoke")):
            if fixed:
                description.write_text(good)
                await pilot.press("ctrl+r")
            assert app.screen.STEP == "review"
            await app.wait_for_stage(timeout=120)
            await settle(pilot)
            assert outcome(app).startswith("✓" if fixed else "✗"), outcome(app)
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert next_step == app.screen.STEP
            if not fixed:
                status = str(app.screen.query_one("#step-status", Static).content)
                assert status.startswith("✗ the review found a problem"), status
