"""What the wizard's stages ask of Docker, as a Protocol.

The pipeline, the smoke runs, the wheelhouse and the push receipt are written against this,
not against docker_ops.DockerOps, so they import no docker and the type checker knows every
call they make; DockerOps is the one real implementation, and a test double needs only the
methods its test reaches. Defaults are the implementation's (written `...` here).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from os import PathLike
from typing import Protocol

from wizard.docker_events import BuildResult, ContainerRun, EventCallback, ImageInfo


class DockerClient(Protocol):
    """The Docker operations of wizard.docker_ops.DockerOps that the stages use."""

    host: str

    def close(self) -> None: ...

    def describe(self) -> str: ...

    def has_gpu_runtime(self) -> bool: ...

    # -- images --

    def image_present(self, ref: str) -> bool: ...

    def image_info(self, ref: str) -> ImageInfo: ...

    def ensure_base_image(self, ref: str, on_event: EventCallback | None = ...) -> ImageInfo: ...

    def layer_sizes(self, ref: str) -> tuple[tuple[str, int], ...] | None: ...

    def untag(self, reference: str) -> None: ...

    def pull_by_digest(self, reference: str,
                       on_event: EventCallback | None = ...) -> ImageInfo: ...

    def tag(self, image: str, reference: str) -> str: ...

    def build(self, context_dir: str | PathLike[str], dockerfile: str = ...,
              tag: str | None = ..., on_event: EventCallback | None = ...,
              cancel: threading.Event | None = ..., *, base_image: str | None = ...,
              nocache: bool = ...) -> BuildResult: ...

    # -- containers --

    def run_smoke_container(self, image: str, input_dir: str | PathLike[str],
                            output_dir: str | PathLike[str], shm_size: str = ...,
                            extra_args: Sequence[str] = ..., *, timeout_s: float = ...,
                            mem_limit: str | None = ..., gpus: bool = ...,
                            cancel: threading.Event | None = ..., tail_lines: int = ...,
                            read_only: bool = ..., user: str | None = ...) -> ContainerRun: ...

    def run_command(self, image: str, argv: Sequence[str], *, timeout_s: float = ...,
                    tail_lines: int = ...) -> ContainerRun: ...

    def torch_version(self, image: str) -> str: ...

    # -- registry --

    def login(self, registry: str, username: str, token: str) -> None: ...

    def push(self, reference: str, on_event: EventCallback | None = ...) -> str: ...
