"""`objectnet-wizard init`: an answers file that starts from what the model folder holds.

A researcher runs `init` beside a folder that usually has one model class and one
checkpoint; a generic example (resnet50, resnet50.pth) would only have to be corrected. What
is unambiguous is filled in: the one class defined in model_description.py itself (read
statically: nothing is imported or run), the one checkpoint-like file, and the base image
suggested for the torch that saved it. Anything ambiguous keeps the example and is named.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from wizard.model_folder import CHECKPOINT_SUFFIXES, listing


@dataclass(frozen=True)
class Discovery:
    values: dict[str, str] = field(default_factory=dict)
    """Settings found without doubt."""
    notes: list[str] = field(default_factory=list)
    """One line per setting: what was found, or why the example was kept."""


def own_classes(model_file: Path) -> list[str]:
    """Public classes defined at the top of model_description.py (not imported ones)."""
    try:
        tree = ast.parse(model_file.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return []
    return [node.name for node in tree.body
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_")]


def discover(model_dir: Path) -> Discovery:
    found = Discovery()
    if not model_dir.is_dir():
        found.notes.append(f"no {model_dir.name}/ folder: the example values were kept")
        return found
    classes = own_classes(model_dir / "model_description.py")
    if len(classes) == 1:
        found.values["model_class"] = classes[0]
        found.notes.append(f"model_class = {classes[0]!r}: the one class in "
                           "model_description.py")
    else:
        found.notes.append("model_class: " + (
            f"model_description.py defines {', '.join(classes)}: pick one" if classes
            else "no class found in model_description.py: set it"))
    checkpoints = [e.path for e in listing(model_dir, "")
                   if e.path.lower().endswith(CHECKPOINT_SUFFIXES)
                   and e.left_out in (None, "another checkpoint (include it with model_include "
                                             "if the model loads it)")]
    if len(checkpoints) == 1:
        found.values["checkpoint"] = checkpoints[0]
        found.notes.append(f"checkpoint = {checkpoints[0]!r}: the one checkpoint in "
                           f"{model_dir.name}/")
        image = _suggested_image(model_dir / checkpoints[0])
        if image is not None:
            found.values["base_image"] = image[0]
            found.notes.append(f"base_image = {image[0]!r}: {image[1]}")
    else:
        found.notes.append("checkpoint: " + (
            f"{len(checkpoints)} candidates ({', '.join(checkpoints[:4])}): pick one"
            if checkpoints else f"no checkpoint in {model_dir.name}/: copy it there"))
    return found


def _suggested_image(checkpoint: Path) -> tuple[str, str] | None:
    from wizard import base_images
    from wizard.checkpoint_info import inspect, local_torch_version

    try:
        info = inspect(checkpoint, with_sha256=False)
    except Exception:
        return None
    version = info.torch_for_check(local_torch_version())
    if version is None:
        return None
    try:
        return base_images.suggest(version).ref, f"suits a checkpoint from torch {version}"
    except ValueError:
        return None
