"""One mapping from answers to the engine: the local smoke run and the image run the same
Config but for the paths and what only applies locally, and the ENTRYPOINT and the settings
label are that Config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from projects import tiny_answers

from engine.cli import config_from_args
from wizard.engine_settings import (
    LOCAL_ONLY,
    entrypoint,
    image_config,
    local_config,
    settings_label,
)

VARIANTS = [
    {},
    {"workers": None, "gpus": None},
    {"workers": 0, "gpus": 2, "batch_size": 1, "softmax": False, "convert_outputs_mode": 0},
    {"precision": "bf16", "trust_checkpoint": True, "model_dir": "models/v2",
     "checkpoint": "weights/best.safetensors"},
]


@pytest.mark.parametrize("changes", VARIANTS, ids=range(len(VARIANTS)))
def test_local_and_image_runs_differ_only_in_paths_and_overwrite(changes, tmp_path: Path) -> None:
    answers = tiny_answers(**changes)
    local = dataclasses.asdict(local_config(answers, tmp_path, tmp_path / "images",
                                            tmp_path / "out.csv"))
    image = dataclasses.asdict(image_config(answers))
    differing = {name for name in local if local[name] != image[name]}
    assert differing <= LOCAL_ONLY
    assert {name: local[name] for name in local if name not in LOCAL_ONLY} == \
        {name: image[name] for name in image if name not in LOCAL_ONLY}
    assert local["overwrite"] and not image["overwrite"]


@pytest.mark.parametrize("changes", VARIANTS, ids=range(len(VARIANTS)))
def test_the_entrypoint_and_label_are_the_image_config(changes) -> None:
    answers = tiny_answers(**changes)
    command = entrypoint(answers)
    assert command[:3] == ["python3", "-m", "engine"]
    assert config_from_args(command[3:]) == image_config(answers)
    label = settings_label(image_config(answers))
    assert f"batch_size={answers.batch_size} " in label
    assert f"precision={answers.precision} " in label
