"""The one set of checkpoint-format rules, on real files of each kind, and the engine's loader
and the wizard's inspection reading the same kind from each."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from engine import checkpoint_format as fmt
from engine.checkpoint import describe_format
from wizard.checkpoint_info import CheckpointFormat, inspect

WIZARD_NAME = {fmt.ZIP: CheckpointFormat.TORCH_ZIP, fmt.LEGACY: CheckpointFormat.TORCH_LEGACY,
               fmt.TORCHSCRIPT: CheckpointFormat.TORCHSCRIPT,
               fmt.SAFETENSORS: CheckpointFormat.SAFETENSORS, fmt.UNKNOWN: CheckpointFormat.UNKNOWN}


def _write(kind: str, path: Path) -> Path:
    model = torch.nn.Linear(3, 2)
    if kind == "zip":
        torch.save(model.state_dict(), path)
    elif kind == "legacy":
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    elif kind == "torchscript":
        torch.jit.save(torch.jit.script(model), str(path))
    elif kind == "safetensors":
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(path))
    elif kind == "other zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes/readme.txt", "not a checkpoint")
    else:
        path.write_bytes(b"\x00not a checkpoint at all\n")
    return path


@pytest.mark.parametrize(("kind", "expected"), [
    ("zip", fmt.ZIP), ("legacy", fmt.LEGACY), ("torchscript", fmt.TORCHSCRIPT),
    ("safetensors", fmt.SAFETENSORS), ("other zip", fmt.UNKNOWN), ("text", fmt.UNKNOWN)])
def test_one_sniffer_for_the_engine_and_the_wizard(kind: str, expected: str, tmp_path) -> None:
    path = _write(kind, tmp_path / "checkpoint")
    assert fmt.sniff(path) == expected
    assert inspect(path, with_sha256=False).format is WIZARD_NAME[expected]
    # The engine hands anything it does not recognise to torch.load, which names the problem.
    assert describe_format(path) == (fmt.LEGACY if expected == fmt.UNKNOWN else expected)
