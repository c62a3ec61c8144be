"""The findings producers on real project folders, real checkpoints, the real torch installed
here and (marked docker) the real engine: what `check`, the pipeline's check stage and the
TUI's steps all show."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from projects import make_project, tiny_answers
from support import save_checkpoint

from wizard import docker_ops, findings
from wizard.findings import Area, Finding, Status

NO_ENGINE = "unix:///nonexistent/docker.sock"
OLD = "pytorch/pytorch:1.13.1-cuda11.6-cudnn8-runtime"
FIRST_HOPPER = "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def test_an_error_blocks_and_its_area_sets_the_exit_code() -> None:
    advice = Finding("base image", Status.WARNING, "not present locally", "docker pull it")
    missing = Finding("Docker engine", Status.ERROR, "no engine")
    misfit = Finding("checkpoint", Status.ERROR, "does not fit", area=Area.MODEL)
    assert not advice.blocking and missing.blocking and not missing.ok
    assert findings.ready([advice]) and not findings.ready([advice, missing])
    assert not findings.model_problem([advice, missing])
    assert findings.model_problem([missing, misfit])
    assert str(advice) == "not present locally: docker pull it" and str(missing) == "no engine"
    assert [f.mark for f in (advice, missing, findings.pending("GPUs"))] == ["!", "✗", "…"]
    assert misfit.shown == "does not fit"


def test_project_folder(root: Path, tmp_path: Path) -> None:
    assert findings.project(root).ok
    elsewhere = findings.project(tmp_path)
    assert elsewhere.blocking and "no engine/ folder" in elsewhere.detail
    assert "--answers" in elsewhere.fix


def test_no_docker_engine_is_a_finding_with_what_it_blocks() -> None:
    (found,) = findings.docker(functools.partial(docker_ops.connect, NO_ENGINE), "any/image:1")
    assert found.name == findings.DOCKER and found.blocking and found.area is Area.ENVIRONMENT
    assert found.detail.startswith(f"no Docker engine answers at {NO_ENGINE}")
    assert found.fix == findings.DOCKER_FIX


@pytest.mark.docker
def test_docker_engine_and_base_image_on_the_real_engine(base_image: str) -> None:
    engine, image = findings.docker(docker_ops.connect, base_image)
    assert engine.ok and engine.detail.startswith("Docker ") and " at " in engine.detail
    assert image.ok and image.detail == f"{base_image} is present"
    _, absent = findings.docker(docker_ops.connect, "objectnet-wizard-test/absent:findings9")
    assert absent.status is Status.WARNING and "is not present locally" in absent.detail
    assert "docker pull objectnet-wizard-test/absent:findings9" in absent.fix
    (engine_only,) = findings.docker(docker_ops.connect)
    assert engine_only == engine


def test_local_torch_and_the_gpus_it_sees() -> None:
    version, gpus = findings.local_torch()
    assert version.ok and version.detail.startswith(f"torch {torch.__version__}:")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert gpus.ok == (count > 0)
    assert gpus.detail.startswith(f"{count}: " if count else "none visible")


def test_a_torch_that_fails_to_import_is_shown_as_missing() -> None:
    def broken() -> tuple[str | None, list[str]]:
        raise ImportError("libtorch_cpu.so: cannot open shared object file")

    torch_row, gpus = findings.local_torch(broken)
    assert torch_row.blocking and torch_row.fix == findings.TORCH_FIX
    assert torch_row.detail == "an import failed: libtorch_cpu.so: cannot open shared object file"
    assert gpus.status is Status.WARNING and gpus.detail == "unknown without torch"
    assert findings.local_torch(lambda: (None, []))[0].detail == \
        "not installed next to the wizard"


def test_no_requirements_file_means_nothing_to_report(root: Path) -> None:
    assert findings.requirements(tiny_answers(), root) == ([], None)


def test_requirements_without_an_engine_say_what_to_start(root: Path) -> None:
    (root / "model" / "requirements.txt").write_text("six\n")
    (found,), site = findings.requirements(
        tiny_answers(), root, functools.partial(docker_ops.connect, NO_ENGINE))
    assert site is None and found.blocking and found.area is Area.ENVIRONMENT
    assert "cannot read what objectnet-wizard-test/torch:bookworm provides" in found.detail


def test_a_fitting_checkpoint(root: Path) -> None:
    found = findings.model(root / "model", "tiny", root / "model" / "tiny.pth")
    assert found.ok and found.area is Area.MODEL
    assert found.detail.startswith("tiny.pth loads into tiny (")


def test_a_misfit_names_the_keys_briefly_and_in_the_engines_words(root: Path) -> None:
    description = root / "model" / "model_description.py"
    description.write_text(description.read_text() + "\n\nclass tiny_head(tiny):\n"
                           "    def __init__(self):\n        super().__init__()\n"
                           "        self.head = self.fc\n        del self.fc\n")
    found = findings.model(root / "model", "tiny_head", root / "model" / "tiny.pth")
    assert found.blocking and found.area is Area.MODEL and found.fix == findings.CHECKPOINT_FIX
    assert found.brief == ("tiny.pth does not fit tiny_head: 2 missing, 2 unexpected, 0 with "
                           "another shape\n  missing: head.weight, head.bias\n"
                           "  unexpected: fc.weight, fc.bias")
    assert "does not fit model class tiny_head: keys 2 missing (head.weight, head.bias)" \
        in found.detail
    save_checkpoint(root / "model", "tiny10", root / "model" / "tiny.pth")
    shapes = findings.model(root / "model", "tiny", root / "model" / "tiny.pth")
    assert "other shape: fc.weight [10, 16] vs [1000, 16]" in shapes.shown


def test_model_folder_lists_what_goes_in(root: Path) -> None:
    found = findings.model_folder(tiny_answers(), root)
    assert found.ok and "tiny.pth" in found.detail and "go into the image" in found.detail
    refused = findings.model_folder(tiny_answers(model_exclude=["*.pth"]), root)
    assert refused.blocking and refused.area is Area.MODEL
    assert "model_exclude matches the checkpoint tiny.pth" in refused.detail


def test_a_whole_pickled_model_is_a_warning_unless_trusted(root: Path) -> None:
    path = root / "model" / "whole.pth"
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), str(path))
    saved_by, (found,) = findings.checkpoint(path, trust=False)
    assert found.status is Status.WARNING and "whole pickled model" in found.detail
    assert saved_by is not None
    assert findings.checkpoint(path, trust=True) == (saved_by, [])
    assert findings.checkpoint(root / "model" / "nope.pth", trust=False) == (None, [])


def test_base_image_against_the_checkpoints_torch() -> None:
    (newer,) = findings.base_image(FIRST_HOPPER, "2.5.1")
    assert newer.status is Status.WARNING and "newer than the image's torch 2.1.0" in newer.detail
    (fits,) = findings.base_image(FIRST_HOPPER, "2.1.0")
    from wizard.base_images import find

    assert fits.ok and fits.detail == \
        f"{find(FIRST_HOPPER).describe()}; suits a checkpoint from torch 2.1.0"
    (unknown,) = findings.base_image("my/own:image", None)
    assert unknown.status is Status.WARNING and "not in the wizard's table" in unknown.detail


def test_base_image_against_the_gpu() -> None:
    (refused,) = findings.gpu(OLD, "H100")
    assert refused.blocking and "cannot drive the target GPU H100 (sm_90)" in refused.detail
    assert refused.area is Area.ENVIRONMENT  # as `check` has always counted it: exit 3
    (fine,) = findings.gpu(FIRST_HOPPER, "H100")
    assert fine.ok and fine.detail.endswith("has compiled code for H100")
    assert findings.gpu(OLD, "none") == [] and findings.gpu("my/own:image", "H100") == []


def test_downloads_in_the_model_code_are_warnings_naming_the_file(root: Path) -> None:
    (clean,) = findings.offline(root / "model")
    assert clean.ok and clean.detail == "no downloads found in the model code"
    sub = root / "model" / "nets"
    sub.mkdir()
    (sub / "fetch.py").write_text("import requests\n")
    (found,) = findings.offline(root / "model")
    assert found.status is Status.WARNING and found.area is Area.MODEL
    assert found.detail.startswith("nets/fetch.py:1: imports requests")
    assert found.fix
