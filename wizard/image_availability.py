"""Whether a base image can be had on this machine, found at the Base step instead of by
the build seven steps later; and which images already here carry torch.

An image is *local* when the Docker engine has it, *pullable* when its registry answers for
it (asked through the engine, so the engine's mirrors, proxies and logins apply, and nothing
is pulled), else *unavailable*, with the reason. A registry that cannot be reached is asked
once per check: on a machine without network the whole table costs one failed look-up.

Whether a local image carries torch is read from its configuration where it says so (the
pytorch/pytorch and NGC images set PYTORCH_VERSION), else by importing torch in it once, with
no network, the answer cached per image id: an image id names its content, so the answer
never goes stale.

Everything here talks to the engine and may take seconds: call it from a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.docker_events import (
    ContainerError,
    ContainerTimeoutError,
    DockerError,
    DockerUnavailableError,
    ImageInfo,
    ImageMissingError,
    InvalidReferenceError,
    RegistryUnreachableError,
)

if TYPE_CHECKING:
    from wizard.docker_client import DockerClient

LOCAL, PULLABLE, UNAVAILABLE = "local", "pullable", "unavailable"
REGISTRY_TIMEOUT_S = 5.0
"""How long one registry may take to answer before it counts as unreachable."""
PROBE_TIMEOUT_S = 120.0
PROBE_LIMIT = 6
"""Images not yet known to carry torch that one search runs torch in (the rest wait for the
next search); each such run costs a container start and a torch import."""
TORCH_ENV = ("PYTORCH_VERSION", "NVIDIA_PYTORCH_VERSION")
"""Environment variables that name the torch of an image: the pytorch/pytorch images set the
first, NVIDIA's NGC images the second."""
WIZARD_LABEL = "objectnet.wizard.version"
"""Set on the images the wizard builds (Dockerfile.j2): they hold a model, not a base."""
CACHE_FOLDER = "image-torch"

PROBE = ("import json, sys, torch; print(json.dumps({'torch': torch.__version__, "
         "'cuda': torch.version.cuda, 'python': '%d.%d' % sys.version_info[:2]}))")
"""Run with python3 in a candidate image, with no network."""


@dataclass(frozen=True)
class Availability:
    """Where `ref` can come from. `detail` is empty for a local image, the registry's host
    for a pullable one, and why not for an unavailable one."""

    ref: str
    state: str
    detail: str = ""

    def describe(self) -> str:
        """One line on it for the chosen base image."""
        if self.state == LOCAL:
            return f"{self.ref} is on this machine"
        if self.state == PULLABLE:
            return f"{self.ref} is not on this machine; {self.detail} has it: the build pulls it"
        return (f"{self.ref} is not on this machine and cannot be pulled ({self.detail}): "
                "`docker load` it, or pick an image that is here")


def registry_host(ref: str) -> str:
    """The registry an image reference names: its first path component when that looks like
    a host (holds a dot or a port, or is localhost), as Docker decides, else Docker Hub."""
    first, slash, _ = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _last_words(reason: str) -> str:
    """Docker's error without the URL it was fetching: its last clause (e.g. "no such
    host", "connection refused")."""
    return reason.rsplit(": ", 1)[-1].strip() or reason


def availability(docker: DockerClient, refs: Iterable[str], *,
                 timeout_s: float = REGISTRY_TIMEOUT_S) -> Iterator[Availability]:
    """Where each of `refs` can come from, in order, one at a time (a caller shows each as
    it comes). `docker` is a wizard.docker_ops.DockerOps. Raises DockerUnavailableError when
    the engine itself stops answering."""
    unreachable: dict[str, str] = {}
    for ref in dict.fromkeys(refs):
        try:
            if docker.image_present(ref):
                yield Availability(ref, LOCAL)
                continue
        except InvalidReferenceError as error:
            yield Availability(ref, UNAVAILABLE, str(error))
            continue
        host = registry_host(ref)
        if host in unreachable:
            yield Availability(ref, UNAVAILABLE, unreachable[host])
            continue
        try:
            docker.registry_digest(ref, timeout_s=timeout_s)
        except RegistryUnreachableError as error:
            unreachable[host] = f"{host} cannot be reached: {_last_words(str(error))}"
            yield Availability(ref, UNAVAILABLE, unreachable[host])
        except ImageMissingError as error:
            yield Availability(ref, UNAVAILABLE, f"{host} does not serve it: "
                                                 f"{_last_words(str(error))}")
        except DockerUnavailableError:
            raise
        except DockerError as error:
            yield Availability(ref, UNAVAILABLE, str(error))
        else:
            yield Availability(ref, PULLABLE, host)


@dataclass(frozen=True)
class TorchImage:
    """A local image that carries torch. `python` and `cuda` are None where not known (an
    image whose configuration names its torch is not run)."""

    ref: str
    image_id: str
    torch: str
    python: str | None
    cuda: str | None
    evidence: str
    """How torch was found: "PYTORCH_VERSION in its configuration", "import torch in it"."""


def _from_config(info: ImageInfo) -> dict[str, Any] | None:
    for name in TORCH_ENV:
        if info.env.get(name):
            return {"torch": info.env[name], "cuda": info.env.get("CUDA_VERSION") or None,
                    "python": None, "evidence": f"{name} in its configuration"}
    return None


def _cache_file(cache_dir: Path, image_id: str) -> Path:
    return cache_dir / CACHE_FOLDER / (image_id.replace(":", "-") + ".json")


def _read_cache(cache_dir: Path, image_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_cache_file(cache_dir, image_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _probe(docker: DockerClient, ref: str) -> dict[str, Any] | None:
    """torch, its CUDA and Python in `ref`, run with no network; {"torch": None, ...} when
    the image has no python3 or no torch; None when the run itself failed (not an answer
    about the image: nothing is cached)."""
    try:
        run = docker.run_command(ref, ["python3", "-c", PROBE], timeout_s=PROBE_TIMEOUT_S,
                                 tail_lines=20)
    except ContainerTimeoutError:
        return None
    except ContainerError as error:  # no python3 in it: it cannot run the engine either
        return {"torch": None, "why": str(error)}
    except DockerUnavailableError:
        raise
    except DockerError:
        return None
    lines = [line for line in run.logs_tail.splitlines() if line.startswith("{")]
    if run.exit_code != 0 or not lines:
        last = (run.logs_tail.strip().splitlines() or ["no output"])[-1]
        return {"torch": None, "why": f"python3 exited {run.exit_code}: {last}"}
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return {"torch": None, "why": f"unexpected output: {lines[-1]}"}
    return {**found, "evidence": "import torch in it"}


def local_torch_images(docker: DockerClient, cache_dir: Path, *,
                       skip: Callable[[str], bool] = lambda ref: False,
                       probe_limit: int = PROBE_LIMIT) -> list[TorchImage]:
    """The local images that carry torch, newest first, leaving out images the wizard built
    and those whose every name `skip` (e.g. "is in the table") rejects. At most
    `probe_limit` images not seen before are run; the others are found by a later search."""
    found: list[TorchImage] = []
    probes = 0
    for info in docker.local_images():
        names = [name for name in info.names if not skip(name)]
        if not names or WIZARD_LABEL in info.labels:
            continue
        known = _from_config(info) or _read_cache(cache_dir, info.id)
        if known is None:
            if probes >= probe_limit:
                continue
            probes += 1
            known = _probe(docker, names[0])
            if known is None:
                continue
            cache = _cache_file(cache_dir, info.id)
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known), encoding="utf-8")
        if known.get("torch"):
            found.append(TorchImage(names[0], info.id, str(known["torch"]),
                                    known.get("python"), known.get("cuda"),
                                    str(known.get("evidence", ""))))
    return found
