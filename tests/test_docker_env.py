"""The real services the wizard's integration tests stand on: engine, base image, registries.

Each test checks one thing the wizard relies on, through docker-py the way the wizard uses it,
so a broken test environment shows up here with a plain name instead of deep in a wizard test.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker_env import AuthRegistry

pytestmark = pytest.mark.docker


@pytest.fixture
def image_names(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Names (tags or digests) a test created; removed afterwards so runs leave nothing behind."""
    names: list[str] = []
    yield names
    for name in reversed(names):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


def build(client: docker.DockerClient, context: Path, tag: str) -> tuple[str, str]:
    """Builds with the low-level streaming API; returns (image id, the build log)."""
    chunks = list(client.api.build(path=str(context), tag=tag, decode=True, rm=True, forcerm=True))
    errors = [chunk["error"] for chunk in chunks if "error" in chunk]
    assert not errors, f"build of {tag} failed: {errors}"
    ids = [chunk["aux"]["ID"] for chunk in chunks if "ID" in chunk.get("aux", {})]
    assert ids, f"build of {tag} reported no image id: {chunks[-3:]}"
    return ids[-1], "".join(chunk.get("stream", "") for chunk in chunks)


def push(client: docker.DockerClient, repository: str, tag: str, **kwargs: object) -> list[dict]:
    """Pushes and returns every progress chunk (docker-py reports push failures in-band)."""
    return list(client.api.push(repository, tag=tag, stream=True, decode=True, **kwargs))


def pushed_digest(chunks: list[dict]) -> str:
    errors = [chunk["error"] for chunk in chunks if "error" in chunk]
    assert not errors, f"push failed: {errors}"
    digests = [chunk["aux"]["Digest"] for chunk in chunks if "Digest" in chunk.get("aux", {})]
    assert len(digests) == 1, f"push reported no single digest: {chunks[-3:]}"
    return digests[0]


def tiny_context(tmp_path: Path) -> Path:
    """A FROM-scratch image with unique content, so every push uploads a new blob."""
    (tmp_path / "payload.txt").write_text(f"objectnet-wizard env check {uuid.uuid4()}\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY payload.txt /payload.txt\n")
    return tmp_path


def test_engine_answers(docker_client: docker.DockerClient) -> None:
    assert docker_client.ping() is True
    version = docker_client.version()
    assert version["Os"] == "linux"
    api = tuple(int(part) for part in version["ApiVersion"].split("."))
    assert api >= (1, 41), f"engine API {version['ApiVersion']} is older than docker 20.10's 1.41"


def test_base_image_runs_torch_without_network(
    docker_client: docker.DockerClient, base_image: str
) -> None:
    script = (
        "import torch, torchvision, PIL\n"
        "print(torch.__version__, torchvision.__version__, PIL.__version__)\n"
        "print(' '.join(line.split(':')[0].strip() for line in open('/proc/net/dev')"
        ".readlines()[2:]))\n"
    )
    output = docker_client.containers.run(
        base_image, ["python3", "-c", script], network_mode="none", remove=True
    ).decode()
    versions, interfaces = output.splitlines()
    torch_version = re.match(r"(\d+)\.(\d+)", versions.split()[0])
    assert torch_version, f"unexpected torch version line: {versions!r}"
    assert tuple(map(int, torch_version.groups())) >= (1, 13), versions
    assert interfaces.split() == ["lo"], f"network none still has interfaces: {interfaces}"


def test_build_with_run_step_streams_its_output(
    docker_client: docker.DockerClient, base_image: str, image_names: list[str], tmp_path: Path
) -> None:
    marker = f"run-step-{uuid.uuid4().hex[:8]}"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        f"RUN python3 -c \"import torch; print('{marker}', torch.__version__)\" | tee /marker\n"
    )
    tag = f"objectnet-wizard-test/env-build:{marker}"
    image_names.append(tag)
    image_id, log = build(docker_client, tmp_path, tag)
    assert f"{marker} 1." in log, f"the RUN step's output is missing from the build log:\n{log}"
    written = docker_client.containers.run(
        image_id, ["cat", "/marker"], network_mode="none", remove=True
    ).decode()
    assert written.startswith(marker)


def test_push_then_pull_by_digest(
    docker_client: docker.DockerClient, registry: str, image_names: list[str], tmp_path: Path
) -> None:
    repository = f"{registry}/syn12345678/env-check"
    tag = uuid.uuid4().hex[:12]
    image_id, _ = build(docker_client, tiny_context(tmp_path), f"{repository}:{tag}")
    image_names.append(f"{repository}:{tag}")

    digest = pushed_digest(push(docker_client, repository, tag))
    assert digest.startswith("sha256:")

    # Drop the local copy so the pull below really fetches from the registry.
    docker_client.images.remove(f"{repository}:{tag}", force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(image_id)

    pulled = docker_client.images.pull(f"{repository}@{digest}")
    image_names.append(f"{repository}@{digest}")
    assert pulled.id == image_id
    assert f"{repository}@{digest}" in pulled.attrs["RepoDigests"]


def test_login_accepted_and_refused(auth_registry: AuthRegistry) -> None:
    # A client of its own: docker-py keeps a successful login for the rest of its life.
    client = docker.from_env(timeout=60)
    try:
        with pytest.raises(docker.errors.APIError) as refused:
            client.login(
                auth_registry.user,
                f"not-{auth_registry.password}",
                registry=auth_registry.host,
                reauth=True,
            )
        assert "401" in str(refused.value), str(refused.value)

        accepted = client.login(
            auth_registry.user, auth_registry.password, registry=auth_registry.host, reauth=True
        )
        assert accepted["Status"] == "Login Succeeded"
    finally:
        client.close()


def test_push_to_login_registry_needs_the_right_password(
    docker_client: docker.DockerClient,
    auth_registry: AuthRegistry,
    image_names: list[str],
    tmp_path: Path,
) -> None:
    repository = f"{auth_registry.host}/syn12345678/env-auth-check"
    tag = uuid.uuid4().hex[:12]
    build(docker_client, tiny_context(tmp_path), f"{repository}:{tag}")
    image_names.append(f"{repository}:{tag}")

    wrong = {"username": auth_registry.user, "password": f"not-{auth_registry.password}"}
    refused = push(docker_client, repository, tag, auth_config=wrong)
    errors = [chunk["error"] for chunk in refused if "error" in chunk]
    assert errors, f"push with a wrong password was not refused: {refused[-3:]}"

    right = {"username": auth_registry.user, "password": auth_registry.password}
    digest = pushed_digest(push(docker_client, repository, tag, auth_config=right))
    assert digest.startswith("sha256:")
