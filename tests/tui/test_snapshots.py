"""One snapshot per step at 80x24, the smallest terminal the wizard supports, on the small
project with fixed answers (no clocks or temporary paths reach the screen). Update with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the report first."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from tui_support import settle, write_answers

from wizard.tui.app import create_app

NO_ENGINE = "unix:///nonexistent/docker.sock"
STEPS = ("model", "base_image", "settings", "registry", "review", "smoke", "build",
         "image_smoke", "push")


@pytest.fixture
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYNAPSE_USERNAME", "SYNAPSE_AUTH_TOKEN", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def _app(project: Path, *, answers: bool = True):
    from wizard import docker_ops

    path = write_answers(project / "answers.toml") if answers else None
    return create_app(path, project, docker=functools.partial(docker_ops.connect, NO_ENGINE))


def _show(step: str | None, keys: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        await settle(pilot)
        if step is not None:
            pilot.app.go(step)
            await pilot.pause()
        await pilot.press(*keys)
        await settle(pilot)

    return run_before


def test_environment_step(snap_compare, project: Path, quiet_env) -> None:
    assert snap_compare(_app(project, answers=False), terminal_size=(80, 24),
                        run_before=_show(None))


@pytest.mark.parametrize("step", STEPS)
def test_step(snap_compare, project: Path, quiet_env, step: str) -> None:
    assert snap_compare(_app(project), terminal_size=(80, 24), run_before=_show(step))


def test_help(snap_compare, project: Path, quiet_env) -> None:
    assert snap_compare(_app(project), terminal_size=(80, 24),
                        run_before=_show("settings", ("f1",)))


def test_key_mismatch(snap_compare, project: Path, quiet_env) -> None:
    write_answers(project / "answers.toml", model_class="tiny_head")
    from wizard import docker_ops

    app = create_app(project / "answers.toml", project,
                     docker=functools.partial(docker_ops.connect, NO_ENGINE))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_show("model"))
