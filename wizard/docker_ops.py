"""Everything the wizard asks of Docker, as typed events and typed errors.

This is the only module that imports `docker`. It speaks docker-py's low-level API
(`docker.APIClient`), because only that one streams: `build(decode=True)` yields the build's
log while it runs, where the high-level `images.build()` returns when the build is over.
The stream is turned into events (`BuildStep`, `BuildCached`, `BuildLog`, `PullProgress`,
`PushProgress`) for a callback, and every failure into a `DockerError` whose message says what
failed and what to do (those types live in wizard.docker_events, importable without docker).
Docker reports build and push failures *inside* the stream, not as exceptions, so every chunk
is checked for `error`. Reading the chunks (the build log's parser included) is
wizard.docker_stream's, and image references are parsed by wizard.validators: both are plain
functions with no docker in them.

The smoke container is started the way the ObjectNet challenge started submissions: no
network, the images read-only at /input, /output writable, 12 GB shared memory, 32 GB memory,
the image's own entrypoint, no TTY.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
import docker.types
import requests.exceptions
import urllib3.exceptions

from wizard import validators
from wizard.docker_events import (
    BaseImageMissingError,
    BuildCancelledError,
    BuildFailedError,
    BuildResult,
    ContainerCancelledError,
    ContainerError,
    ContainerRun,
    ContainerTimeoutError,
    DockerError,
    DockerEvent,
    DockerUnavailableError,
    EventCallback,
    ImageInfo,
    ImageMissingError,
    InvalidReferenceError,
    LoginRefusedError,
    PullFailedError,
    PullProgress,
    PushFailedError,
    PushProgress,
    RegistryUnreachableError,
)
from wizard.docker_stream import BuildParser, progress, stream_error
from wizard.runner_profile import PIDS_LIMIT
from wizard.validators import SHA256_DIGEST, show

DEFAULT_HOST = "unix:///var/run/docker.sock"
# docker-py applies the timeout to every read on streams it does not open without one;
# a quiet RUN step or a slow registry can stay silent for minutes.
CLIENT_TIMEOUT_S = 600
INPUT_MOUNT = "/input"
OUTPUT_MOUNT = "/output"
SMOKE_LABEL = "objectnet.wizard.smoke"
LOG_TAIL_LINES = 40
_POLL_S = 0.2
# Classic-builder history entries that change only the image's config, not its filesystem.
_METADATA_STEP = re.compile(
    r"#\(nop\)\s+(?:ENV|LABEL|ENTRYPOINT|CMD|EXPOSE|USER|ARG|MAINTAINER|STOPSIGNAL|"
    r"HEALTHCHECK|SHELL|VOLUME|ONBUILD)\b")
BUILD_PLATFORM = "linux/amd64"
"""The challenge's runners are amd64: the image is built for it on any host (Apple Silicon
included, where Docker emulates it)."""
# The engine connection breaking mid-stream (dockerd restarted, socket closed) reaches us
# as a requests or urllib3 error, not as a docker-py one.
_TRANSPORT_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
)


def _ignore(event: DockerEvent) -> None:
    pass


# ---- references -----------------------------------------------------------------------------

_Parsed = TypeVar("_Parsed")


def _reference(parse: Callable[[str], _Parsed], reference: str) -> _Parsed:
    """A reference parsed by one of validators' parsers, refused as InvalidReferenceError
    before Docker sees it."""
    try:
        return parse(reference)
    except ValueError as error:
        raise InvalidReferenceError(str(error)) from error


# ---- helpers --------------------------------------------------------------------------------


def _explanation(error: BaseException) -> str:
    """Docker's own words for an API error, on one line."""
    text = getattr(error, "explanation", None) or str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _from_image(dockerfile: Path) -> str | None:
    """The first FROM's image, to measure what the build adds to it."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "FROM":
            image = words[1]
            if words[1].startswith("--platform") and len(words) >= 3:
                image = words[2]
            return image
    return None


def _is_unauthorized(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in (
        "401", "unauthorized", "authentication required", "no basic auth credentials",
        "incorrect username or password", "denied", "403", "forbidden",
    ))


def _is_unreachable(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in (
        "connection refused", "no such host", "i/o timeout", "network is unreachable",
        "dial tcp", "no route to host", "server gave http response to https client",
        "tls: ", "x509:", "timeout exceeded",
    ))


_CANCELLED = object()


def _pump(open_stream: Callable[[], Iterable[Any]], cancel: threading.Event | None,
          on_cancel: Callable[[], None]) -> Iterator[Any]:
    """Yield the chunks of `open_stream()`, but notice `cancel` even while Docker is silent.

    docker-py sends the whole build context before the first chunk, and a quiet RUN step
    sends nothing for minutes, so the stream is opened and read in a helper thread while
    `cancel` is polled here. On cancel, `on_cancel` stops the running step (which ends the
    stream) and the helper closes the connection as soon as its read returns: the daemon
    then cancels the build, even one whose context was still uploading."""
    if cancel is None:
        yield from open_stream()
        return
    chunks: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        stream: Any = None
        try:
            stream = open_stream()
            for chunk in stream:
                if stop.is_set():
                    break
                chunks.put(("chunk", chunk))
        except BaseException as error:
            chunks.put(("error", error))
        finally:
            if stream is not None:
                _close_stream(stream)
            chunks.put(("end", None))

    reader = threading.Thread(target=read, name="docker-stream", daemon=True)
    reader.start()
    while True:
        if cancel.is_set():
            stop.set()
            on_cancel()
            # Give the daemon a moment to stop the step; its last chunks are not needed.
            reader.join(timeout=1)
            yield _CANCELLED
            return
        try:
            kind, item = chunks.get(timeout=_POLL_S)
        except queue.Empty:
            continue
        if kind == "chunk":
            yield item
        elif kind == "error":
            raise item
        else:
            return


def _close_stream(stream: Any) -> None:
    """Close a docker-py stream generator and the HTTP response behind it (its `response`
    local): closing the generator alone leaves the connection to the garbage collector, and
    the daemon only cancels a build when the connection drops."""
    frame = getattr(stream, "gi_frame", None)
    response = frame.f_locals.get("response") if frame is not None else None
    with contextlib.suppress(Exception):
        stream.close()
    if response is not None:
        with contextlib.suppress(Exception):
            response.close()


# ---- the operations -------------------------------------------------------------------------


def connect(base_url: str | None = None, *, timeout: int = CLIENT_TIMEOUT_S) -> DockerOps:
    """Connect to the Docker engine at `base_url`, or where DOCKER_HOST (and DOCKER_TLS_*)
    say, or at the default socket. Raises DockerUnavailableError with the fix."""
    host = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        if base_url:
            api = docker.APIClient(base_url=base_url, version="auto", timeout=timeout)
        else:
            api = docker.from_env(timeout=timeout).api
        api.ping()
    except (docker.errors.DockerException, *_TRANSPORT_ERRORS) as error:
        raise DockerUnavailableError(_unavailable_message(host, error)) from error
    return DockerOps(api, host=host)


def _unavailable_message(host: str, error: BaseException) -> str:
    text = str(error)
    if "Permission denied" in text or "PermissionError" in text:
        return (
            f"the Docker engine at {host} refuses this user (permission denied on its "
            "socket): add yourself to the docker group (`sudo usermod -aG docker $USER`, "
            "then log in again) or run the wizard with sudo"
        )
    return (
        f"no Docker engine answers at {host}: start Docker (e.g. `sudo systemctl start "
        "docker`) or set DOCKER_HOST"
    )


class _Peaks:
    """Peak memory and shared memory of a running container, from the engine's stats.

    Memory is counted as `docker stats` counts it (usage less the inactive page cache, which
    the kernel drops before it kills); shared memory is the cgroup's `shmem`, which is where
    /dev/shm's pages are charged (cgroup v1 and v2 both report it)."""

    def __init__(self) -> None:
        self.memory: int | None = None
        self.shm: int | None = None
        self._df_works = True

    def sample(self, api: Any, container: str) -> None:
        try:
            stats = api.stats(container, stream=False, one_shot=True)
        except (docker.errors.APIError, *_TRANSPORT_ERRORS):
            return  # it may have ended meanwhile; the samples so far stand
        memory = (stats or {}).get("memory_stats") or {}
        detail = memory.get("stats") or {}
        usage = memory.get("usage")
        if usage is not None:
            cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
            self.memory = max(self.memory or 0, int(usage) - int(cache))
        shmem = detail.get("shmem")
        if shmem is None and self._df_works:
            shmem = self._df_shm(api, container)  # cgroup v1: Docker passes no shmem figure
        if shmem is not None:
            self.shm = max(self.shm or 0, int(shmem))

    def _df_shm(self, api: Any, container: str) -> int | None:
        """Bytes used on the container's /dev/shm, from `df` inside it (None, and not asked
        again, where the image has no df)."""
        try:
            created = api.exec_create(container, ["df", "-P", "-B1", "/dev/shm"], stdout=True,
                                      stderr=False)
            output = api.exec_start(created["Id"])
        except (docker.errors.APIError, *_TRANSPORT_ERRORS):
            return None  # it may have ended meanwhile
        lines = output.decode("utf-8", "replace").splitlines() if isinstance(
            output, bytes) else []
        fields = lines[1].split() if len(lines) > 1 else []
        if len(fields) < 3 or not fields[2].isdigit():
            self._df_works = False
            return None
        return int(fields[2])


class DockerOps:
    """The wizard's Docker operations over a docker-py low-level client (`docker.APIClient`,
    or a test double with the same methods)."""

    def __init__(self, api: Any, *, host: str = DEFAULT_HOST):
        self._api = api
        self.host = host

    def close(self) -> None:
        close = getattr(self._api, "close", None)
        if close is not None:
            close()

    def describe(self) -> str:
        """One line on the engine, e.g. `Docker 20.10.24 (API 1.41) at unix:///...`."""
        try:
            version = self._api.version()
        except (docker.errors.DockerException, *_TRANSPORT_ERRORS) as error:
            raise DockerUnavailableError(_unavailable_message(self.host, error)) from error
        return (f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}) "
                f"at {self.host}")

    def has_gpu_runtime(self) -> bool:
        """Whether the engine can give containers NVIDIA GPUs (`--gpus`): the NVIDIA
        container runtime is registered with it."""
        try:
            info = self._api.info()
        except (docker.errors.DockerException, *_TRANSPORT_ERRORS) as error:
            raise DockerUnavailableError(_unavailable_message(self.host, error)) from error
        return any("nvidia" in name for name in (info.get("Runtimes") or {}))

    # -- images --

    def image_present(self, ref: str) -> bool:
        try:
            self._api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as error:
            if error.status_code == 404:
                return False
            raise DockerError(f"cannot look up image {ref}: {_explanation(error)}") from error
        return True

    def image_info(self, ref: str) -> ImageInfo:
        """Size, layers, labels and registry digests of a local image."""
        try:
            attrs = self._api.inspect_image(ref)
        except docker.errors.ImageNotFound as error:
            raise ImageMissingError(
                f"image {ref} is not in the local Docker engine: build or pull it first"
            ) from error
        except docker.errors.APIError as error:
            raise DockerError(f"cannot look up image {ref}: {_explanation(error)}") from error
        config = attrs.get("Config") or {}
        return ImageInfo(
            id=str(attrs.get("Id", "")),
            size=int(attrs.get("Size") or 0),
            layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
            labels=dict(config.get("Labels") or {}),
            repo_digests=tuple(attrs.get("RepoDigests") or ()),
        )

    def ensure_base_image(self, ref: str, on_event: EventCallback | None = None) -> ImageInfo:
        """The base image, pulled if it is not here. Raises BaseImageMissingError saying how
        to pull or `docker load` it when it is absent and cannot be pulled (no network)."""
        _reference(validators.split_reference, ref)
        if self.image_present(ref):
            return self.image_info(ref)
        try:
            self.pull(ref, on_event)
        except PullFailedError as error:
            raise BaseImageMissingError(
                f"base image {ref} is not on this machine and cannot be pulled "
                f"({error.reason}): run `docker pull {ref}` where there is network, or on a "
                f"machine that has it run `docker save {ref} -o base.tar`, copy base.tar here "
                "and run `docker load -i base.tar`"
            ) from error
        return self.image_info(ref)

    def pull(self, ref: str, on_event: EventCallback | None = None) -> ImageInfo:
        """Pull an image by tag or digest. Raises PullFailedError."""
        _reference(validators.split_reference, ref)
        emit = on_event or _ignore
        try:
            for chunk in self._api.pull(ref, stream=True, decode=True):
                error = stream_error(chunk)
                if error is not None:
                    raise PullFailedError(f"pulling {ref} failed: {error}", error)
                status = chunk.get("status")
                if isinstance(status, str):
                    current, total = progress(chunk)
                    emit(PullProgress(str(chunk.get("id", "")), status, current, total))
        except docker.errors.APIError as error:
            reason = _explanation(error)
            raise PullFailedError(f"pulling {ref} failed: {reason}", reason) from error
        except _TRANSPORT_ERRORS as error:
            reason = f"the connection to the Docker engine broke ({type(error).__name__})"
            raise PullFailedError(f"pulling {ref} failed: {reason}", reason) from error
        return self.image_info(ref)

    def layer_sizes(self, ref: str) -> tuple[tuple[str, int], ...] | None:
        """(layer id, uncompressed bytes) of each layer of a local image, base first; None
        when the image's history cannot be matched to its layers (an image not built by the
        classic builder)."""
        layers = self.image_info(ref).layers
        try:
            history = self._api.history(ref)
        except docker.errors.APIError as error:
            raise DockerError(f"cannot read the history of {ref}: {_explanation(error)}") \
                from error
        sizes = [int(entry.get("Size") or 0) for entry in reversed(history)
                 if not _METADATA_STEP.search(str(entry.get("CreatedBy") or ""))]
        if len(sizes) != len(layers):
            return None
        return tuple(zip(layers, sizes, strict=True))

    def untag(self, reference: str) -> None:
        """Remove the name `reference`; the image stays while another name or a container
        holds it."""
        try:
            # force: a container (a smoke run elsewhere, another build of the same content)
            # may use the image; only the name goes, the image stays while it is used.
            self._api.remove_image(reference, force=True, noprune=True)
        except docker.errors.ImageNotFound:
            return
        except docker.errors.APIError as error:
            raise DockerError(f"cannot remove the local tag {reference}: "
                              f"{_explanation(error)}") from error

    def pull_by_digest(self, reference: str, on_event: EventCallback | None = None) -> ImageInfo:
        """Pull `repository@sha256:...` as the challenge does, proving the registry serves
        exactly that image."""
        _reference(validators.digest_reference, reference)
        return self.pull(reference, on_event)

    def tag(self, image: str, reference: str) -> str:
        """Give `image` (an id or name) the name `reference` (validated against Docker's
        grammar; a missing tag means latest). Returns the full `repository:tag`."""
        repository, tag = _reference(validators.tagged_reference, reference)
        try:
            done = self._api.tag(image, repository, tag, force=True)
        except docker.errors.ImageNotFound as error:
            raise ImageMissingError(f"cannot tag {image}: no such image; build it first") \
                from error
        except docker.errors.APIError as error:
            raise DockerError(f"cannot tag {image} as {repository}:{tag}: "
                              f"{_explanation(error)}") from error
        if done is False:
            raise DockerError(f"Docker refused to tag {image} as {repository}:{tag}")
        return f"{repository}:{tag}"

    # -- build --

    def build(self, context_dir: str | PathLike[str], dockerfile: str = "Dockerfile",
              tag: str | None = None, on_event: EventCallback | None = None,
              cancel: threading.Event | None = None, *, base_image: str | None = None,
              nocache: bool = False) -> BuildResult:
        """Build `context_dir` with its `dockerfile`, streaming events to `on_event`.

        Intermediate containers are always removed (rm, forcerm), on failure too. Setting
        `cancel` stops the running step and ends the build with BuildCancelledError. A failing
        step raises BuildFailedError naming the step and its last output lines."""
        started = time.monotonic()
        context = Path(context_dir)
        if not context.is_dir():
            raise BuildFailedError(f"build context {context} is not a folder: build from the "
                                   "project folder that holds engine/ and the model folder")
        if not (context / dockerfile).is_file():
            raise BuildFailedError(f"{context / dockerfile} does not exist: render the "
                                   "Dockerfile first")
        full_tag = ":".join(_reference(validators.tagged_reference, tag)) if tag else None
        base = base_image or _from_image(context / dockerfile)
        parser = BuildParser(on_event or _ignore)
        try:
            def open_stream() -> Iterable[Any]:
                return self._api.build(
                    path=str(context), dockerfile=dockerfile, tag=full_tag, decode=True,
                    rm=True, forcerm=True, pull=False, nocache=nocache,
                    platform=BUILD_PLATFORM,
                )

            for chunk in _pump(open_stream, cancel, lambda: self._stop_step(parser.container)):
                if chunk is _CANCELLED:
                    parser.flush()
                    where = (f" at step {parser.step}/{parser.total}"
                             if parser.step is not None else "")
                    raise BuildCancelledError(
                        f"the build was cancelled{where}; its running step was stopped and "
                        "removed, earlier steps stay in the build cache"
                    )
                error = stream_error(chunk)
                if error is not None:
                    parser.flush()
                    raise parser.failure(error)
                parser.feed(chunk)
            parser.flush()
        except docker.errors.APIError as error:
            raise parser.failure(_explanation(error)) from error
        except _TRANSPORT_ERRORS as error:
            raise parser.failure(
                f"the connection to the Docker engine broke ({type(error).__name__}); "
                "check that Docker is still running and build again"
            ) from error
        except OSError as error:
            # docker-py reads the context itself; an unreadable file stops it here.
            raise BuildFailedError(f"cannot send the build context {context}: {error}") \
                from error
        image_ref = full_tag or parser.image_id
        if image_ref is None:
            raise BuildFailedError("the build ended without naming an image: build again")
        image = self.image_info(image_ref)
        base_info = self._base_info(base)
        return BuildResult(
            image_id=image.id, tag=full_tag or image.id, size=image.size,
            base_size=base_info.size if base_info else 0, layers=len(image.layers),
            base_layers=len(base_info.layers) if base_info else 0, cached_steps=parser.cached,
            steps=parser.total or 0, seconds=time.monotonic() - started,
            layer_ids=image.layers,
        )

    def _base_info(self, base: str | None) -> ImageInfo | None:
        """The FROM image, to measure what the build added; None when it cannot be named
        (e.g. FROM ${ARG})."""
        if not base:
            return None
        with contextlib.suppress(DockerError):
            return self.image_info(base)
        return None

    def _stop_step(self, container: str | None) -> None:
        """Kill the running step's container: the step fails, the daemon ends the build and
        (forcerm) removes the container."""
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):  # it may have ended meanwhile
                self._api.kill(container)

    # -- containers --

    def run_smoke_container(self, image: str, input_dir: str | PathLike[str],
                            output_dir: str | PathLike[str], shm_size: str = "12g",
                            extra_args: Sequence[str] = (), *, timeout_s: float = 3600.0,
                            mem_limit: str | None = "32g", gpus: bool = False,
                            cancel: threading.Event | None = None,
                            tail_lines: int = LOG_TAIL_LINES, read_only: bool = False,
                            user: str | None = None) -> ContainerRun:
        """Run `image` as the challenge did: network none, `input_dir` read-only at /input,
        `output_dir` writable at /output, the image's own entrypoint (with `extra_args`
        after it), no TTY; the container is removed afterwards. It runs hardened as a careful
        runner would: every capability dropped, no-new-privileges, a pids limit, no swap
        beyond `mem_limit`. `read_only` makes the root filesystem read-only with a tmpfs
        /tmp; `user` runs it as that user instead of the image's. Peak memory and /dev/shm
        are measured while it runs. `gpus` asks for every GPU (needs the NVIDIA container
        runtime). Raises ContainerTimeoutError after `timeout_s`, ContainerCancelledError
        when `cancel` is set."""
        source = Path(input_dir).resolve()
        target = Path(output_dir).resolve()
        if not source.is_dir():
            raise ContainerError(f"images folder {source} does not exist: give the folder of "
                                 "smoke-test images")
        try:
            target.mkdir(parents=True, exist_ok=True)
            # Without CAP_DAC_OVERRIDE, root in the container may only write where the mode
            # lets everyone write, and a non-root user needs it anyway: it is our scratch folder.
            target.chmod(0o777)
        except OSError as error:
            raise ContainerError(f"cannot create the output folder {target}: "
                                 f"{error.strerror}") from error
        host_config = self._api.create_host_config(
            binds={str(source): {"bind": INPUT_MOUNT, "mode": "ro"},
                   str(target): {"bind": OUTPUT_MOUNT, "mode": "rw"}},
            network_mode="none", shm_size=shm_size, mem_limit=mem_limit,
            memswap_limit=mem_limit, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            pids_limit=PIDS_LIMIT, read_only=read_only,
            tmpfs={"/tmp": "rw,nosuid,nodev"} if read_only else None,
            device_requests=[docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])]
            if gpus else None,
        )
        return self._run(image, host_config, command=list(extra_args) or None,
                         entrypoint=None, timeout_s=timeout_s, cancel=cancel,
                         tail_lines=tail_lines, user=user, measure=True)

    def run_command(self, image: str, argv: Sequence[str], *, timeout_s: float = 300.0,
                    tail_lines: int = LOG_TAIL_LINES) -> ContainerRun:
        """Run `argv` in `image` in place of its entrypoint, without network, and remove the
        container; for looking inside an image (e.g. its torch version)."""
        host_config = self._api.create_host_config(network_mode="none")
        return self._run(image, host_config, command=list(argv[1:]), entrypoint=[argv[0]],
                         timeout_s=timeout_s, cancel=None, tail_lines=tail_lines)

    def torch_version(self, image: str) -> str:
        """torch.__version__ inside the image."""
        run = self.run_command(
            image, ["python3", "-c", "import torch; print(torch.__version__)"], timeout_s=300
        )
        lines = [line.strip() for line in run.logs_tail.splitlines() if line.strip()]
        if run.exit_code != 0 or not lines:
            last = lines[-1] if lines else "no output"
            raise DockerError(f"cannot read the torch version of {image} (python3 exited "
                              f"{run.exit_code}: {last}): the image needs python3 with torch")
        return lines[-1]

    def _run(self, image: str, host_config: Mapping[str, Any], *, command: list[str] | None,
             entrypoint: list[str] | None, timeout_s: float,
             cancel: threading.Event | None, tail_lines: int, user: str | None = None,
             measure: bool = False) -> ContainerRun:
        try:
            created = self._api.create_container(
                image, command=command, entrypoint=entrypoint, host_config=host_config,
                network_disabled=True, tty=False, stdin_open=False,
                labels={SMOKE_LABEL: "1"}, user=user or "",
            )
        except docker.errors.ImageNotFound as error:
            raise ImageMissingError(f"image {image} is not in the local Docker engine: build "
                                    "it first") from error
        except docker.errors.APIError as error:
            raise ContainerError(f"cannot create a container from {image}: "
                                 f"{_explanation(error)}") from error
        container = created["Id"]
        try:
            try:
                self._api.start(container)
            except docker.errors.APIError as error:
                raise ContainerError(_start_message(image, _explanation(error))) from error
            peaks = _Peaks()
            exit_code, oom = self._wait(container, image, timeout_s, cancel, tail_lines,
                                        peaks if measure else None)
            return ContainerRun(exit_code, self._logs(container, tail_lines),
                                peaks.memory, peaks.shm, oom)
        finally:
            with contextlib.suppress(docker.errors.APIError):  # already gone
                self._api.remove_container(container, force=True)

    def _wait(self, container: str, image: str, timeout_s: float,
              cancel: threading.Event | None, tail_lines: int,
              peaks: _Peaks | None = None) -> tuple[int, bool]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                state = self._api.inspect_container(container)["State"]
            except docker.errors.APIError as error:
                raise ContainerError(f"lost track of the container from {image}: "
                                     f"{_explanation(error)}") from error
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                return int(state.get("ExitCode", -1)), bool(state.get("OOMKilled"))
            if peaks is not None and state.get("Running"):
                peaks.sample(self._api, container)
            if cancel is not None and cancel.is_set():
                self._kill(container)
                raise ContainerCancelledError(
                    f"the smoke run of {image} was cancelled; its container was stopped and "
                    "removed"
                )
            if time.monotonic() > deadline:
                self._kill(container)
                tail = self._logs(container, tail_lines)
                raise ContainerTimeoutError(
                    f"the smoke run of {image} took longer than {timeout_s:.0f} s and was "
                    "stopped: look at its last lines, or use fewer smoke images", tail
                )
            time.sleep(_POLL_S)

    def _kill(self, container: str) -> None:
        with contextlib.suppress(docker.errors.APIError):  # it may have ended meanwhile
            self._api.kill(container)

    def _logs(self, container: str, tail_lines: int) -> str:
        try:
            data = self._api.logs(container, stdout=True, stderr=True, tail=tail_lines)
        except docker.errors.APIError:
            return ""
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    # -- registry --

    def login(self, registry: str, username: str, token: str) -> None:
        """Log in for this session only: the token stays in this process's memory, is sent
        to the engine, and is never logged, printed or written to a file (docker-py keeps it
        in memory; ~/.docker/config.json is not touched)."""
        try:
            host = validators.registry(registry)
        except ValueError as error:
            raise InvalidReferenceError(str(error)) from error
        if not username.strip():
            raise LoginRefusedError(f"no user name given for {host}: give your Synapse user "
                                    "name")
        if not token:
            raise LoginRefusedError(f"no token given for {host}: create a Synapse personal "
                                    "access token and give it (SYNAPSE_AUTH_TOKEN or the "
                                    "prompt)")
        try:
            self._api.login(username=username.strip(), password=token, registry=host,
                            reauth=True)
        # Docker's own error may quote the token, so it is never chained, not even for
        # OBJECTNET_WIZARD_DEBUG=1: the message carries Docker's reason with the token masked.
        except docker.errors.APIError as error:
            reason = _scrub(_explanation(error), token)
            if _is_unreachable(reason) and not _is_unauthorized(reason):
                raise RegistryUnreachableError(
                    f"cannot reach registry {host} to log in ({reason}): check the registry "
                    "host and the network"
                ) from None
            raise LoginRefusedError(
                f"registry {host} refused the login of {show(username.strip())}: check the "
                "user name and the token (a Synapse personal access token with view, download "
                "and modify scopes)"
            ) from None
        except _TRANSPORT_ERRORS as error:
            raise DockerUnavailableError(
                f"the connection to the Docker engine broke while logging in "
                f"({type(error).__name__}): check that Docker is running"
            ) from None

    def push(self, reference: str, on_event: EventCallback | None = None) -> str:
        """Push `reference` (registry/repository:tag) and return the digest the registry
        stored it under (sha256:...), which is what the challenge pulls. Raises
        PushFailedError; Docker reports push failures inside the stream, so every chunk is
        checked."""
        repository, tag = _reference(validators.tagged_reference, reference)
        emit = on_event or _ignore
        digest: str | None = None
        try:
            stream = self._api.push(repository, tag=tag, stream=True, decode=True)
            for chunk in stream:
                error = stream_error(chunk)
                if error is not None:
                    raise PushFailedError(_push_message(f"{repository}:{tag}", error))
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
                    continue
                status = chunk.get("status")
                if isinstance(status, str):
                    current, total = progress(chunk)
                    emit(PushProgress(str(chunk.get("id", "")), status, current, total))
        except docker.errors.ImageNotFound as error:
            raise ImageMissingError(f"cannot push {repository}:{tag}: no image has that name; "
                                    "build and tag it first") from error
        except docker.errors.APIError as error:
            raise PushFailedError(_push_message(f"{repository}:{tag}", _explanation(error))) \
                from error
        except _TRANSPORT_ERRORS as error:
            raise PushFailedError(
                f"pushing {repository}:{tag} failed: the connection to the Docker engine broke "
                f"({type(error).__name__}); push again (layers already sent are skipped)"
            ) from error
        if digest is None or not SHA256_DIGEST.fullmatch(digest):
            raise PushFailedError(
                f"pushing {repository}:{tag} ended without the registry reporting a digest: "
                "push again"
            )
        return digest


def _push_message(reference: str, reason: str) -> str:
    if _is_unauthorized(reason):
        hint = ("log in first, and check that the Synapse project in the name is one you can "
                "write to")
    elif _is_unreachable(reason):
        hint = "check the registry host and the network"
    elif "does not exist" in reason.lower() or "no such image" in reason.lower():
        hint = "build and tag the image first"
    else:
        hint = "push again; layers already sent are skipped"
    return f"pushing {reference} failed: {reason}: {hint}"


def _start_message(image: str, reason: str) -> str:
    if "gpu" in reason.lower() or "device driver" in reason.lower():
        return (f"cannot start {image} with GPUs ({reason}): install the NVIDIA Container "
                "Toolkit, or run the smoke test without GPUs")
    return f"cannot start a container from {image}: {reason}"
