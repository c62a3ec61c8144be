"""The wizard driven with keys through Pilot, on a real small project: the whole flow up to
a rendered Dockerfile and a saved answers file (which the non-interactive `render` turns
into the identical Dockerfile), and the error paths, each shown at its step."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from textual.widgets import Static
from tui_support import run_async, screen_text, settle, write_answers

from wizard import cli
from wizard.answers_file import load_answers
from wizard.base_images import suggest
from wizard.checkpoint_info import local_torch_version
from wizard.tui.app import create_app
from wizard.tui.screens.confirm import QuitScreen
from wizard.tui.widgets.field import Field

SIZE = (100, 32)
NO_ENGINE = "unix:///nonexistent/docker.sock"


def no_engine():
    """A real "no Docker engine" condition: docker_ops.connect to a socket nobody serves."""
    from wizard import docker_ops

    return functools.partial(docker_ops.connect, NO_ENGINE)


def note(app, field: str) -> str:
    return str(app.screen.query_one(f"#field-{field}", Field).query_one(".field-note",
                                                                        Static).content)


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@run_async
async def test_whole_flow_renders_dockerfile_and_saves_answers(project: Path) -> None:
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "environment"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"
        # Model class: the first of the discovered classes; checkpoint: the folder's file.
        await pilot.press("tab", "enter", "down", "enter")
        await pilot.press("tab", "enter", "down", "enter")
        await settle(pilot)
        assert app.session.draft["model_class"] == "tiny"
        assert app.session.draft["checkpoint"] == "tiny.pth"
        assert text(app, "#model-check").startswith("✓ tiny.pth loads into tiny")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "base_image"
        expected_image = suggest(local_torch_version()).ref
        assert app.session.draft["base_image"] == expected_image  # the suggestion, prefilled
        assert "why:" in text(app, "#suggestion")
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "settings"
        await pilot.press("8", "enter", "0", "enter", "enter")  # batch, workers, gpus
        await settle(pilot)
        assert app.screen.STEP == "registry"
        await pilot.press(*"syn12345678", "enter", *"tiny-model", "enter", *"v1", "enter",
                          "enter")
        await settle(pilot)
        assert app.screen.STEP == "review"
        # Written only when the user asks (issue 12).
        assert text(app, "#stage-outcome") == ("✓ wrote Dockerfile, .dockerignore; "
                                               "answers.toml is not saved yet: ctrl+s saves "
                                               "these answers")
        assert not (project / "answers.toml").exists()
        shown = app.screen.dockerfile_text
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert text(app, "#stage-outcome") == ("✓ wrote Dockerfile, .dockerignore; "
                                               "answers.toml is up to date")

    answers = load_answers(project / "answers.toml")
    assert (answers.model_class, answers.checkpoint, answers.base_image) == (
        "tiny", "tiny.pth", expected_image)
    assert (answers.batch_size, answers.workers, answers.gpus) == (8, 0, None)
    assert answers.image_reference() == "docker.synapse.org/syn12345678/tiny-model:v1"
    dockerfile = (project / "Dockerfile").read_text()
    assert dockerfile == shown
    assert f"FROM {expected_image}\n" in dockerfile
    assert '"--batch_size", "8"' in dockerfile and '"--workers", "0"' in dockerfile


@run_async
async def test_tui_answers_render_the_same_dockerfile_non_interactively(project: Path) -> None:
    """A file saved by the TUI, fed to `objectnet-wizard render`, gives the same files."""
    path = project / "answers.toml"
    write_answers(path, synapse_project_id="SYN42", softmax=False, convert_outputs_mode=2)
    path.write_text("# my notes\n" + path.read_text())
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"
        assert path.read_text().startswith("# my notes\n")  # unchanged: not rewritten
        await pilot.press("ctrl+s")
        await settle(pilot)
    tui_files = {name: (project / name).read_text() for name in ("Dockerfile", ".dockerignore")}
    assert 'synapse_project_id = "syn42"' in path.read_text()  # saved cleaned
    for name in tui_files:
        (project / name).unlink()
    assert cli.main(["render", "--answers", str(path)]) == 0
    for name, content in tui_files.items():
        assert (project / name).read_text() == content


@run_async
async def test_answers_file_opens_at_first_invalid_step_with_the_error(project: Path) -> None:
    path = write_answers(project / "answers.toml", synapse_project_id="12345")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "registry"
        assert note(app, "synapse_project_id") == \
            '✗ "12345" lacks the "syn" prefix: write syn12345'
        await pilot.press("ctrl+n")
        assert app.screen.STEP == "registry"  # refused: the error stays at its field
        assert "fix 1 field" in text(app, "#step-status")
        await pilot.press(*"syn12345", "ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "review"
        assert (project / "Dockerfile").is_file()


@run_async
async def test_bad_synapse_id_is_refused_as_you_type(project: Path) -> None:
    path = write_answers(project / "answers.toml", synapse_project_id="syn1")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+b", "ctrl+b")  # review -> settings -> registry? back twice
        await settle(pilot)
        assert app.screen.STEP == "settings"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "registry"
        await pilot.press(*"abc")
        await pilot.pause(Field.DEBOUNCE + 0.1)  # checked once typing pauses
        assert note(app, "synapse_project_id").startswith(
            '✗ "abc" is not a Synapse project id: use "syn" followed by digits')
        await pilot.press("ctrl+n")
        assert app.screen.STEP == "registry"
        await pilot.press("ctrl+a", "ctrl+k", *"syn7")
        await pilot.pause(Field.DEBOUNCE + 0.1)
        assert note(app, "synapse_project_id").startswith("the id on your Synapse")
        assert text(app, "#image-reference") == \
            "image: docker.synapse.org/syn7/tiny-model:v1"


@run_async
async def test_missing_checkpoint_is_shown_at_the_model_step(project: Path) -> None:
    path = write_answers(project / "answers.toml", checkpoint="gone.pth")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "model"
        assert text(app, "#checkpoint-note") == \
            "✗ model/gone.pth does not exist: pick a file of the model folder"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"


@run_async
async def test_checkpoint_of_another_class_shows_the_key_mismatch(project: Path) -> None:
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("tab", "enter", "down", "down", "enter")  # tiny_head
        await pilot.press("tab", "enter", "down", "enter")
        await settle(pilot)
        assert app.session.draft["model_class"] == "tiny_head"
        check = text(app, "#model-check")
        assert check.startswith("✗ tiny.pth does not fit tiny_head: 2 missing, 2 unexpected")
        assert "missing: head.weight, head.bias" in check
        assert "unexpected: fc.weight, fc.bias" in check
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"
        assert "fix the model step" in text(app, "#step-status")


@run_async
async def test_no_docker_engine_is_explained_at_environment_and_build(project: Path) -> None:
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        docker = app.screen.items["Docker engine"]
        assert docker.mark == "✗"
        assert docker.detail.startswith(f"no Docker engine answers at {NO_ENGINE}")
        assert docker.fix.startswith("the Dockerfile and the local smoke run work without it")
        assert text(app, "#env-summary").startswith("Missing: Docker engine.")

    path = write_answers(project / "answers.toml")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "review"
        await pilot.press("ctrl+n", "ctrl+n", "s")  # s: skip the smoke test
        await settle(pilot)
        assert app.screen.STEP == "build"
        await pilot.press("ctrl+r")
        await settle(pilot)
        outcome = text(app, "#stage-outcome")
        assert outcome.startswith(f"✗ no Docker engine answers at {NO_ENGINE}: start Docker")


@pytest.mark.parametrize("key", ["f1", "question_mark"])
@run_async
async def test_help_lists_the_keys(project: Path, key: str) -> None:
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        shown = screen_text(app)
        for keys, what in (("ctrl+s", "Save"), ("ctrl+n / ctrl+b", "next / previous step"),
                          ("ctrl+q", "Quit"), ("ctrl+r", "Check again"), ("F1 or ?", "Help"),
                          ("ctrl+g", "go to step"), ("ctrl+p", "command palette"),
                          ("tab / shift+tab", "next / previous field")):
            assert any(keys in line and what in line for line in shown.splitlines()), shown
        await pilot.press("escape")
        assert app.screen.STEP == "environment"


SLOW_MODEL = """

class slow(tiny):
    \"\"\"tiny, 50 ms a call: a local run that lasts long enough to be watched.\"\"\"

    def forward(self, x):
        import time

        time.sleep(0.05)
        return super().forward(x)
"""


def _at_smoke_step(project: Path, images: int, **answers):
    """The app on complete answers with `images` sample images: it opens at the review,
    one ctrl+n from the smoke step."""
    from wizard.samples import make_images

    make_images(project / "sample-images", images)
    path = write_answers(project / "answers.toml", smoke_images="sample-images", **answers)
    return create_app(path, project, docker=no_engine())


@run_async
async def test_local_smoke_run_shows_progress_speed_and_verdict(project: Path) -> None:
    app = _at_smoke_step(project, 6)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.STEP == "smoke"
        await pilot.press("ctrl+r")
        await app.wait_for_stage(timeout=240)
        await pilot.pause()
        result = text(app, "#stage-outcome")
        assert result.startswith("✓ local run: 6 images (sample-images) on cpu"), result
        assert "img/s" in result
        assert "predictions.csv: VALIDATED (6 rows)" in result
        assert "all 50,273 ObjectNet images would take about" in result
        bar = app.screen.query_one("#smoke-progress")
        assert (bar.progress, bar.total) == (6, 6)


@run_async
async def test_model_code_that_fails_to_import_is_shown_at_the_class(project: Path) -> None:
    (project / "model" / "model_description.py").write_text("import torch.nn as nn\n\nclass (\n")
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert text(app, "#class-note") == (
            "✗ model/model_description.py failed to import: syntax error on line 3: "
            "invalid syntax")


@run_async
async def test_push_token_is_never_shown_kept_or_saved(project: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("SYNAPSE_USERNAME", raising=False)
    token = "s3cret-token-value"
    path = write_answers(project / "answers.toml")
    app = create_app(path, project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # Both smoke tests never ran: each asks, s skips it.
        await pilot.press("ctrl+n", "ctrl+n", "s", "ctrl+n", "ctrl+n", "s")
        await pilot.pause()
        assert app.screen.STEP == "push"
        await pilot.press(*"alice", "tab", *token)
        await pilot.pause()
        assert token not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert text(app, "#stage-outcome").startswith(
            f"✗ no Docker engine answers at {NO_ENGINE}")
        assert app.screen.query_one("#token").value == ""
        assert token not in screen_text(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert token not in path.read_text()
    assert token not in repr(app.session.draft)


@run_async
async def test_quitting_with_unsaved_answers_asks_first(project: Path) -> None:
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+a", "ctrl+k", *"models")  # the model folder field
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen.STEP == "model"
        await pilot.press("ctrl+s", "ctrl+q")
        await pilot.pause()
    assert app.return_value == 0
    assert 'model_dir = "models"' in (project / "answers.toml").read_text()


@run_async
async def test_a_local_smoke_run_shows_its_elapsed_time_and_esc_cancels_it(project: Path
                                                                        ) -> None:
    # A model that takes 50 ms a call keeps the run going for 8 s however fast the machine:
    # the tiny one finished 160 images in 1.4 s, before the test could look at the status.
    with (project / "model" / "model_description.py").open("a") as models:
        models.write(SLOW_MODEL)
    app = _at_smoke_step(project, 160, batch_size=1, model_class="slow")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.screen.STEP == "smoke"
        app.screen.query_one("#input-smoke_images").focus()
        await pilot.press("enter")  # runs the test (it used to go on to the build)
        for _ in range(300):  # a busy machine may take a while to start the worker
            await pilot.pause(0.1)
            if text(app, "#step-status"):
                break
        assert app.screen.STEP == "smoke"
        status = text(app, "#step-status")
        assert status.startswith("… the smoke test: 0:0") and "esc cancels" in status, status
        await pilot.press("escape")
        await app.wait_for_stage(timeout=240)
        await pilot.pause()
        outcome = text(app, "#stage-outcome")
        assert outcome.startswith("✗") and "cancelled" in outcome, outcome
        assert text(app, "#step-status") == ""
        bar = app.screen.query_one("#smoke-progress")
        assert bar.progress < 160
        # Its bar is gone with the run: left up, its ETA went on counting (issue 12).
        assert not app.screen.query_one(".stage-progress").display
        assert not list(app.pipeline().work.glob("smoke-local/predictions.csv"))


@run_async
async def test_a_failed_smoke_run_takes_its_progress_bar_down(project: Path) -> None:
    """A run that fails (here: none of the images can be read) says ✗ and leaves no bar
    pulsing beside it, as if it were still running; Next asks before going on (hostile
    testing, issue 12)."""
    app = _at_smoke_step(project, 0)
    for name in ("a.jpg", "b.jpg"):
        (project / "sample-images" / name).write_bytes(b"not an image")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await app.wait_for_stage(timeout=240)
        await pilot.pause()
        outcome = text(app, "#stage-outcome")
        assert outcome.startswith("✗ none of the 2 smoke images could be read"), outcome
        assert not app.screen.query_one(".stage-progress").display
        # Next after the failure asks, as it does before a smoke test that never ran: it
        # went on to the build as if the test had passed.
        await pilot.press("ctrl+n")
        await settle(pilot)
        shown = " ".join(screen_text(app).split())
        assert "Smoke test on this machine did not pass: none of the 2" in shown, shown
        await pilot.press("g")
        await settle(pilot)
        assert app.screen.STEP == "build"
