"""The wizard in a real terminal (tmux): started the way a user starts it, driven with
send-keys, checked on the captured screen; and NO_COLOR turning every colour to grey."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from terminal import Terminal, wizard_command
from tui_support import write_answers

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
TRUECOLOR = re.compile(r"\x1b\[([0-9;]*)m")


@pytest.fixture
def terminal_for(project: Path):
    opened: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None,
              size: tuple[int, int] = (80, 24)) -> Terminal:
        terminal = Terminal(wizard_command(*args), project, env={**NO_ENGINE, **(env or {})},
                            size=size)
        opened.append(terminal)
        return terminal

    yield start
    for terminal in opened:
        terminal.close()


def test_review_step_in_a_real_terminal(project: Path, terminal_for) -> None:
    write_answers(project / "answers.toml")
    terminal = terminal_for("--answers", "answers.toml")
    terminal.wait_for("Step 6 of 10 · Review the Dockerfile")
    screen = terminal.wait_for("✓ wrote Dockerfile, .dockerignore; answers.toml is up to date")
    lines = screen.splitlines()
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
    assert "FROM pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime" in screen
    assert "Dockerfile  answers" in screen
    assert (project / "Dockerfile").is_file()

    terminal.keys("F1")
    terminal.wait_for("Press Esc to close.")
    terminal.keys("Escape")
    terminal.wait_gone("Press Esc to close.")  # an Escape followed at once by a key is Alt+key
    terminal.keys("C-b")
    screen = terminal.wait_for("Step 5 of 10 · Image name")
    assert "image: docker.synapse.org/syn12345678/tiny-model:v1" in screen
    terminal.keys("C-q")
    assert terminal.exit_code() == 0


def test_step_bar_at_60_columns_and_ctrl_g(project: Path, terminal_for) -> None:
    write_answers(project / "answers.toml")
    terminal = terminal_for("--answers", "answers.toml", size=(60, 20))
    screen = terminal.wait_for("✓ wrote Dockerfile")  # the review rendered
    bar = screen.splitlines()[0].rstrip()
    # Every step on the one line: the current one by name, the others by number.
    assert bar.startswith(" 1 › 2 ›") and " 6 Review " in bar and bar.endswith("› 0"), bar
    terminal.keys("C-g")
    terminal.wait_for("Go to step")
    terminal.keys("3")
    screen = terminal.wait_for("Step 3 of 10")
    assert " 3 Base " in screen.splitlines()[0]
    terminal.keys("C-q")
    assert terminal.exit_code() == 0


def _colours(screen: str) -> list[tuple[int, int, int]]:
    """Every 24-bit colour (foreground or background) in captured SGR sequences."""
    found = []
    for match in TRUECOLOR.finditer(screen):
        parts = match.group(1).split(";")
        for index, part in enumerate(parts[:-4]):
            if part in ("38", "48") and parts[index + 1] == "2":
                found.append(tuple(int(p) for p in parts[index + 2:index + 5]))
    return found


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color_leaves_only_greys(project: Path, terminal_for, no_color: bool) -> None:
    terminal = terminal_for(env={"NO_COLOR": "1"} if no_color else {})
    terminal.wait_for("There is no answers.toml in this folder.")  # the first screen asks
    terminal.keys("Enter")  # start new
    terminal.wait_for("Step 1 of 10 · Your machine")
    terminal.wait_for("Docker engine")
    colours = _colours(terminal.capture(escapes=True))
    assert colours, "no 24-bit colours captured"
    greys = all(r == g == b for r, g, b in colours)
    assert greys is no_color
    terminal.keys("C-q")
    terminal.wait_for("Quit (y)")  # the new answers are not saved
    terminal.keys("y")
    assert terminal.exit_code() == 0
