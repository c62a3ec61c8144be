"""Fixtures for the TUI tests: a small project folder, a copy of engine/ and a tiny model
with a seeded random-weight checkpoint, so every check runs for real and fast."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TINY_MODELS = textwrap.dedent('''\
    """Tiny models for the wizard's TUI tests: 1000 ImageNet-like outputs, a few weights."""

    import torch.nn as nn


    class tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.AdaptiveAvgPool2d(1))
            self.fc = nn.Linear(4, 1000)

        def forward(self, x):
            return self.fc(self.features(x).flatten(1))


    class tiny_head(nn.Module):
        """Same body, but its last layer is called head: a checkpoint of tiny misses it."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, stride=4), nn.AdaptiveAvgPool2d(1))
            self.head = nn.Linear(4, 1000)

        def forward(self, x):
            return self.head(self.features(x).flatten(1))
    ''')

TINY_TRANSFORM = textwrap.dedent('''\
    import torchvision.transforms as transforms


    class data_transform:
        def getTransform(self):
            return transforms.Compose([transforms.Resize(32), transforms.CenterCrop(32),
                                       transforms.ToTensor()])
    ''')


@pytest.fixture(scope="session")
def project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wizard.samples import make_checkpoint

    root = tmp_path_factory.mktemp("template")
    shutil.copytree(REPO / "engine", root / "engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    model = root / "model"
    model.mkdir()
    (model / "model_description.py").write_text(TINY_MODELS)
    (model / "data_transform_description.py").write_text(TINY_TRANSFORM)
    make_checkpoint(model / "tiny.pth", model, "tiny")
    return root


@pytest.fixture
def project(project_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the small project folder for one test."""
    root = tmp_path / "project"
    shutil.copytree(project_template, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root
