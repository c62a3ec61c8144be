"""Shared fixtures: generated ObjectNet-like images, plug-in folders with seeded random-weight
models, and (from docker_env) the real Docker engine, base image and registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from docker_env import auth_registry, base_image, docker_client, registry  # noqa: E402,F401


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
