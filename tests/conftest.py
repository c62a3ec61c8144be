"""Shared fixtures: generated ObjectNet-like images, plug-in folders with seeded random-weight
models, and (from docker_env) the real Docker engine, base image and registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docker_env import auth_registry, base_image, docker_client, registry  # noqa: E402,F401
from package_index import build_index, pip_environment, serve  # noqa: E402


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def package_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real package index on 127.0.0.1 (see package_index.py); yields its simple URL."""
    root = tmp_path_factory.mktemp("index")
    build_index(root / "simple")
    with serve(root) as url:
        yield url


@pytest.fixture()
def pip_index(package_index: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """pip, in this process and its children, sees the test index and nothing else."""
    import os

    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    for key, value in pip_environment(package_index).items():
        if key.startswith("PIP_"):
            monkeypatch.setenv(key, value)
    return package_index
