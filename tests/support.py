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


PLUGIN_MODELS = '''
import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock, ResNet


class tiny(nn.Module):
    """A small convnet with the 1000 ImageNet outputs."""

    def __init__(self, classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.features(x)) * 8.0


class tiny313(tiny):
    def __init__(self):
        super().__init__(classes=313)


class tiny10(tiny):
    def __init__(self):
        super().__init__(classes=10)


class resnet18(ResNet):
    def __init__(self):
        super().__init__(BasicBlock, [2, 2, 2, 2])


class batch_breaker(tiny):
    """Passes the engine's one-image start-up check, then fails on the first real batch."""

    def forward(self, x):
        if x.shape[0] > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(x)


class broken(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("cannot build")
'''

PLUGIN_TRANSFORM = '''
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


def write_plugin(folder: Path) -> Path:
    """A model folder with small real models (`tiny`: a convnet with the 1000 ImageNet
    outputs; `tiny313`, `tiny10`, `resnet18`, and `broken`, which fails to build) and a
    64-pixel transform: real models that run in seconds on 2 cores."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_description.py").write_text(PLUGIN_MODELS.lstrip())
    (folder / "data_transform_description.py").write_text(PLUGIN_TRANSFORM.lstrip())
    return folder


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
