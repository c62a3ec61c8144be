"""The first screen must come quickly: nothing heavy is imported before it (torch, docker
and jinja2 load inside the workers that need them), checked in a fresh interpreter.

How quickly is a benchmark, not a test (a timed test fails on a busy machine, as it did in
CI, and proves nothing on a quiet one): `python tests/tui/terminal.py 9` prints the median
time to the first screen under tmux."""

from __future__ import annotations

import json
import subprocess
import sys

from terminal import REPO

HEAVY = ("torch", "torchvision", "docker", "jinja2", "numpy", "PIL", "engine")


def test_app_import_loads_nothing_heavy() -> None:
    code = ("import json, sys; import wizard.tui.app; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []
