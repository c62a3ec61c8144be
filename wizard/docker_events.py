"""The words docker_ops speaks in: its errors, its events and its results.

Kept apart from docker_ops (the only module that imports docker) so the TUI and the pipeline
can name them without importing docker, which costs start-up time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from wizard.errors import WizardError

# ---- errors ---------------------------------------------------------------------------------


class DockerError(WizardError):
    """Something Docker was asked to do failed; the message says what and what to do."""


class DockerUnavailableError(DockerError):
    """No Docker engine answers, or it refuses this user."""


class InvalidReferenceError(DockerError):
    """An image name or tag that Docker's reference grammar refuses."""


class ImageMissingError(DockerError):
    """An image the wizard needs is not in the local engine."""


class BaseImageMissingError(ImageMissingError):
    """The base image is not here and cannot be pulled."""


class PullFailedError(DockerError):
    """A pull failed; `reason` is Docker's own words."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class BuildFailedError(DockerError):
    """A build failed. `step`/`total`/`instruction` name the failing step (None when it failed
    before any step); `log_tail` holds the last lines that step printed; `summary` is the
    message's first line."""

    def __init__(self, summary: str, *, step: int | None = None, total: int | None = None,
                 instruction: str | None = None, reason: str = "",
                 log_tail: Sequence[str] = ()):
        self.summary = summary
        self.step = step
        self.total = total
        self.instruction = instruction
        self.reason = reason
        self.log_tail = list(log_tail)
        lines = [summary]
        if self.log_tail:
            lines.append("last lines of the step's output:")
            lines.extend(f"  {line}" for line in self.log_tail)
        super().__init__("\n".join(lines))


class DockerCancelledError(DockerError):
    """The user cancelled a build or a container run; what was started has been stopped."""


class BuildCancelledError(DockerCancelledError):
    """The build was cancelled; its running step container was stopped and removed."""


class ContainerCancelledError(DockerCancelledError):
    """The smoke container was cancelled, stopped and removed."""


class ContainerError(DockerError):
    """A container could not be created, started or waited for."""


class ContainerTimeoutError(ContainerError):
    """The container ran past its time limit and was stopped; `logs_tail` holds its last
    lines."""

    def __init__(self, message: str, logs_tail: str = ""):
        super().__init__(message)
        self.logs_tail = logs_tail


class LoginRefusedError(DockerError):
    """The registry refused the user name and token."""


class RegistryUnreachableError(DockerError):
    """The registry did not answer (wrong host, no network)."""


class PushFailedError(DockerError):
    """A push failed; Docker reports these inside the stream, so this comes from a chunk."""


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildStep:
    """A Dockerfile instruction starts: `number` of `total`, as `docker build` counts them."""

    number: int
    total: int
    instruction: str


@dataclass(frozen=True)
class BuildCached:
    """Step `number` was taken from the build cache (nothing was run or copied)."""

    number: int


@dataclass(frozen=True)
class BuildLog:
    """A line the current step printed (a RUN command's output, a warning)."""

    line: str


@dataclass(frozen=True)
class DaemonWarning:
    """A warning dockerd wrote into the build stream about the build itself, not a step's
    output: "IPv4 forwarding is disabled" on hosts with ip_forward=0, build-args nobody used,
    Dockerfile syntax deprecations. Sent once per distinct text per build."""

    text: str


@dataclass(frozen=True)
class PullProgress:
    """Progress of a pull. `layer` is empty for lines about the whole image."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class PushProgress:
    """Progress of a push. `layer` is empty for lines about the whole image."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


DockerEvent = (BuildStep | BuildCached | BuildLog | DaemonWarning | PullProgress
               | PushProgress)
EventCallback = Callable[[DockerEvent], None]


# ---- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What the engine knows about a local image."""

    id: str
    size: int
    """Bytes, as `docker images` shows (the base image included)."""
    layers: tuple[str, ...]
    """Filesystem layer digests (RootFS.Layers), base first."""
    labels: Mapping[str, str] = field(default_factory=dict)
    repo_digests: tuple[str, ...] = ()
    """`repo@sha256:...` names the registries know the image by (set by push and pull)."""


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tag: str
    size: int
    base_size: int
    layers: int
    """Filesystem layers of the image, the base image's included."""
    base_layers: int
    cached_steps: int
    """Steps taken from the build cache."""
    steps: int
    """Steps in the Dockerfile (FROM included)."""
    seconds: float
    layer_ids: tuple[str, ...] = ()

    @property
    def size_over_base(self) -> int:
        """What the image adds to its base: what a user downloads once the base is cached."""
        return self.size - self.base_size

    @property
    def new_layers(self) -> int:
        return self.layers - self.base_layers


class ContainerRun(NamedTuple):
    """How a container ended: its exit code and the last lines of its log (the challenge kept
    only the last lines)."""

    exit_code: int
    logs_tail: str
    memory_peak: int | None = None
    """Peak memory in use (as `docker stats` counts it: page cache that can be dropped is
    left out), polled while the container ran; None when the engine gave no figures."""
    shm_peak: int | None = None
    """Peak shared memory (the cgroup's shmem, which /dev/shm's pages are charged to)."""
    oom_killed: bool = False
    """The kernel killed it for exceeding its memory limit."""
