"""Engine fixtures: plug-in folders with small real models and generated images."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import save_checkpoint, write_plugin

from wizard.samples import make_images


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with small real models and a 64-pixel transform (fast on 2 cores)."""
    return write_plugin(tmp_path_factory.mktemp("plugin"))


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
