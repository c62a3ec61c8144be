"""One snapshot per step at 80x24, the smallest terminal the wizard supports, on the small
project with fixed answers (no clocks or temporary paths reach the screen). Update with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the report first."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from textual.widgets import Input
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
        # A blinking cursor is on or off depending on when the picture is taken.
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause()

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


def test_finish(snap_compare, project: Path, quiet_env) -> None:
    """The finish screen after a push, on a fixed receipt (a real one holds a fresh digest
    and the figures of the run); tests/tui/test_finish.py drives a real push to it."""
    from wizard.receipt import UploadPlan, receipt_of
    from wizard.submission import SubmissionRecord

    digest = "sha256:" + "5eed" * 16
    pinned = f"docker.synapse.org/syn12345678/tiny-model@{digest}"
    record = SubmissionRecord(
        image_reference="docker.synapse.org/syn12345678/tiny-model:v1", digest=digest,
        pinned_reference=pinned, checkpoint_sha256="0" * 64, settings={},
        torch_version="2.3.1", wizard_version="0", created="2026-01-01T00:00:00+00:00",
        extra={"upload": {**UploadPlan("docker.synapse.org", "syn12345678/tiny-model", 12, 12,
                                       1400 * 1024 ** 2, new_repository=True).record(),
                          "pushed_layers": 12, "mounted_layers": 0, "existing_layers": 0}},
        verification={
            "pulled": pinned, "validator": "VALIDATED",
            "agreement_with_local_run": {"top1": "48/48", "top5": "48/48", "ok": True},
            "memory_peak_bytes": 1536 * 1024 ** 2, "shm_peak_bytes": 64 * 1024 ** 2,
            "memory_limit": "32g", "shm_limit": "12g", "time_verdict": "no limit",
            "time_estimate_s": 5400.0, "time_measured_on": "this machine's CPU (2 cores)"})

    async def run_before(pilot) -> None:
        await _show("push")(pilot)
        pilot.app.show_receipt(receipt_of(record), "answers.submission.json")
        await pilot.pause()

    assert snap_compare(_app(project), terminal_size=(80, 24), run_before=run_before)


def test_start_question(snap_compare, project: Path, quiet_env) -> None:
    """`objectnet-wizard` with no answers file asks first (what model/ holds is filled in)."""
    from wizard import docker_ops

    app = create_app(None, project, docker=functools.partial(docker_ops.connect, NO_ENGINE),
                     ask_start=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_show(None))
