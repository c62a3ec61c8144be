"""Engine fixtures: plug-in folders with small real models and generated images."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support import save_checkpoint

from wizard.samples import make_images

TINY_MODELS = '''
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


class broken(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("cannot build")
'''

TINY_TRANSFORM = '''
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


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with small real models and a 64-pixel transform (fast on 2 cores)."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "model_description.py").write_text(textwrap.dedent(TINY_MODELS))
    (folder / "data_transform_description.py").write_text(textwrap.dedent(TINY_TRANSFORM))
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(plugin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(plugin_dir, "tiny", tmp_path_factory.mktemp("ckpt") / "tiny.pth")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dozen ObjectNet-like PNGs of the usual sizes, some in subfolders."""
    root = tmp_path_factory.mktemp("images")
    make_images(root, 6, seed=1)
    make_images(root / "sub" / "deeper", 6, seed=2)
    return root
