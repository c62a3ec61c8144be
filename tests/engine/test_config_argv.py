"""The engine's command line and its inverse agree: parse(to_argv(c)) == c for every setting the
command line carries, so an ENTRYPOINT built from a Config runs exactly that Config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.cli import config_from_args, to_argv
from engine.config import MB, PRECISIONS, Config

NOT_ON_THE_COMMAND_LINE = {"channels_last", "decoder", "fastpath"}
"""Config fields only the Python API sets; they keep their defaults in a parsed Config."""

_paths = st.from_regex(r"[A-Za-z0-9_./-]{1,20}", fullmatch=True).filter(
    lambda text: not text.startswith("-")).map(Path)
_counts = st.integers(min_value=0, max_value=4096)
CARRIED = {
    "images_dir": _paths,
    "output_file": _paths,
    "model_class": st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    "checkpoint": _paths,
    "model_dir": _paths,
    "workers": st.none() | _counts,
    "gpus": st.none() | _counts,
    "batch_size": st.integers(min_value=1, max_value=4096),
    "softmax": st.booleans(),
    "convert_outputs_mode": st.sampled_from((0, 1, 2)),
    "border": _counts,
    "overwrite": st.booleans(),
    "trust_checkpoint": st.booleans(),
    "precision": st.sampled_from(PRECISIONS),
    "compile": st.booleans(),
    "fast_load": st.booleans(),
    "score": st.booleans(),
    "max_image_bytes": st.integers(min_value=1, max_value=1 << 20).map(lambda mb: mb * MB),
}


def test_every_field_is_either_carried_or_listed() -> None:
    fields = {field.name for field in dataclasses.fields(Config)}
    assert set(CARRIED) | NOT_ON_THE_COMMAND_LINE == fields
    assert not set(CARRIED) & NOT_ON_THE_COMMAND_LINE


@given(st.fixed_dictionaries(CARRIED))
def test_to_argv_parses_back_into_the_same_config(values: dict) -> None:
    config = Config(**values)
    assert config_from_args(to_argv(config)) == config


def test_the_defaults_give_the_shortest_command_line() -> None:
    config = Config(Path("/input"), Path("/output/predictions.csv"), "resnet", Path("m.pth"))
    assert to_argv(config) == [
        "/input", "/output/predictions.csv", "resnet", "m.pth", "--model-dir", "model",
        "--batch_size", "96", "--softmax", "true", "--convert_outputs_mode", "1",
        "--precision", "fp32"]
