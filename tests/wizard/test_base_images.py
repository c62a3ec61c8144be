"""The base-image table, suggestions from a torch version, and the warnings before a build."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard import validators
from wizard.base_images import (
    ENGINE_MIN_PYTHON,
    ENGINE_MIN_TORCH,
    cpu_note,
    find,
    load_table,
    parse_version,
    suggest,
)
from wizard.base_images import check as check_image


def codes(warnings) -> list[str]:
    return [warning.code for warning in warnings]


def test_table_is_well_formed():
    table = load_table()
    refs = [image.ref for image in table]
    assert len(refs) == len(set(refs))
    assert list(table) == sorted(table, key=lambda image: (image.torch_version, image.cuda))
    for image in table:
        assert validators.image_ref(image.ref) == image.ref
        assert image.ref.startswith("pytorch/pytorch:") and image.ref.endswith("-runtime")
        assert image.ref.startswith(f"pytorch/pytorch:{image.torch.removesuffix('.0')}")
        assert f"-cuda{image.cuda}-cudnn{image.cudnn}-" in image.ref
        assert image.python_env in ("conda", "system")
        assert len(image.python_version) == 2
        assert image.describe().startswith(f"torch {image.torch}, CUDA {image.cuda}")


def test_table_spans_every_minor_release_from_1_4():
    minors = {image.torch_version[:2] for image in load_table()}
    expected = {(1, minor) for minor in range(4, 14)} | {(2, minor) for minor in range(0, 15)}
    assert expected <= minors


def test_first_image_is_the_demos():
    first = load_table()[0]
    assert first.ref == "pytorch/pytorch:1.4-cuda10.1-cudnn7-runtime"
    assert first.python == "3.7" and first.python_checked
    assert not first.engine_supported


def test_images_without_conda_are_marked_as_system_python():
    for image in load_table():
        assert (image.python_env == "system") == (image.torch_version >= (2, 10, 0)), image.ref


@pytest.mark.parametrize(("torch_version", "expected"), [
    ("2.3.1+cu121", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"),
    ("2.3.0", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"),
    ("2.0", "pytorch/pytorch:2.0.1-cuda11.7-cudnn8-runtime"),
    ("1.8.1", "pytorch/pytorch:1.8.1-cuda11.1-cudnn8-runtime"),
    # 1.9, 1.10 and 1.12 images have Python 3.7: the nearest newer supported one instead.
    ("1.9.0", "pytorch/pytorch:1.11.0-cuda11.3-cudnn8-runtime"),
    ("1.10.2", "pytorch/pytorch:1.11.0-cuda11.3-cudnn8-runtime"),
    ("1.12.1", "pytorch/pytorch:1.13.1-cuda11.6-cudnn8-runtime"),
    # Older than the engine supports: the oldest image it runs in.
    ("1.4.0", "pytorch/pytorch:1.8.1-cuda11.1-cudnn8-runtime"),
    ("0.4.1", "pytorch/pytorch:1.8.1-cuda11.1-cudnn8-runtime"),
    # Prefer CUDA 12 over 13 (driver R580+).
    ("2.9.1", "pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime"),
    ("2.14.1", "pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime"),
    ("2.11.0a0+git1234", "pytorch/pytorch:2.11.0-cuda12.8-cudnn9-runtime"),
    # Newer than any image: the newest.
    ("3.1.0", "pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime"),
])
def test_suggest(torch_version, expected):
    assert suggest(torch_version).ref == expected


@pytest.mark.parametrize("junk", ["", "latest", "two.three", "2"])
def test_suggest_refuses_what_is_not_a_version(junk):
    with pytest.raises(ValueError, match="is not a torch version"):
        suggest(junk)


@given(st.integers(0, 3), st.integers(0, 20), st.integers(0, 5))
def test_suggestions_always_run_the_engine_and_never_go_older(major, minor, patch):
    image = suggest(f"{major}.{minor}.{patch}")
    assert image.engine_supported
    assert image.python_version >= ENGINE_MIN_PYTHON
    assert image.torch_version[:2] >= ENGINE_MIN_TORCH
    newest = max(other.torch_version[:2] for other in load_table())
    assert image.torch_version[:2] >= min((major, minor), newest)
    assert check_image(image.ref, f"{major}.{minor}.{patch}") == [] or (major, minor) > newest


def test_find_ignores_docker_hub_prefix_and_digest():
    ref = "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"
    assert find(f"docker.io/{ref}").ref == ref
    assert find(f"{ref}@sha256:{'a' * 64}").ref == ref
    assert find("pytorch/pytorch:9.9-cuda1-cudnn1-runtime") is None


def test_check_a_matching_image_says_nothing():
    assert check_image("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", "2.3.0") == []
    assert check_image("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime") == []
    # An older checkpoint loads in a newer torch.
    assert check_image("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", "1.4.0") == []


def test_check_warns_about_a_newer_checkpoint():
    (warning,) = check_image("pytorch/pytorch:2.0.1-cuda11.7-cudnn8-runtime", "2.3.1+cu121")
    assert warning.code == "checkpoint-newer"
    assert "torch 2.3.1+cu121, newer than the image's torch 2.0.1" in str(warning)
    assert "pick pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime" in str(warning)


def test_check_warns_about_images_too_old_for_the_engine():
    warnings = check_image("pytorch/pytorch:1.4-cuda10.1-cudnn7-runtime", "1.4.0")
    assert codes(warnings) == ["python-too-old", "torch-too-old"]
    assert "Python 3.7, older than the 3.8" in warnings[0].message
    assert "pick pytorch/pytorch:1.8.1-cuda11.1-cudnn8-runtime" in warnings[0].message
    python_only = check_image("pytorch/pytorch:1.10.0-cuda11.3-cudnn8-runtime")
    assert codes(python_only) == ["python-too-old"]
    assert "pick pytorch/pytorch:1.11.0-cuda11.3-cudnn8-runtime" in python_only[0].message


def test_check_cannot_vouch_for_unknown_images():
    (warning,) = check_image("debian-torch:bookworm", "1.13.1")
    assert warning.code == "unknown-image"
    assert "could not be checked" in warning.message
    assert "Python 3.8+ with torch 1.8+" in warning.message


def test_check_ignores_an_unreadable_checkpoint_version():
    assert check_image("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", "unknown") == []


def test_parse_version():
    assert parse_version("2.3.1+cu121") == (2, 3, 1)
    assert parse_version("1.4") == (1, 4, 0)
    assert parse_version("v2.14.1") == (2, 14, 1)


def test_cpu_choice_is_explained():
    assert "same image" in cpu_note()
