"""Torch and the user's model code are imported by one thread at a time (issue 12): in a
real terminal, every check that imports them starts at once and each must still see the
whole model module. A model file that takes a moment to import (as the demo's, which
imports torchvision) widens the window a second thread used to fall into."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from terminal import Terminal, wizard_command
from tui_support import write_answers

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
RUNS = 10
SLOW_IMPORT = "import time\ntime.sleep(0.4)  # stands in for torchvision's import time\n"


def _slow_model(project: Path) -> None:
    path = project / "model" / "model_description.py"
    path.write_text(SLOW_IMPORT + path.read_text())


def _run(project: Path, args: tuple[str, ...], keys: tuple[str, ...]) -> str:
    terminal = Terminal(wizard_command(*args), project, env=NO_ENGINE)
    try:
        if not args:
            # With no answers file, the wizard asks first (issue 10): start new.
            terminal.wait_for("There is no answers.toml in this folder.", timeout=60)
            terminal.keys("Enter")
            terminal.wait_gone("There is no answers.toml in this folder.", timeout=60)
        terminal.wait_for("Step ", timeout=60)
        for key in keys:
            terminal.keys(key)
        terminal.wait_for("Step 2 of 10 · Your model", timeout=30)
        screen = _settled(terminal)
        terminal.keys("C-q")
        if not args:  # new answers are unsaved: quit without saving them
            terminal.wait_for("Quit (y)", timeout=30)
            terminal.keys("y")
        terminal.exit_code(timeout=30)
        return screen
    except AssertionError as error:
        return str(error)
    finally:
        terminal.close()


def _settled(terminal: Terminal, timeout: float = 60) -> str:
    """The model step's screen once the class listing and the load check both answered
    (either way: a wrong answer ends the wait too). New answers with two classes in the folder
    have none picked yet, so there is no load check to wait for."""
    deadline = time.monotonic() + timeout
    while True:
        screen = terminal.capture()
        listed = "class(es) in model_description.py" in screen or "✗" in screen
        loaded = ("loads into tiny" in screen or "✗" in screen
                  or ("(pick one of 2)" in screen and listed))
        if (listed and loaded) or time.monotonic() > deadline:
            return screen
        time.sleep(0.05)


def _failures(project: Path, args: tuple[str, ...], keys: tuple[str, ...]) -> list[str]:
    _slow_model(project)
    failures = []
    for _ in range(RUNS):
        screen = _run(project, args, keys)
        if "2 class(es) in model_description.py" not in screen or "✗" in screen:
            failures.append(screen)
    return failures


def test_first_visit_to_the_model_step_sees_every_class(project: Path) -> None:
    # The environment step imports torch while the model step lists the classes.
    failures = _failures(project, (), ("C-n",))
    assert not failures, f"{len(failures)} of {RUNS} runs went wrong; the first:\n{failures[0]}"


def test_back_to_the_model_step_with_valid_answers_is_not_refused(project: Path) -> None:
    # Opens at the review; on the way back the base step suggests an image (imports torch)
    # while the model step lists the classes and loads the checkpoint, each in a thread.
    write_answers(project / "answers.toml")
    failures = _failures(project, ("--answers", "answers.toml"), ("C-b",) * 4)
    assert not failures, f"{len(failures)} of {RUNS} runs went wrong; the first:\n{failures[0]}"


def _exit_codes(project: Path, drive) -> list[int]:
    """The wizard's exit status in RUNS runs opened on complete answers, each driven by
    `drive(terminal)` up to its quit."""
    write_answers(project / "answers.toml")
    codes = []
    for _ in range(RUNS):
        terminal = Terminal(wizard_command("--answers", "answers.toml"), project, env=NO_ENGINE)
        try:
            drive(terminal)
            codes.append(terminal.exit_code(timeout=60))
        finally:
            terminal.close()
    return codes


def test_quitting_right_after_a_save_never_crashes(project: Path) -> None:
    # The sequence of the report: open at the review, go on twice, save, n, quit.
    def drive(terminal: Terminal) -> None:
        terminal.wait_for("answers.toml is up to date", timeout=60)
        # The smoke test never ran: Next asks first, and s skips it.
        for key, then in (("C-n", "Step 7 of 10"), ("C-n", "Skip (s)"), ("s", "Step 8 of 10"),
                          ("C-s", "saved answers.toml"), ("n", None), ("C-q", None)):
            terminal.keys(key)
            if then is not None:
                terminal.wait_for(then, timeout=30)

    assert _exit_codes(project, drive) == [0] * RUNS


def test_quitting_while_the_checks_import_torch_never_crashes(project: Path) -> None:
    # Back from the review to the model step starts three checks that import torch and the
    # model at once (suggestion, class listing, load check); quitting then must not crash.
    def drive(terminal: Terminal) -> None:
        terminal.wait_for("Step 6 of 10", timeout=60)
        terminal.keys(*("C-b",) * 4)
        terminal.wait_for("Step 2 of 10", timeout=30)
        time.sleep(0.3)
        terminal.keys("C-q")
        _cancel_if_asked(terminal)

    # 0, or 130 when the review's render was still running and the quit cancelled it.
    codes = _exit_codes(project, drive)
    assert set(codes) <= {0, 130}, codes


def _cancel_if_asked(terminal: Terminal, within: float = 3) -> None:
    """Answer yes when quitting asks to cancel a running stage."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not terminal.rc_file.is_file():
        if "Cancel it and quit?" in terminal.capture():
            terminal.keys("y")
            return
        time.sleep(0.05)


def test_model_code_that_never_returns_cannot_hold_the_wizard(project: Path) -> None:
    """Model code stuck at import (here a loop; a download with no network does the same)
    cannot be cancelled: quitting waited a minute for the stage, then a minute more for the
    import (hostile testing, issue 12). ctrl+q again quits at once, exit 130."""
    path = project / "model" / "model_description.py"
    path.write_text("while True:\n    pass\n" + path.read_text())
    write_answers(project / "answers.toml")
    terminal = Terminal(wizard_command(), project, env=NO_ENGINE)
    try:
        terminal.wait_for("… checking and rendering", timeout=60)
        terminal.keys("C-q")
        terminal.wait_for("Cancel and quit (y)", timeout=30)
        terminal.keys("y")
        terminal.wait_for("quits now)", timeout=30)  # "(ctrl+q again quits now)", wrapped
        started = time.monotonic()
        terminal.keys("C-q")
        assert terminal.exit_code(timeout=20) == 130
        assert time.monotonic() - started < 15
    finally:
        terminal.close()
