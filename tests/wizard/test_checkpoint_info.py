"""What checkpoint_info learns from real files written by the local torch, without loading
them."""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest

from wizard.base_images import parse_version
from wizard.checkpoint_info import (
    CheckpointFormat,
    describe,
    inspect,
    local_torch_version,
    sha256_file,
)
from wizard.errors import CheckpointError, WizardError

torch = pytest.importorskip("torch")


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 10)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("checkpoints")
    model = Tiny()
    state = model.state_dict()
    paths = {name: folder / name for name in (
        "state.pth", "module.pth", "legacy.pth", "legacy_module.pth", "protocol4.pth",
        "protocol4_module.pth", "nested.pth", "script.pt", "meta.safetensors",
        "plain.safetensors", "other.pkl", "notes.txt", "other.zip", "empty.pth")}
    torch.save(state, paths["state.pth"])
    torch.save(model, paths["module.pth"])
    torch.save(state, paths["legacy.pth"], _use_new_zipfile_serialization=False)
    torch.save(model, paths["legacy_module.pth"], _use_new_zipfile_serialization=False)
    torch.save(state, paths["protocol4.pth"], pickle_protocol=4)
    torch.save(model, paths["protocol4_module.pth"], pickle_protocol=4)
    torch.save({"model": state, "epoch": 3, "best": 0.71}, paths["nested.pth"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in 2.14
        traced = torch.jit.trace(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    traced.save(str(paths["script.pt"]))
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {key: value.contiguous() for key, value in state.items()}
    safetensors_torch.save_file(tensors, paths["meta.safetensors"],
                                metadata={"format": "pt", "torch_version": "2.3.1"})
    safetensors_torch.save_file(tensors, paths["plain.safetensors"])
    paths["other.pkl"].write_bytes(pickle.dumps({"a": 1}, protocol=2))
    paths["notes.txt"].write_text("not a checkpoint\n")
    with zipfile.ZipFile(paths["other.zip"], "w") as archive:
        archive.writestr("readme.txt", "hello")
    paths["empty.pth"].write_bytes(b"")
    return paths


@pytest.mark.parametrize(("name", "kind", "classes"), [
    ("state.pth", CheckpointFormat.TORCH_ZIP, ()),
    ("nested.pth", CheckpointFormat.TORCH_ZIP, ()),
    ("protocol4.pth", CheckpointFormat.TORCH_ZIP, ()),
    ("module.pth", CheckpointFormat.TORCH_ZIP, "Tiny"),
    ("protocol4_module.pth", CheckpointFormat.TORCH_ZIP, "Tiny"),
    ("legacy.pth", CheckpointFormat.TORCH_LEGACY, ()),
    ("legacy_module.pth", CheckpointFormat.TORCH_LEGACY, "Tiny"),
    ("script.pt", CheckpointFormat.TORCHSCRIPT, None),
    ("meta.safetensors", CheckpointFormat.SAFETENSORS, ()),
    ("plain.safetensors", CheckpointFormat.SAFETENSORS, ()),
    ("other.pkl", CheckpointFormat.UNKNOWN, None),
    ("notes.txt", CheckpointFormat.UNKNOWN, None),
    ("other.zip", CheckpointFormat.UNKNOWN, None),
    ("empty.pth", CheckpointFormat.UNKNOWN, None),
])
def test_format_and_pickled_classes(files, name, kind, classes):
    info = inspect(files[name])
    assert info.format is kind
    if classes == "Tiny":
        assert f"{__name__}.Tiny" in info.pickled_classes
        assert "torch.nn.modules.conv.Conv2d" in info.pickled_classes
        assert info.needs_trust
        assert "needs trust_checkpoint" in describe(info)
    else:
        assert info.pickled_classes == classes
        assert not info.needs_trust
    assert info.size == files[name].stat().st_size
    assert info.sha256 == hashlib.sha256(files[name].read_bytes()).hexdigest()
    assert describe(info).startswith(f"{name}: ")


def test_nothing_is_unpickled(files, tmp_path):
    # A pickle whose loading would create a file: inspecting it must not.
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "payload.pth"
    torch.save({"weights": torch.zeros(1), "payload": Payload()}, path)
    info = inspect(path)
    assert not marker.exists()
    assert "io.open" in info.pickled_classes or "builtins.open" in info.pickled_classes


def test_recorded_torch_version_of_safetensors(files):
    info = inspect(files["meta.safetensors"])
    assert info.torch_version == "2.3.1"
    assert inspect(files["plain.safetensors"]).torch_version is None


def test_zip_records_give_a_lower_bound(files):
    local = parse_version(torch.__version__)
    for name in ("state.pth", "module.pth", "script.pt"):
        info = inspect(files[name])
        assert info.torch_version is None
        # Each bound is a version this torch (which wrote the file) is at or above.
        if info.torch_version_min is not None:
            assert parse_version(info.torch_version_min) <= local
            assert "record" in info.evidence
    if local >= (2, 7, 0):
        assert inspect(files["state.pth"]).torch_version_min == "2.7"
    assert inspect(files["legacy.pth"]).torch_version_min is None


def test_torch_for_check_prefers_what_the_file_proves(files):
    info = inspect(files["state.pth"], with_sha256=False)
    assert info.sha256 is None
    assert info.torch_for_check("2.14.1") == "2.14.1"
    if info.torch_version_min:
        assert info.torch_for_check("2.0.0") == info.torch_version_min
        assert info.torch_for_check(None) == info.torch_version_min
    assert inspect(files["meta.safetensors"]).torch_for_check("2.14.1") == "2.3.1"



def test_a_legacy_checkpoint_means_torch_before_1_6(files):
    """Issue 10: the legacy format was taken for "likely saved by the torch installed here".
    It is what torch < 1.6 wrote, so any base image the engine supports reads it."""
    from wizard import base_images

    legacy = inspect(files["legacy.pth"], with_sha256=False)
    assert legacy.torch_for_check("2.14.1") == "1.5.1"
    assert legacy.torch_for_check(None) == "1.5.1"
    image = base_images.suggest(legacy.torch_for_check(None))
    assert image.engine_supported
    assert image.torch_version[:2] == min(i.torch_version[:2] for i in base_images.load_table()
                                          if i.engine_supported)
    assert base_images.check(image.ref, "1.5.1") == []


def test_local_torch_version():
    assert local_torch_version() == torch.__version__


def test_sha256_file_streams(tmp_path):
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 20000
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_unreadable_checkpoints_raise_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist: check the checkpoint setting"):
        inspect(tmp_path / "absent.pth")
    with pytest.raises(WizardError, match="is a folder"):
        inspect(tmp_path)


def test_damaged_torch_files_are_still_reported(tmp_path, files):
    data = files["state.pth"].read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    assert inspect(truncated).format is CheckpointFormat.UNKNOWN
    legacy = files["legacy.pth"].read_bytes()
    broken = tmp_path / "broken_legacy.pth"
    broken.write_bytes(legacy[:40])
    info = inspect(broken)
    assert info.format is CheckpointFormat.TORCH_LEGACY
    assert info.pickled_classes is None


def test_an_exploit_is_not_called_a_pickled_model(tmp_path):
    # Issue 11: a pickle that calls os.system is not "a whole pickled model" needing trust.
    class Exploit:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "exploit.pth"
    torch.save({"weights": torch.zeros(1), "payload": Exploit()}, path)
    info = inspect(path)
    assert info.foreign_globals == ("posix.system",)
    line = describe(info)
    assert "posix.system" in line and "not a model class" in line
    assert "needs trust_checkpoint" not in line


def test_the_check_stage_calls_an_exploit_what_it_is(tmp_path):
    from projects import make_project

    from wizard import findings

    class Exploit:
        def __reduce__(self):
            return (os.system, ("true",))

    root = make_project(tmp_path / "project")
    torch.save({"weights": torch.zeros(1), "payload": Exploit()}, root / "model" / "x.pth")
    _, found = findings.checkpoint(root / "model" / "x.pth", trust=False)
    line = next(f.detail for f in found if "x.pth" in f.detail)
    assert "posix.system" in line and "not a torch model class" in line
    assert "whole pickled model" not in line


def test_the_torch_a_base_image_should_match(files):
    from wizard.checkpoint_info import LEGACY_TORCH, checkpoint_torch, local_torch_version

    local = local_torch_version()
    assert checkpoint_torch(None) == (local, "no checkpoint yet: assumed to match the torch "
                                             "installed here")
    assert checkpoint_torch(files["meta.safetensors"]) == \
        ("2.3.1", "meta.safetensors records torch 2.3.1")
    version, why = checkpoint_torch(files["legacy.pth"])
    assert version == LEGACY_TORCH and why.startswith("legacy.pth is in the legacy format")
    version, why = checkpoint_torch(files["state.pth"])
    assert version == local and why.startswith("state.pth was likely saved by the torch "
                                               "installed here")
