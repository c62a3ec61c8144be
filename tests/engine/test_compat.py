"""engine/ runs inside old base images: it must stay within Python 3.8 and import nothing of
the host tool."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import REPO

ENGINE = REPO / "engine"


def test_engine_needs_at_most_python_3_8() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "vermin"), "--target=3.8-", "--violations", "--no-tips",
         "--eval-annotations", "--backport", "dataclasses", str(ENGINE)],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_holds_engine_to_python_3_8_syntax() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--target-version", "py38",
                             str(ENGINE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_imports_only_torch_torchvision_pillow_and_optional_extras() -> None:
    allowed = {"torch", "torchvision", "PIL", "engine"}
    optional = {"pyspng", "numpy", "safetensors", "rich"}  # each imported behind a fallback
    stdlib = set(sys.stdlib_module_names)
    for path in ENGINE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed | optional | stdlib, f"{path} imports {name}"
