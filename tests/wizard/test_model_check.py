"""The model step's background check, on real models and checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from wizard.model_check import check_model, list_classes
from wizard.samples import make_checkpoint


def test_classes_are_discovered(repo_root: Path) -> None:
    classes = list_classes(repo_root / "model")
    assert classes[:2] == ["resnet50", "resnext101_32x48d_wsl"]


def test_a_fitting_checkpoint_is_ok(repo_root: Path, tmp_path: Path) -> None:
    path = make_checkpoint(tmp_path / "r50.pth", repo_root / "model", "resnet50")
    result = check_model(repo_root / "model", "resnet50", path)
    assert result.ok and "loads into resnet50" in result.message
    assert result.checkpoint_format == "zip"


def test_a_mismatch_lists_keys(repo_root: Path, tmp_path: Path) -> None:
    from torchvision.models.resnet import BasicBlock, ResNet

    path = tmp_path / "r18.pth"
    torch.save(ResNet(BasicBlock, [2, 2, 2, 2]).state_dict(), str(path))
    result = check_model(repo_root / "model", "resnet50", path)
    assert not result.ok
    assert "layer1.0.conv3.weight" in result.missing
    assert any(s.startswith("layer1.0.conv1.weight") for s in result.shapes)


def test_missing_checkpoint_and_unknown_class(repo_root: Path, tmp_path: Path) -> None:
    result = check_model(repo_root / "model", "resnet50", tmp_path / "nope.pth")
    assert not result.ok and "does not exist" in result.message
    result = check_model(repo_root / "model", "resnet5O", tmp_path / "nope.pth")
    assert not result.ok and "Did you mean 'resnet50'?" in result.message


def test_a_checkpoint_that_cannot_be_read_or_is_no_file_is_one_line(repo_root: Path,
                                                                     tmp_path: Path) -> None:
    """A file the wizard may not read (here /proc/1/mem, refused even to root) was an
    "unexpected PermissionError" from `check`; a FIFO was said not to exist."""
    result = check_model(repo_root / "model", "resnet50", Path("/proc/1/mem"))
    assert not result.ok
    assert result.message == "cannot read checkpoint /proc/1/mem: Permission denied"
    fifo = tmp_path / "r50.pth"
    os.mkfifo(fifo)
    result = check_model(repo_root / "model", "resnet50", fifo)
    assert result.message == (f"checkpoint {fifo} is not a regular file (a FIFO): give the "
                              "checkpoint file")


def model_folder(tmp_path: Path, source: str) -> Path:
    """A model folder whose model_description.py is `source`."""
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model_description.py").write_text(source)
    return folder


def test_library_classes_are_offered_after_the_folders_own_and_marked(tmp_path) -> None:
    from wizard.model_check import class_choices

    folder = model_folder(tmp_path, "import torch.nn as nn\nfrom torch.nn import Linear\n\n\n"
                          "class mine(nn.Module):\n    pass\n")
    assert class_choices(folder)[0] == ("mine", "mine")
    assert ("Linear (library class from torch.nn.modules.linear)", "Linear") in \
        class_choices(folder)


def test_a_library_class_that_needs_arguments_gets_the_wrapper(tmp_path) -> None:
    from wizard.model_check import check_model

    folder = model_folder(tmp_path, "from torch.nn import Linear\n")
    result = check_model(folder, "Linear", folder / "none.pth")
    assert not result.ok
    assert "The engine builds the class with no arguments (it is imported from " \
        "torch.nn.modules.linear, not defined in model_description.py): add a wrapper to " \
        "model_description.py, e.g. class my_model(Linear): def __init__(self): " \
        "super().__init__(in_features=..., out_features=...)" in result.message


def test_the_wrapper_is_shown_as_three_lines_of_code(tmp_path) -> None:
    from wizard.model_check import check_model

    folder = model_folder(tmp_path, "import torch.nn as nn\nfrom torch.nn import Linear\n\n\n"
                          "class needy(nn.Module):\n    def __init__(self, width):\n"
                          "        super().__init__()\n")
    result = check_model(folder, "Linear", folder / "none.pth")
    assert result.example == ("class my_model(Linear):", "    def __init__(self):",
                              "        super().__init__(in_features=..., out_features=...)")
    assert result.shown().endswith(
        "add a wrapper to model_description.py, e.g.:\n"
        "    class my_model(Linear):\n"
        "        def __init__(self):\n"
        "            super().__init__(in_features=..., out_features=...)")
    own = check_model(folder, "needy", folder / "none.pth")
    assert own.example[-1] == "        super().__init__(width=...)"
    assert "(it is imported from" not in own.message
    # A class that builds, or fails for another reason, gets no wrapper.
    model_folder(tmp_path, "import torch.nn as nn\n\n\nclass broken(nn.Module):\n"
                 "    def __init__(self):\n        raise ValueError('no')\n")
    broken = check_model(folder, "broken", folder / "none.pth")
    assert not broken.ok and broken.example == () and broken.shown() == broken.message
