"""What of the model folder goes into the image, and how it is copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.errors import RenderError
from wizard.model_folder import copy_plan, included, listing, resolve, summary_lines


def make(folder: Path, names: list[str]) -> Path:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x" * 10)
    return folder


def test_answers_level_includes_and_excludes(tmp_path: Path) -> None:
    folder = make(tmp_path / "m", ["model_description.py", "w/best.pth", "extra.bin",
                                   "notes/a.ipynb", "lib/fast.so", "labels.yaml"])
    default = {e.path: e.left_out for e in listing(folder, "w/best.pth")}
    assert default["extra.bin"].startswith("another checkpoint")
    assert default["lib/fast.so"] is None and default["labels.yaml"] is None
    chosen = [e.path for e in included(listing(folder, "w/best.pth", include=["extra.bin"],
                                               exclude=["notes/*"]))]
    assert chosen == ["extra.bin", "labels.yaml", "model_description.py", "lib/fast.so",
                      "w/best.pth"]
    with pytest.raises(RenderError, match=r"model_exclude matches the checkpoint w/best\.pth"):
        resolve(folder, "w/best.pth", exclude=["*.pth"])
    with pytest.raises(RenderError, match=r"model_description\.py would not go into the image"):
        resolve(folder, "w/best.pth", exclude=["*.py"])


def test_the_checkpoint_keeps_a_layer_of_its_own(tmp_path: Path) -> None:
    files = ["a.py", "pkg/__init__.py", "pkg/sub/x.json", "w/best.pth", "w/cfg.json",
             "w/deep/t.txt"]
    plan = copy_plan(files, "model", "w/best.pth", "/opt/objectnet/model")
    assert [c.argv for c in plan] == [
        ["model/a.py", "/opt/objectnet/model/"],
        ["model/pkg/", "/opt/objectnet/model/pkg/"],
        ["model/w/cfg.json", "/opt/objectnet/model/w/"],
        ["model/w/deep/", "/opt/objectnet/model/w/deep/"],
    ]


def test_summary_names_sizes_and_reasons(tmp_path: Path) -> None:
    folder = make(tmp_path / "m", ["model_description.py", "c.pth", "old.pth", ".env"])
    lines = summary_lines(listing(folder, "c.pth"))
    assert lines[0] == "2 files, 20 B go into the image:"
    assert "  c.pth  10 B" in lines and "  .env: named like credentials" in lines


def test_checkpoint_candidates_are_the_files_that_are_not_code_or_text(tmp_path: Path) -> None:
    from wizard.model_folder import checkpoint_candidates

    folder = make(tmp_path / "m", ["model_description.py", "best.pth", "w/epoch3.ckpt",
                                   "labels.JSON", "README.md", "weights.npz", ".hidden.pth",
                                   "__pycache__/x.pth", "a/b/too_deep.pth"])
    assert checkpoint_candidates(folder) == ["best.pth", "weights.npz", "w/epoch3.ckpt"]
    assert checkpoint_candidates(tmp_path / "absent") == []
