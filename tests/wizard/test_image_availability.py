"""wizard.image_availability on the real engine and registry (issue 12, item 9): which base
images are here, which a registry serves, which cannot be had (with the reason), and which
local images carry torch."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wizard import docker_ops
from wizard.base_images import load_table
from wizard.docker_ops import DockerOps
from wizard.image_availability import (
    CACHE_FOLDER,
    LOCAL,
    PULLABLE,
    UNAVAILABLE,
    Availability,
    availability,
    local_torch_images,
    registry_host,
)

PROBE_IMAGE = "objectnet-wizard-test/probe:latest"  # made by scripts/test-env: no python3


@pytest.mark.parametrize(("ref", "host"), [
    ("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime", "docker.io"),
    ("ubuntu", "docker.io"),
    ("127.0.0.1:5000/syn1/x:v1", "127.0.0.1:5000"),
    ("localhost/x", "localhost"),
    ("nvcr.io/nvidia/pytorch:24.01-py3", "nvcr.io"),
    ("docker.synapse.org/syn1/model", "docker.synapse.org"),
])
def test_registry_host_follows_dockers_rule(ref: str, host: str) -> None:
    assert registry_host(ref) == host


def test_an_unavailable_image_says_why_and_what_to_do() -> None:
    text = Availability("a/b:1", UNAVAILABLE, "docker.io cannot be reached: no such host")
    assert text.describe() == ("a/b:1 is not on this machine and cannot be pulled (docker.io "
                               "cannot be reached: no such host): `docker load` it, or pick "
                               "an image that is here")


@pytest.fixture(scope="module")
def ops(docker_client) -> Iterator[DockerOps]:
    connected = docker_ops.connect()
    yield connected
    connected.close()


@pytest.fixture()
def pushed(docker_client, registry: str) -> Iterator[str]:
    """An image the registry on 127.0.0.1 serves and this engine does not have by that name."""
    reference = f"{registry}/tui12b/availability:v{os.getpid()}"
    repository, tag = reference.rsplit(":", 1)
    docker_client.api.tag(PROBE_IMAGE, repository, tag)
    try:
        for _ in docker_client.api.push(repository, tag, stream=True, decode=True):
            pass
    finally:
        docker_client.api.remove_image(reference)
    yield reference


@pytest.mark.docker
def test_local_pullable_and_unavailable_on_the_real_engine(ops: DockerOps, base_image: str,
                                                           registry: str, pushed: str) -> None:
    absent = f"{registry}/tui12b/absent:none"
    refused = "127.0.0.1:9/tui12b/absent:none"
    table = [image.ref for image in load_table()[-3:]]
    found = {a.ref: a for a in availability(ops, [base_image, pushed, absent, refused, *table],
                                            timeout_s=5)}
    assert found[base_image] == Availability(base_image, LOCAL)
    assert found[pushed] == Availability(pushed, PULLABLE, registry)
    assert found[absent].state == UNAVAILABLE
    assert found[absent].detail.startswith(f"{registry} does not serve it: manifest unknown")
    assert found[refused] == Availability(refused, UNAVAILABLE,
                                          "127.0.0.1:9 cannot be reached: connection refused")
    # Docker Hub cannot be reached from these machines: each table image says so, and the
    # reason names the registry (the engine is asked once, not once per image).
    for ref in table:
        assert found[ref].state == UNAVAILABLE, found[ref]
        assert found[ref].detail.startswith("docker.io cannot be reached: "), found[ref]
        assert found[ref].detail == found[table[0]].detail


@pytest.mark.docker
def test_local_images_with_torch_are_found_and_the_answer_is_cached(
        ops: DockerOps, base_image: str, tmp_path: Path) -> None:
    found = {image.ref: image for image in local_torch_images(ops, tmp_path)}
    image = found[base_image]
    assert image.torch.startswith("1.13"), image
    assert (image.python, image.cuda, image.evidence) == ("3.11", None, "import torch in it")
    assert PROBE_IMAGE not in found  # no python3 in it
    cached = tmp_path / CACHE_FOLDER / (image.image_id.replace(":", "-") + ".json")
    assert json.loads(cached.read_text())["torch"] == image.torch
    no_torch = tmp_path / CACHE_FOLDER / (
        ops.image_info(PROBE_IMAGE).id.replace(":", "-") + ".json")
    assert json.loads(no_torch.read_text())["torch"] is None
    # The next search reads the answer from the cache instead of running the image again.
    cached.write_text(json.dumps({"torch": "9.9.9", "python": "3.11", "cuda": None,
                                  "evidence": "import torch in it"}))
    again = {image.ref: image for image in local_torch_images(ops, tmp_path)}
    assert again[base_image].torch == "9.9.9"


def _build(docker_client, tag: str, dockerfile: str) -> None:
    import io

    for _ in docker_client.api.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag,
                                     rm=True, decode=True):
        pass


@pytest.mark.docker
def test_configuration_names_torch_and_wizard_builds_are_left_out(
        ops: DockerOps, docker_client, base_image: str, tmp_path: Path) -> None:
    declared = f"objectnet-wizard-test/tui12b-declared:{os.getpid()}"
    built = f"objectnet-wizard-test/tui12b-built:{os.getpid()}"
    _build(docker_client, declared, f"FROM {PROBE_IMAGE}\nENV PYTORCH_VERSION=2.3.1\n")
    _build(docker_client, built, f"FROM {base_image}\nLABEL objectnet.wizard.version=0\n")
    try:
        found = {image.ref: image for image in local_torch_images(
            ops, tmp_path, skip=lambda ref: ref == base_image)}
    finally:
        docker_client.api.remove_image(declared)
        docker_client.api.remove_image(built)
    # Named by its configuration: not run (it has no python3, so a run would say no torch).
    assert found[declared].torch == "2.3.1"
    assert found[declared].evidence == "PYTORCH_VERSION in its configuration"
    assert built not in found  # a model image the wizard built, not a base
    assert base_image not in found  # skipped, as the Base step skips the table's images
