"""The first screen must come quickly: nothing heavy is imported before it (torch, docker
and jinja2 load inside the workers that need them), checked in a fresh interpreter."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

import pytest
from terminal import REPO, time_to_first_screen

HEAVY = ("torch", "torchvision", "docker", "jinja2", "numpy", "PIL", "engine")


def test_app_import_loads_nothing_heavy() -> None:
    code = ("import json, sys; import wizard.tui.app; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []


@pytest.mark.slow
@pytest.mark.skipif(subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
                    reason="needs tmux")
def test_first_screen_in_a_real_terminal_is_quick(project) -> None:
    # The goal is under 1 s (tests/tui/terminal.py measures it); the bound leaves room for
    # a busy test machine and still catches torch creeping into the start-up path.
    assert statistics.median(time_to_first_screen(project, runs=3)) < 2.0
