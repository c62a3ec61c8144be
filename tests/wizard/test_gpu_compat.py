"""GPU compatibility of the base images, checked before any build."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from projects import make_answered_project
from test_wizard_cli import check_rows, wizard

from wizard import gpu_compat
from wizard.answers import Answers
from wizard.base_images import find, load_table
from wizard.gpu_compat import GPUS, check, oldest_that_runs, support

OLD = "pytorch/pytorch:1.13.1-cuda11.6-cudnn8-runtime"
FIRST_HOPPER = "pytorch/pytorch:2.1.0-cuda11.8-cudnn8-runtime"


def test_target_gpu_answers_are_the_known_gpus():
    annotation = Answers.model_fields["target_gpu"].annotation
    literal = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    assert typing.get_args(literal) == gpu_compat.TARGET_GPUS


def test_every_cuda_image_lists_its_archs():
    for image in load_table():
        assert image.archs, image.ref
        for arch in image.archs:
            kind, _, digits = arch.partition("_")
            assert kind in ("sm", "compute") and digits.isdigit(), (image.ref, arch)


@pytest.mark.parametrize(("gpu", "oldest"), [
    ("H100", FIRST_HOPPER),  # sm_90: CUDA >= 11.8 with torch >= 2.0.1; the table's first is 2.1
    ("H200", FIRST_HOPPER),
    ("B200", "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime"),  # sm_100: torch 2.7, CUDA 12.8
    ("A100", "pytorch/pytorch:1.8.0-cuda11.1-cudnn8-runtime"),  # oldest the engine supports
    ("L4", "pytorch/pytorch:1.8.0-cuda11.1-cudnn8-runtime"),  # sm_89 runs sm_86 code
    ("V100", "pytorch/pytorch:1.8.0-cuda11.1-cudnn8-runtime"),
])
def test_oldest_image_that_drives_each_gpu(gpu, oldest):
    assert oldest_that_runs(gpu).ref == oldest


def test_same_major_newer_minor_runs_older_code_and_ptx_is_only_jit():
    old = find("pytorch/pytorch:1.6.0-cuda10.1-cudnn7-runtime")  # sm_75 + compute_37
    assert support(old, "T4") == "runs"
    assert support(old, "A100") == "jit"
    assert support(find(OLD), "H100") == "cannot"
    assert support(find("pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime"), "V100") == "cannot"


def test_refusal_names_arch_cuda_torch_and_the_oldest_image():
    (verdict,) = check(OLD, "H100")
    assert verdict.blocking
    for part in ("H100 (sm_90)", "torch 1.13.1", "CUDA 11.6", FIRST_HOPPER):
        assert part in verdict.message


def test_ptx_only_warns_and_no_target_warns_for_current_gpus():
    (jit,) = check("pytorch/pytorch:1.6.0-cuda10.1-cudnn7-runtime", "A100")
    assert jit.code == "gpu-jit" and not jit.blocking
    (unknown,) = check(OLD, None)
    assert unknown.code == "gpu-unknown" and not unknown.blocking
    assert "cannot drive H100 (sm_90);" in unknown.message and "A100" not in unknown.message
    assert check("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", None) == []
    assert check("pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime", None) == []
    assert check(OLD, "none") == [] and check("my/own:image", "H100") == []


def test_every_gpu_has_a_table_image():
    for gpu in GPUS:
        assert oldest_that_runs(gpu) is not None, gpu


def test_check_refuses_an_image_for_the_declared_gpu(tmp_path: Path):
    project = make_answered_project(tmp_path, base_image=OLD, target_gpu="H100")
    result = wizard("check", "--answers", project / "answers.toml",
                    env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3, result.stderr
    assert "cannot drive the target GPU H100 (sm_90)" in check_rows(result.stderr)
    run = wizard("run", "--answers", project / "answers.toml", "--until", "render")
    assert run.returncode == 1
    assert run.stderr.count("error:") == 1 and FIRST_HOPPER in run.stderr
    assert not (project / "Dockerfile").exists(), "refused before anything was written"


def test_check_passes_a_capable_image(tmp_path: Path):
    project = make_answered_project(tmp_path, base_image=FIRST_HOPPER, target_gpu="H100")
    result = wizard("check", "--answers", project / "answers.toml",
                    env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert "has compiled code for H100" in check_rows(result.stderr)
