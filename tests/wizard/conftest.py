"""Wizard fixtures: a real project folder (engine/ copied, a small model, its checkpoint and
an answers file) that the wizard renders, smoke-tests and builds like a user's."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from support import REPO, save_checkpoint

SMALL_MODEL = '''
import torch.nn as nn


class small(nn.Module):
    """A small convnet with the 1000 ImageNet outputs: a real model, fast on 2 cores."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, 1000)

    def forward(self, x):
        return self.fc(self.features(x)) * 8.0
'''

SMALL_TRANSFORM = '''
import torchvision.transforms as transforms


class data_transform:
    def getTransform(self):
        return transforms.Compose([
            transforms.Resize(72),
            transforms.CenterCrop(64),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])
'''


def make_project(root: Path, base_image: str = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                 registry: str = "docker.synapse.org", seed: int = 0) -> Path:
    """A project folder as a user has it: engine/, model/ with code and checkpoint, answers."""
    shutil.copytree(REPO / "engine", root / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    model = root / "model"
    model.mkdir()
    (model / "model_description.py").write_text(textwrap.dedent(SMALL_MODEL))
    (model / "data_transform_description.py").write_text(textwrap.dedent(SMALL_TRANSFORM))
    save_checkpoint(model, "small", model / "small.pth", seed=seed)
    (root / "answers.toml").write_text(textwrap.dedent(f'''\
        model_class = "small"
        checkpoint = "small.pth"
        base_image = "{base_image}"
        batch_size = 8
        workers = 1
        registry = "{registry}"
        synapse_project_id = "syn12345678"
        repository = "small-model"
        tag = "v1"
    '''))
    return root


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
