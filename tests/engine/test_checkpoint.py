"""Every way people save checkpoints loads into the class, and every misfit is explained."""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from support import save_checkpoint

from engine import checkpoint
from engine.errors import CheckpointError, ModelError
from engine.plugin import build_model


@pytest.fixture()
def reference(plugin_dir: Path, tmp_path: Path):
    path = save_checkpoint(plugin_dir, "tiny", tmp_path / "ref.pth", seed=3)
    return torch.load(str(path), weights_only=True)


def _loaded_state(plugin_dir: Path, path: Path, trust: bool = False):
    model = checkpoint.load_into(build_model(plugin_dir, "tiny"), path, trust=trust)
    return model.state_dict()


def _same(a, b) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: s,
        lambda s: {"state_dict": s, "epoch": 3},
        lambda s: {"model": s, "optimizer": {}},
        lambda s: {"model_state_dict": s},
        lambda s: OrderedDict(("module." + k, v) for k, v in s.items()),
        lambda s: {"state_dict": OrderedDict(("module." + k, v) for k, v in s.items())},
        lambda s: OrderedDict(("_orig_mod." + k, v) for k, v in s.items()),
    ],
    ids=["plain", "nested-state_dict", "nested-model", "model_state_dict", "dataparallel",
         "nested-dataparallel", "compiled"],
)
def test_state_dict_variants(plugin_dir: Path, tmp_path: Path, reference, wrap) -> None:
    path = tmp_path / "c.pth"
    torch.save(wrap(reference), str(path))
    assert _same(_loaded_state(plugin_dir, path), reference)


def test_legacy_pickle_format(plugin_dir: Path, tmp_path: Path, reference) -> None:
    path = tmp_path / "legacy.pth"
    torch.save(reference, str(path), _use_new_zipfile_serialization=False)
    assert checkpoint.describe_format(path) == "legacy"
    assert _same(_loaded_state(plugin_dir, path), reference)


def test_safetensors_with_and_without_the_library(plugin_dir: Path, tmp_path: Path, reference
                                                  ) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in reference.items()}, str(path))
    assert checkpoint.describe_format(path) == "safetensors"
    assert _same(_loaded_state(plugin_dir, path), reference)
    # Old base images rarely have the safetensors package: the plain reader must agree.
    plain = checkpoint._read_safetensors_plain(path)
    assert _same(OrderedDict(sorted(plain.items())), OrderedDict(sorted(reference.items())))


def test_torchscript_replaces_the_class(plugin_dir: Path, tmp_path: Path) -> None:
    model = build_model(plugin_dir, "tiny").eval()
    path = tmp_path / "scripted.pt"
    torch.jit.script(model).save(str(path))
    assert checkpoint.describe_format(path) == "torchscript"
    loaded = checkpoint.load_into(build_model(plugin_dir, "tiny10"), path)
    probe = torch.randn(2, 3, 64, 64)
    assert torch.allclose(loaded(probe), model(probe))


def test_pickled_model_needs_trust(plugin_dir: Path, tmp_path: Path) -> None:
    model = build_model(plugin_dir, "tiny")
    path = tmp_path / "whole.pth"
    torch.save(model, str(path))
    with pytest.raises(CheckpointError, match="--trust-checkpoint") as caught:
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
    assert "\n" not in str(caught.value)
    loaded = checkpoint.load_into(build_model(plugin_dir, "tiny"), path, trust=True)
    assert _same(loaded.state_dict(), model.state_dict())


def test_key_mismatch_names_keys_and_shapes(plugin_dir: Path, tmp_path: Path) -> None:
    path = save_checkpoint(plugin_dir, "tiny10", tmp_path / "ten.pth")
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
    message = str(caught.value)
    assert "fc.weight [10, 16] vs [1000, 16]" in message
    assert "Pick the class" in message

    path = save_checkpoint(plugin_dir, "resnet18", tmp_path / "r18.pth")
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
    message = str(caught.value)
    assert "missing (features.0.weight" in message and "unexpected (conv1.weight" in message


def _damaged(kind: str, tmp_path: Path, good: Path) -> Path:
    path = tmp_path / f"{kind}.pth"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello world\n")
    elif kind == "random":
        path.write_bytes(bytes(range(7, 256)) * 16)
    elif kind == "cut-short":
        path.write_bytes(good.read_bytes()[:3000])
    elif kind == "plain-pickle":
        path.write_bytes(b"\x80\x02K\x05.")  # pickle.dumps(5): not torch.save's
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    return path


DAMAGED = {
    "empty": "is empty (0 bytes): the save or the copy did not finish; save or copy it again",
    "text": "is text, not a checkpoint (it starts 'hello world'): give the file torch.save "
            "wrote (.pth, .pt) or a .safetensors file",
    "random": "is not a checkpoint torch.save, torch.jit.save or safetensors wrote (its first "
              "bytes: 07 08 09 0a 0b 0c 0d 0e): give the file torch.save wrote",
    "cut-short": "is a zip archive torch cannot read: cut short or damaged in a copy, or not "
                 "written by torch.save; copy it again, or save it with torch.save",
    "plain-pickle": "is not a checkpoint torch.save, torch.jit.save or safetensors wrote (its "
                    "first bytes: 80 02 4b 05 2e): give the file torch.save wrote",
    "fifo": "is not a regular file (a FIFO): give the checkpoint file",
    "device": "is not a regular file (a character device): give the checkpoint file",
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_checkpoint_says_what_the_file_is(plugin_dir: Path, tmp_path: Path,
                                                    kind: str) -> None:
    """Each used to get torch's words for it, or none: "could not be read: 101" (text),
    "EOFError" (empty), a paragraph about weights_only (random bytes), "does not exist" (a
    FIFO), an endless read (a device). Each is named as what it is, in one line."""
    good = save_checkpoint(plugin_dir, "tiny", tmp_path / "good.pth")
    path = _damaged(kind, tmp_path, good)
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
    assert str(caught.value) == f"checkpoint {path} {DAMAGED[kind]}"


def test_dict_without_weights(plugin_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 1, "lr": 0.1}, str(path))
    with pytest.raises(CheckpointError, match="its keys: epoch, lr"):
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)


def test_missing_checkpoint(plugin_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load_into(build_model(plugin_dir, "tiny"), tmp_path / "nope.pth")


def test_unknown_class_lists_what_is_there(plugin_dir: Path) -> None:
    with pytest.raises(ModelError) as caught:
        build_model(plugin_dir, "tiny3l3")
    message = str(caught.value)
    assert "tiny, tiny10, tiny313" in message and "Did you mean 'tiny313'?" in message


def test_class_that_fails_to_build(plugin_dir: Path) -> None:
    with pytest.raises(ModelError, match=r"broken\(\) from .* failed: RuntimeError: cannot build"):
        build_model(plugin_dir, "broken")


def test_a_second_model_folder_in_one_process_is_its_own(plugin_dir: Path, tmp_path: Path,
                                                           repo_root: Path) -> None:
    """The wizard looks at several model folders in one process: each load must come from
    the folder asked for, whatever was imported (or put on sys.path) before."""
    from engine.plugin import load_model_module, model_classes

    assert "tiny" in model_classes(load_model_module(plugin_dir))
    assert "resnet50" in model_classes(load_model_module(repo_root / "model"))
    assert "tiny" in model_classes(load_model_module(plugin_dir))
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_description.py").write_text("import torch.nn as nn\n\n\n"
                                                "class mine(nn.Linear):\n    pass\n")
    assert model_classes(load_model_module(other))[0] == "mine"


@pytest.mark.parametrize("prefix", ["net.", "model.", "backbone.", "encoder.", "net.module."])
def test_a_wrapper_prefix_is_removed_and_logged(plugin_dir: Path, tmp_path: Path, reference,
                                                prefix: str) -> None:
    path = tmp_path / "wrapped.pth"
    torch.save(OrderedDict((prefix + k, v) for k, v in reference.items()), str(path))
    lines: list[str] = []
    model = checkpoint.load_into(build_model(plugin_dir, "tiny"), path, log=lines.append)
    assert _same(model.state_dict(), reference)
    assert lines == [f"checkpoint wrapped.pth: removed the prefix {prefix!r} from every key"]


def test_a_prefix_the_model_has_is_added(plugin_dir: Path, tmp_path: Path, reference) -> None:
    """The model is the wrapper here: its keys carry `inner.`, the checkpoint's do not."""
    import torch.nn as nn

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = build_model(plugin_dir, "tiny")

    path = tmp_path / "bare.pth"
    torch.save(reference, str(path))
    lines: list[str] = []
    model = checkpoint.load_into(Wrapper(), path, log=lines.append)
    assert _same(model.inner.state_dict(), reference)
    assert lines == ["checkpoint bare.pth: added the prefix 'inner.' to every key"]


def test_a_prefix_on_only_some_keys_is_refused_naming_the_pattern(
        plugin_dir: Path, tmp_path: Path, reference) -> None:
    keys = list(reference)
    state = OrderedDict((("net." + k) if i % 2 else k, v)
                        for i, (k, v) in enumerate(reference.items()))
    state["net.extra.weight"] = torch.zeros(1)
    path = tmp_path / "half.pth"
    torch.save(state, str(path))
    with pytest.raises(CheckpointError) as caught:
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
    message = str(caught.value)
    assert f"removing the prefix 'net.' maps {len(keys) // 2} of the {len(keys) // 2 + 1} " \
        "unexpected keys onto missing ones" in message
    assert "0 missing keys are left over" in message


def test_a_prefix_with_a_wrong_shape_is_refused(plugin_dir: Path, tmp_path: Path,
                                                reference) -> None:
    state = OrderedDict(("net." + k, v) for k, v in reference.items())
    state["net.fc.bias"] = torch.zeros(7)
    path = tmp_path / "shape.pth"
    torch.save(state, str(path))
    expected = re.escape("after the change (removed the prefix 'net.'")
    with pytest.raises(CheckpointError, match=expected):
        checkpoint.load_into(build_model(plugin_dir, "tiny"), path)
