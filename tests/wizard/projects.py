"""Project folders as users have them, shared by the wizard's tests (a module with a unique
name, so test files import it without going through any conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import REPO, write_plugin

from wizard.answers import Answers
from wizard.answers_file import save_answers
from wizard.samples import make_checkpoint


def make_project(root: Path, seed: int = 1) -> Path:
    """A project folder as users have it: engine/ (copied from this checkout), model/ with a
    tiny model and a 64-pixel transform, and a seeded random-weight checkpoint."""
    shutil.copytree(REPO / "engine", root / "engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    model = write_plugin(root / "model")
    make_checkpoint(model / "tiny.pth", model, "tiny", seed=seed)
    return root


def tiny_answers(base_image: str = "objectnet-wizard-test/torch:bookworm",
                 registry: str = "127.0.0.1:5000", tag: str = "v1", **changes) -> Answers:
    """Answers for the tiny project; mode 2 gives five distinct real ids per row, so the
    comparison has something to compare."""
    values = dict(model_class="tiny", checkpoint="tiny.pth", base_image=base_image,
                  registry=registry, synapse_project_id="syn123", repository="wizard-e2e",
                  tag=tag, workers=1, gpus=0, batch_size=16, convert_outputs_mode=2)
    values.update(changes)
    return Answers(**values)


def make_answered_project(root: Path, **changes) -> Path:
    """make_project plus an answers.toml for tiny_answers(**changes) in its root."""
    make_project(root)
    save_answers(tiny_answers(**changes), root / "answers.toml")
    return root
