"""Wizard fixtures: a real project folder (engine/ copied, a tiny model, its checkpoint and
an answers file) that the wizard renders, smoke-tests and builds like a user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import make_answered_project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_answered_project(tmp_path / "project",
                                 base_image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                                 registry="docker.synapse.org", synapse_project_id="syn12345678",
                                 repository="small-model", batch_size=8)
