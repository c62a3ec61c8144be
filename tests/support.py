"""Helpers shared by the tests (importable as `support`: tests/ is on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def anchors_dir() -> Path | None:
    """../shared/anchors when this checkout has it (real ObjectNet samples and mappings);
    tests that use it skip elsewhere."""
    configured = os.environ.get("OBJECTNET_ANCHORS")
    candidate = Path(configured) if configured else REPO.parent / "shared" / "anchors"
    return candidate if candidate.is_dir() else None


def save_checkpoint(plugin_dir: Path, class_name: str, path: Path, seed: int = 0,
                    **save_kwargs) -> Path:
    """A seeded random-weight state_dict of `class_name` from `plugin_dir`."""
    from engine.plugin import build_model

    torch.manual_seed(seed)
    model = build_model(plugin_dir, class_name)
    torch.save(model.state_dict(), str(path), **save_kwargs)
    return path


def engine_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "engine", *[str(a) for a in args]]


def run_engine(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """The engine's real command line, in a child process, from the repository root."""
    return subprocess.run(engine_command(*args), cwd=str(REPO), capture_output=True, text=True,
                          timeout=timeout)


def read_rows(path: Path) -> list[list[str]]:
    return [line.rstrip("\n").split(",") for line in path.read_text().splitlines(True)]
