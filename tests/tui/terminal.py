"""The wizard in a real terminal: tmux runs it the way a user starts it (`objectnet-wizard`,
or `python -m wizard` before the package is installed), keys go in with send-keys and the
screen comes back with capture-pane. Also `python tests/tui/terminal.py [RUNS]`: the time
from start to the first screen, median of RUNS starts, in this checkout (no answers.toml:
the start question) and, with WIZARD_PROJECT=FOLDER, in that folder (with an answers.toml
there, the step it opens at)."""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRST_SCREENS = (" of 10 · ", "There is no answers.toml")
"""The first screen a user acts on: a step (an answers file was opened, or the start question
was answered) or, with none in the folder, the start question."""


def wizard_command(*args: str) -> list[str]:
    """How a user starts the wizard: the console script when installed beside Python."""
    script = Path(sys.executable).with_name("objectnet-wizard")
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-m", "wizard", *args]


class Terminal:
    """One tmux server (its own socket) with one 80x24 window running `command` in `cwd`.
    The command's exit status is written to `rc_file` when it ends."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str] | None = None,
                 size: tuple[int, int] = (80, 24)) -> None:
        self.socket = f"wizard-test-{uuid.uuid4().hex[:8]}"
        self.rc_file = Path(tempfile.mkdtemp(prefix="wizard-tmux-")) / "rc"
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        settings = {"PYTHONPATH": path, "TERM": "xterm-256color",
                    "COLORTERM": "truecolor", **(env or {})}
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items())
        # pytest exports COLUMNS=80 and LINES=24, and Textual takes them over the terminal's
        # own size: a 60x20 window would be drawn as 80x24 and scroll.
        unset = "".join(f"-u {name} " for name in ("NO_COLOR", "COLUMNS", "LINES")
                        if name not in settings)
        shell = (f"cd {shlex.quote(str(cwd))} && env {unset}{exports} "
                 f"{shlex.join(command)}; echo $? > {shlex.quote(str(self.rc_file))}")
        self._tmux("new-session", "-d", "-s", "wizard", "-x", str(size[0]), "-y", str(size[1]),
                   shell)
        self.socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                capture_output=True, text=True, timeout=10)
        return result.stdout

    def capture(self, escapes: bool = False) -> str:
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "wizard")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "wizard", *keys)

    def wait_for(self, text: str | tuple[str, ...], timeout: float = 30,
                 quiet: bool = False) -> str:
        """The screen once it shows `text` (or any of several); `quiet`: the screen as it is
        when `timeout` passes or the wizard exits, instead of an AssertionError."""
        texts = (text,) if isinstance(text, str) else text
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if any(t in screen for t in texts):
                return screen
            if quiet and (time.monotonic() > deadline or self.rc_file.is_file()):
                return screen
            if time.monotonic() > deadline or self.rc_file.is_file():
                ended = (f" (the wizard exited with {self.rc_file.read_text().strip()})"
                         if self.rc_file.is_file() else "")
                raise AssertionError(f"{text!r} did not appear{ended}; the screen shows:\n"
                                     f"{screen}")
            time.sleep(0.02)

    def wait_gone(self, text: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while text in (screen := self.capture()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} stayed on the screen:\n{screen}")
            time.sleep(0.02)
        return screen

    def exit_code(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while not self.rc_file.is_file() or not self.rc_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"the wizard did not exit:\n{self.capture()}")
            time.sleep(0.05)
        return int(self.rc_file.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)
        if self.socket_path:  # tmux leaves the socket file behind
            Path(self.socket_path).unlink(missing_ok=True)
        shutil.rmtree(self.rc_file.parent, ignore_errors=True)


def time_to_first_screen(cwd: Path, runs: int = 7) -> list[float]:
    """Seconds from launching the wizard in tmux to its first screen, one per run."""
    times = []
    for _ in range(runs):
        started = time.monotonic()
        terminal = Terminal(wizard_command(), cwd,
                            env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        try:
            terminal.wait_for(FIRST_SCREENS, timeout=30)
            times.append(time.monotonic() - started)
            terminal.keys("C-q")
            # A step still rendering (the review) asks before quitting: say yes.
            if "(y)" in terminal.wait_for("(y)", timeout=1.5, quiet=True):
                terminal.keys("y")
            terminal.exit_code()
        finally:
            terminal.close()
    return times


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    folder = Path(os.environ.get("WIZARD_PROJECT", REPO))
    # As a user's second start finds it: the checkout's bytecode cached. With
    # PYTHONDONTWRITEBYTECODE set (as some shells and CI set it), every start would compile
    # the wizard's modules again, about 0.1 s on a slow core.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "wizard"),
                    str(REPO / "engine")], check=True, stdout=subprocess.DEVNULL)
    measured = time_to_first_screen(folder, count)
    print(f"command: {shlex.join(wizard_command())} (in {folder}, under tmux 80x24, bytecode "
          "cached)")
    print("runs: " + ", ".join(f"{t:.2f}" for t in measured) + " s")
    print(f"median of {count}: {statistics.median(measured):.2f} s")
