"""A small hand-written stand-in for docker-py's low-level `APIClient`, for fast unit tests of
how wizard.docker_ops turns Docker's streams into events and errors.

It replays chunks exactly as docker-py yields them with `decode=True` (the canned streams
below were captured from a real Docker 20.10 engine and shortened). The real engine, base
image and registry are exercised by the `docker`-marked tests; this fake only covers what is
awkward to provoke there: in-band push errors mid-stream, a push with no digest, a broken
connection, an engine that is silent while a build is cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import docker.errors

BASE_IMAGE = "objectnet-wizard-test/torch:bookworm"
IMAGE_ID = "sha256:92607131652055e15b8146c2fa5f170c6a246f091664077b75d239cc207d0b93"
DIGEST = "sha256:4b20c9016e5aaa05d96a82d03bdea6ce5cc0f84b3a53a3e97281f14b0e3f00b9"


def _step(number: int, total: int, instruction: str) -> list[dict[str, Any]]:
    # The builder sends the step header, then its newline as a chunk of its own.
    return [{"stream": f"Step {number}/{total} : {instruction}"}, {"stream": "\n"}]


BUILD_OK: list[dict[str, Any]] = [
    *_step(1, 5, f"FROM {BASE_IMAGE}"),
    {"stream": " ---> 9342b3dadb7f\n"},
    *_step(2, 5, "WORKDIR /opt/objectnet"),
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> b6a8f8aef945\n"},
    *_step(3, 5, 'RUN python3 -c "print(1)"'),
    {"stream": " ---> Running in 418e4ab7992a\n"},
    {"stream": "1\n"},
    {"stream": "Removing intermediate container 418e4ab7992a\n"},
    {"stream": " ---> 2736b25bd9d3\n"},
    *_step(4, 5, 'COPY ["model/tiny.pth", "/opt/objectnet/model/tiny.pth"]'),
    {"stream": " ---> 81fcef86b909\n"},
    *_step(5, 5, 'ENTRYPOINT ["python3", "-m", "engine"]'),
    {"stream": " ---> Running in 50e31a833fd0\n"},
    {"stream": "Removing intermediate container 50e31a833fd0\n"},
    {"stream": " ---> 926071316520\n"},
    {"aux": {"ID": IMAGE_ID}},
    {"stream": "Successfully built 926071316520\n"},
    {"stream": "Successfully tagged 127.0.0.1:5000/syn123/tiny:v1\n"},
]

BUILD_RUN_FAILS: list[dict[str, Any]] = [
    *_step(1, 2, f"FROM {BASE_IMAGE}"),
    {"stream": " ---> 9342b3dadb7f\n"},
    *_step(2, 2, "RUN python3 -m pip install -r /opt/objectnet/model/requirements.txt"),
    {"stream": " ---> Running in 56321873cb3e\n"},
    {"stream": "Collecting timm==99.0\n"},
    {"stream": "\x1b[91mERROR: No matching distribution found for timm==99.0\n\x1b[0m"},
    {"stream": "Removing intermediate container 56321873cb3e\n"},
    {"errorDetail": {"code": 1, "message": "The command '/bin/sh -c python3 -m pip install -r "
                     "/opt/objectnet/model/requirements.txt' returned a non-zero code: 1"},
     "error": "The command '/bin/sh -c python3 -m pip install -r "
              "/opt/objectnet/model/requirements.txt' returned a non-zero code: 1"},
]

BUILD_COPY_FAILS: list[dict[str, Any]] = [
    *_step(1, 2, f"FROM {BASE_IMAGE}"),
    {"stream": " ---> 9342b3dadb7f\n"},
    *_step(2, 2, "COPY missing.pth /x"),
    {"errorDetail": {"message": "COPY failed: file not found in build context or excluded by "
                                ".dockerignore: stat missing.pth: file does not exist"},
     "error": "COPY failed: file not found in build context or excluded by .dockerignore: "
              "stat missing.pth: file does not exist"},
]

PUSH_OK: list[dict[str, Any]] = [
    {"status": "The push refers to repository [127.0.0.1:5000/syn123/tiny]"},
    {"status": "Preparing", "progressDetail": {}, "id": "91711196b225"},
    {"status": "Pushing", "progressDetail": {"current": 35328, "total": 2310888},
     "progress": "[>        ]  35.33kB/2.311MB", "id": "91711196b225"},
    {"status": "Pushed", "progressDetail": {}, "id": "91711196b225"},
    {"status": f"v1: digest: {DIGEST} size: 527"},
    {"progressDetail": {}, "aux": {"Tag": "v1", "Digest": DIGEST, "Size": 527}},
]

PUSH_UNAUTHORIZED: list[dict[str, Any]] = [
    {"status": "The push refers to repository [127.0.0.1:5001/syn123/tiny]"},
    {"status": "Preparing", "progressDetail": {}, "id": "91711196b225"},
    {"errorDetail": {"message": "no basic auth credentials"},
     "error": "no basic auth credentials"},
]

# A layer upload that fails after progress: Docker still answers HTTP 200 and the error is
# only in the stream.
PUSH_FAILS_MIDWAY: list[dict[str, Any]] = [
    {"status": "The push refers to repository [127.0.0.1:5000/syn123/tiny]"},
    {"status": "Pushing", "progressDetail": {"current": 524800, "total": 1268315860},
     "id": "3a39070fc5d0"},
    {"status": "Retrying in 1 second", "progressDetail": {}, "id": "3a39070fc5d0"},
    {"errorDetail": {"message": "blob upload unknown"}, "error": "blob upload unknown"},
]

PUSH_NO_DIGEST: list[dict[str, Any]] = PUSH_OK[:4]


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    """An APIError as docker-py raises it for an engine error answer."""
    return docker.errors.APIError(f"{status} Server Error", explanation=explanation)


class BlockingStream:
    """A stream that yields its chunks, then stays silent until `release` is set, as the
    engine does while a RUN step prints nothing. An iterator with close(), like the
    generator docker-py returns."""

    def __init__(self, chunks: Iterable[dict[str, Any]], after: Iterable[dict[str, Any]] = ()):
        self.release = threading.Event()
        self.closed = False
        self._items = self._generate(list(chunks), list(after))

    def _generate(self, chunks: list[dict[str, Any]],
                  after: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield from chunks
        self.release.wait(timeout=30)
        yield from after

    def __iter__(self) -> BlockingStream:
        return self

    def __next__(self) -> dict[str, Any]:
        return next(self._items)

    def close(self) -> None:
        self.closed = True


class FakeAPIClient:
    """The low-level calls DockerOps makes, replaying canned chunks and recording calls.

    `images` maps a reference to its inspect attributes; `build_stream`, `push_stream` and
    `pull_stream` are what those calls yield (a list, or an exception to raise when called);
    `login_error` is raised by login; `containers` scripts container runs by image;
    `logs` is a container's whole log and `log_chunks` the writes a followed log yields."""

    def __init__(self, *, images: dict[str, dict[str, Any]] | None = None,
                 build_stream: Any = (), push_stream: Any = (), pull_stream: Any = (),
                 login_error: Exception | None = None, exit_code: int = 0,
                 logs: bytes = b"", log_chunks: list[bytes] | None = None) -> None:
        self.images = dict(images or {})
        self.build_stream = build_stream
        self.push_stream = push_stream
        self.pull_stream = pull_stream
        self.login_error = login_error
        self.exit_code = exit_code
        self.log_bytes = logs
        self.log_chunks = log_chunks
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.killed: list[str] = []
        self.removed: list[str] = []
        self.running: set[str] = set()

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def called(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for call, kwargs in self.calls if call == name]

    @staticmethod
    def _stream(source: Any) -> Iterable[dict[str, Any]]:
        if isinstance(source, BaseException):
            raise source
        return source

    # images

    def inspect_image(self, ref: str) -> dict[str, Any]:
        self._record("inspect_image", ref=ref)
        if ref not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return self.images[ref]

    def build(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        self._record("build", **kwargs)
        return self._stream(self.build_stream)

    def pull(self, repository: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
        self._record("pull", repository=repository, **kwargs)
        return self._stream(self.pull_stream)

    def push(self, repository: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
        self._record("push", repository=repository, **kwargs)
        return self._stream(self.push_stream)

    def tag(self, image: str, repository: str, tag: str | None = None, force: bool = False
            ) -> bool:
        self._record("tag", image=image, repository=repository, tag=tag)
        if image not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        self.images[f"{repository}:{tag}"] = self.images[image]
        return True

    def login(self, **kwargs: Any) -> dict[str, Any]:
        self._record("login", **kwargs)
        if self.login_error is not None:
            raise self.login_error
        return {"IdentityToken": "", "Status": "Login Succeeded"}

    # containers

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return dict(kwargs)

    def create_container(self, image: str, **kwargs: Any) -> dict[str, Any]:
        self._record("create_container", image=image, **kwargs)
        if image not in self.images:
            raise docker.errors.ImageNotFound(f"No such image: {image}")
        return {"Id": "c0ffee"}

    def start(self, container: str) -> None:
        self._record("start", container=container)
        self.running.add(container)

    def inspect_container(self, container: str) -> dict[str, Any]:
        if container in self.running and self.exit_code >= 0:
            self.running.discard(container)
        running = container in self.running
        return {"State": {"Running": running, "Status": "running" if running else "exited",
                          "ExitCode": self.exit_code}}

    def history(self, ref: str) -> list[dict[str, Any]]:
        layers = (self.images.get(ref) or {}).get("RootFS", {}).get("Layers") or []
        return [{"Size": 1000, "CreatedBy": "/bin/sh -c #(nop) COPY file:x in /"}
                for _ in layers]

    def remove_image(self, image: str, **kwargs: Any) -> None:
        self._record("remove_image", image=image, **kwargs)

    def info(self) -> dict[str, Any]:
        return {"Runtimes": {"runc": {"path": "runc"}}}

    def stats(self, container: str, **kwargs: Any) -> dict[str, Any]:
        return {"memory_stats": {}}

    def exec_create(self, container: str, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        self._record("exec_create", container=container, cmd=cmd)
        return {"Id": "e0"}

    def exec_start(self, exec_id: str, **kwargs: Any) -> bytes:
        return b"df: /dev/shm: not found\n"

    def logs(self, container: str, **kwargs: Any) -> Any:
        self._record("logs", container=container, **kwargs)
        if kwargs.get("stream"):
            # As docker-py streams a log without a TTY: one chunk per write, which need not
            # end at a line, or even at a character.
            return iter(self.log_chunks if self.log_chunks is not None else [self.log_bytes])
        return self.log_bytes

    def kill(self, container: str) -> None:
        self.killed.append(container)
        self.running.discard(container)

    def remove_container(self, container: str, force: bool = False) -> None:
        self.removed.append(container)


def image_attrs(size: int, layers: list[str], labels: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """inspect_image attributes with the fields DockerOps reads."""
    return {"Id": f"sha256:{len(layers):064x}", "Size": size,
            "RootFS": {"Type": "layers", "Layers": layers},
            "Config": {"Labels": labels or {}}, "RepoDigests": []}
