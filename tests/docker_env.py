"""Pytest fixtures for the real Docker engine, test base image and registries.

Use in tests/conftest.py (exactly this line; tests import `AuthRegistry` etc. themselves):

    from docker_env import auth_registry, base_image, docker_client, registry  # noqa: F401

The services come from `scripts/test-env up` (these fixtures never start them: starting dockerd
needs root and minutes, which belongs in one script, not in every test session). Without them the
tests that need them skip, or fail when OBJECTNET_WIZARD_REQUIRE_DOCKER=1 (as in CI), so a
missing engine can never turn a CI run green by skipping.

Settings come from the environment `scripts/test-env env` prints, with the same defaults.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple, NoReturn

import pytest

if TYPE_CHECKING:
    import docker

__all__ = ["AuthRegistry", "auth_registry", "base_image", "docker_client", "registry"]

DEFAULT_BASE_IMAGE = "objectnet-wizard-test/torch:bookworm"
DEFAULT_REGISTRY = "127.0.0.1:5000"
DEFAULT_AUTH_REGISTRY = "127.0.0.1:5001"
DEFAULT_AUTH_USER = "wizard-test"
DEFAULT_AUTH_PASSWORD = "wizard-test-password"
SETUP_HINT = 'run `scripts/test-env up` as root, then `eval "$(scripts/test-env env)"`'


class AuthRegistry(NamedTuple):
    """A registry that requires `docker login`, with a user it accepts."""

    host: str
    user: str
    password: str


def require_docker() -> bool:
    """True when missing services must fail the run instead of skipping (CI sets this)."""
    return os.environ.get("OBJECTNET_WIZARD_REQUIRE_DOCKER", "") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skips the test, or fails it when OBJECTNET_WIZARD_REQUIRE_DOCKER=1."""
    message = f"{reason}: {SETUP_HINT}"
    if require_docker():
        pytest.fail(f"{message} (OBJECTNET_WIZARD_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(message)


def registry_status(host: str, auth: tuple[str, str] | None = None) -> int | None:
    """HTTP status of the registry API root `/v2/`, or None when nothing answers."""
    request = urllib.request.Request(f"http://{host}/v2/")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A docker-py client for the engine named by DOCKER_HOST (default: /var/run/docker.sock)."""
    try:
        import docker
    except ImportError:
        unavailable("the docker Python package is not installed (pip install -e '.[dev]')")
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        # Generous: docker-py applies it to every read, and a quiet RUN step can take minutes.
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as e:
        unavailable(f"no Docker engine answers at {host} ({e})")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """Name of the local test base image (Python 3.11, torch 1.13, torchvision 0.14)."""
    import docker

    name = os.environ.get("OBJECTNET_WIZARD_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        unavailable(f"the test base image {name} is not in the engine")
    return name


@pytest.fixture(scope="session")
def registry() -> str:
    """host:port of a registry on loopback that accepts pushes without login."""
    host = os.environ.get("OBJECTNET_WIZARD_REGISTRY", DEFAULT_REGISTRY)
    status = registry_status(host)
    if status != 200:
        unavailable(f"no open registry at {host} (GET /v2/ gave {status or 'no answer'})")
    return host


@pytest.fixture(scope="session")
def auth_registry() -> AuthRegistry:
    """A registry on loopback that requires login, and the one user it accepts."""
    found = AuthRegistry(
        host=os.environ.get("OBJECTNET_WIZARD_AUTH_REGISTRY", DEFAULT_AUTH_REGISTRY),
        user=os.environ.get("OBJECTNET_WIZARD_AUTH_USER", DEFAULT_AUTH_USER),
        password=os.environ.get("OBJECTNET_WIZARD_AUTH_PASSWORD", DEFAULT_AUTH_PASSWORD),
    )
    status = registry_status(found.host)
    if status != 401:
        unavailable(
            f"no login registry at {found.host} (GET /v2/ gave {status or 'no answer'}, want 401)"
        )
    if registry_status(found.host, (found.user, found.password)) != 200:
        unavailable(f"the login registry at {found.host} refuses user {found.user!r}")
    return found
