"""wizard.docker_ops: event handling and error mapping on canned streams (fast, with the fake
low-level client), then the same operations on the real engine, base image and registries."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest
from fake_docker import (
    BASE_IMAGE,
    BUILD_COPY_FAILS,
    BUILD_OK,
    BUILD_RUN_FAILS,
    DIGEST,
    IMAGE_ID,
    PUSH_FAILS_MIDWAY,
    PUSH_NO_DIGEST,
    PUSH_OK,
    PUSH_UNAUTHORIZED,
    BlockingStream,
    FakeAPIClient,
    api_error,
    image_attrs,
)

from wizard import docker_events, docker_ops
from wizard.docker_events import (
    BaseImageMissingError,
    BuildCached,
    BuildCancelledError,
    BuildFailedError,
    BuildLog,
    BuildStep,
    ContainerTimeoutError,
    DockerUnavailableError,
    ImageMissingError,
    InvalidReferenceError,
    LoginRefusedError,
    PullProgress,
    PushFailedError,
    PushProgress,
    RegistryUnreachableError,
)
from wizard.docker_ops import DockerOps
from wizard.errors import WizardError

TOKEN = "syn-pat-0123456789abcdef-secret"
TAG = "127.0.0.1:5000/syn123/tiny:v1"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nENTRYPOINT [\"true\"]\n")
    return tmp_path


def fake_with_images(**kwargs) -> FakeAPIClient:
    images = {
        BASE_IMAGE: image_attrs(1_268_315_860, ["sha256:base"]),
        TAG: image_attrs(1_268_508_328, ["sha256:base", "sha256:a", "sha256:b"]),
        IMAGE_ID: image_attrs(1_268_508_328, ["sha256:base", "sha256:a", "sha256:b"]),
    }
    return FakeAPIClient(images=images, **kwargs)


# ---- references ------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", [
    "Docker.Synapse.org/SYN1/Model:v1x", "repo:-bad", "a//b", "syn1/my model:v1", "",
])
def test_bad_references_are_refused_before_docker_sees_them(reference):
    api = fake_with_images()
    with pytest.raises(InvalidReferenceError):
        DockerOps(api).tag(IMAGE_ID, reference)
    assert api.called("tag") == []


def test_tag_defaults_to_latest_and_refuses_digests():
    api = fake_with_images()
    ops = DockerOps(api)
    assert ops.tag(IMAGE_ID, "127.0.0.1:5000/syn123/tiny") == "127.0.0.1:5000/syn123/tiny:latest"
    with pytest.raises(InvalidReferenceError, match="digest"):
        ops.tag(IMAGE_ID, f"127.0.0.1:5000/syn123/tiny@{DIGEST}")
    with pytest.raises(ImageMissingError, match="build it first"):
        ops.tag("sha256:nothing", "127.0.0.1:5000/syn123/tiny:v2")


def test_pull_by_digest_needs_a_digest():
    with pytest.raises(InvalidReferenceError, match="digest"):
        DockerOps(fake_with_images()).pull_by_digest(TAG)


# ---- build events ----------------------------------------------------------------------------


def test_build_turns_the_stream_into_steps_cache_hits_and_log_lines(context):
    api = fake_with_images(build_stream=BUILD_OK)
    events = []
    result = DockerOps(api).build(context, "Dockerfile", TAG, events.append)
    assert [e for e in events if isinstance(e, BuildStep)] == [
        BuildStep(1, 5, f"FROM {BASE_IMAGE}"),
        BuildStep(2, 5, "WORKDIR /opt/objectnet"),
        BuildStep(3, 5, 'RUN python3 -c "print(1)"'),
        BuildStep(4, 5, 'COPY ["model/tiny.pth", "/opt/objectnet/model/tiny.pth"]'),
        BuildStep(5, 5, 'ENTRYPOINT ["python3", "-m", "engine"]'),
    ]
    assert [e for e in events if isinstance(e, BuildCached)] == [BuildCached(2)]
    # Only what steps print, none of the builder's bookkeeping lines.
    assert [e.line for e in events if isinstance(e, BuildLog)] == ["1"]
    assert (result.steps, result.cached_steps) == (5, 1)
    assert (result.size_over_base, result.new_layers) == (192_468, 2)
    assert (result.layers, result.base_layers) == (3, 1)
    assert result.tag == TAG
    (call,) = api.called("build")
    # Live logs need the low-level stream; intermediate containers go even on failure.
    assert call["decode"] is True and call["rm"] is True and call["forcerm"] is True
    assert call["tag"] == TAG and call["dockerfile"] == "Dockerfile"


def test_a_failing_run_step_names_the_step_and_its_last_lines(context):
    api = fake_with_images(build_stream=BUILD_RUN_FAILS)
    with pytest.raises(BuildFailedError) as caught:
        DockerOps(api).build(context, "Dockerfile", TAG)
    error = caught.value
    assert (error.step, error.total) == (2, 2)
    assert error.instruction.startswith("RUN python3 -m pip install")
    assert error.log_tail == ["Collecting timm==99.0",
                              "ERROR: No matching distribution found for timm==99.0"]
    first = str(error).splitlines()[0]
    assert first.startswith("the build failed at step 2/2 (RUN python3 -m pip install")
    assert "returned a non-zero code: 1" in first and "pip could not install" in first
    assert "No matching distribution found for timm==99.0" in str(error)
    assert "\x1b" not in str(error)


def test_a_failing_copy_step_says_the_file_is_missing(context):
    with pytest.raises(BuildFailedError, match=r"step 2/2 \(COPY missing.pth /x\).*missing "
                       "from the project folder"):
        DockerOps(fake_with_images(build_stream=BUILD_COPY_FAILS)).build(context, "Dockerfile",
                                                                          TAG)


def test_an_error_answer_before_the_first_step_is_a_build_failure(context):
    error = api_error(400, "dockerfile parse error line 2: unknown instruction: FROBNICATE")
    with pytest.raises(BuildFailedError, match="before its first step: dockerfile parse error"):
        DockerOps(fake_with_images(build_stream=error)).build(context, "Dockerfile", TAG)


def test_a_broken_engine_connection_mid_build_is_a_build_failure(context):
    import urllib3.exceptions

    def broken():
        yield from BUILD_OK[:3]
        raise urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")

    with pytest.raises(BuildFailedError, match="connection to the Docker engine broke"):
        DockerOps(fake_with_images(build_stream=broken())).build(context, "Dockerfile", TAG)


def test_build_refuses_a_missing_dockerfile_before_calling_docker(tmp_path):
    api = fake_with_images()
    with pytest.raises(BuildFailedError, match="render the Dockerfile first"):
        DockerOps(api).build(tmp_path, "Dockerfile", TAG)
    assert api.called("build") == []


def test_cancel_stops_the_running_step_even_while_docker_is_silent(context):
    stream = BlockingStream(BUILD_OK[:10], after=[
        {"errorDetail": {"message": "killed"}, "error": "killed"}])
    api = fake_with_images(build_stream=stream)
    api.kill = lambda container: (api.killed.append(container), stream.release.set())
    cancel = threading.Event()
    steps = []

    def on_event(event):
        if isinstance(event, BuildStep):
            steps.append(event)
            if event.number == 3:
                threading.Timer(0.3, cancel.set).start()

    started = time.monotonic()
    with pytest.raises(BuildCancelledError, match="cancelled at step 3/5"):
        DockerOps(api).build(context, "Dockerfile", TAG, on_event, cancel)
    assert time.monotonic() - started < 5
    assert api.killed == ["418e4ab7992a"]  # the step's container, from "Running in"
    assert stream.closed


# ---- push, login, pull -----------------------------------------------------------------------


def test_push_takes_the_digest_from_aux_and_reports_progress():
    api = fake_with_images(push_stream=PUSH_OK)
    events = []
    assert DockerOps(api).push(TAG, events.append) == DIGEST
    assert PushProgress("91711196b225", "Pushing", 35328, 2310888) in events
    (call,) = api.called("push")
    assert (call["repository"], call["tag"]) == ("127.0.0.1:5000/syn123/tiny", "v1")
    assert call["stream"] is True and call["decode"] is True


@pytest.mark.parametrize(("stream", "message"), [
    (PUSH_UNAUTHORIZED, "no basic auth credentials: log in first"),
    (PUSH_FAILS_MIDWAY, "blob upload unknown: push again"),
    (PUSH_NO_DIGEST, "without the registry reporting a digest"),
])
def test_push_failures_reported_inside_the_stream_raise(stream, message):
    with pytest.raises(PushFailedError, match=message):
        DockerOps(fake_with_images(push_stream=stream)).push(TAG)


def test_login_refused_is_one_line_without_the_token():
    refusal = api_error(500, "login attempt to http://127.0.0.1:5001/v2/ failed with status: "
                             f"401 Unauthorized ({TOKEN})")
    api = fake_with_images(login_error=refusal)
    with pytest.raises(LoginRefusedError) as caught:
        DockerOps(api).login("127.0.0.1:5001", "alice", TOKEN)
    assert "\n" not in str(caught.value)
    assert "refused the login" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    (call,) = api.called("login")
    assert call["reauth"] is True  # a cached login for the same user must not pass unchecked


def test_login_to_an_unreachable_registry_says_so():
    error = api_error(500, 'Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: '
                           "connection refused")
    with pytest.raises(RegistryUnreachableError, match=r"cannot reach registry 127\.0\.0\.1:9"):
        DockerOps(fake_with_images(login_error=error)).login("127.0.0.1:9", "alice", TOKEN)


def test_login_needs_a_user_and_a_token():
    api = fake_with_images()
    with pytest.raises(LoginRefusedError, match="no token"):
        DockerOps(api).login("docker.synapse.org", "alice", "")
    with pytest.raises(LoginRefusedError, match="no user name"):
        DockerOps(api).login("docker.synapse.org", " ", TOKEN)
    assert api.called("login") == []


def test_a_present_base_image_is_not_pulled():
    api = fake_with_images()
    info = DockerOps(api).ensure_base_image(BASE_IMAGE)
    assert info.size == 1_268_315_860
    assert api.called("pull") == []


def test_an_absent_base_image_without_network_says_how_to_get_it():
    offline = api_error(500, 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
                             "registry-1.docker.io: no such host")
    with pytest.raises(BaseImageMissingError) as caught:
        DockerOps(fake_with_images(pull_stream=offline)).ensure_base_image("pytorch/pytorch:2.3.1")
    message = str(caught.value)
    assert "pytorch/pytorch:2.3.1" in message and "no such host" in message
    assert "docker pull pytorch/pytorch:2.3.1" in message and "docker load" in message


def test_pull_progress_events_and_in_band_pull_errors():
    stream = [{"status": "Pulling from syn123/tiny", "id": "v1"},
              {"status": "Downloading", "progressDetail": {"current": 10, "total": 20},
               "id": "3a39070fc5d0"},
              {"errorDetail": {"message": "unexpected EOF"}, "error": "unexpected EOF"}]
    events = []
    with pytest.raises(docker_events.PullFailedError, match="unexpected EOF"):
        DockerOps(fake_with_images(pull_stream=stream)).pull(TAG, events.append)
    assert PullProgress("3a39070fc5d0", "Downloading", 10, 20) in events


# ---- containers ------------------------------------------------------------------------------


def test_smoke_container_is_started_like_the_challenge(tmp_path):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    api = fake_with_images(exit_code=3, logs=b"line 1\nwrote /output/predictions.csv\n")
    run = DockerOps(api).run_smoke_container(TAG, images, out, extra_args=["--workers", "1"])
    assert run[:2] == (3, "line 1\nwrote /output/predictions.csv\n")
    (call,) = api.called("create_container")
    host = call["host_config"]
    assert host["network_mode"] == "none" and host["shm_size"] == "12g"
    assert host["mem_limit"] == host["memswap_limit"] == "32g", "no swap beyond the limit"
    assert host["cap_drop"] == ["ALL"] and host["security_opt"] == ["no-new-privileges"]
    assert host["pids_limit"] > 0 and host["read_only"] is False
    assert host["binds"] == {str(images.resolve()): {"bind": "/input", "mode": "ro"},
                             str(out.resolve()): {"bind": "/output", "mode": "rw"}}
    assert call["entrypoint"] is None and call["command"] == ["--workers", "1"]
    assert call["tty"] is False and call["network_disabled"] is True
    assert api.removed == ["c0ffee"]


def test_a_container_past_its_time_limit_is_killed_and_removed(tmp_path):
    (tmp_path / "images").mkdir()
    api = fake_with_images(exit_code=-1, logs=b"predicting 50273 images\n")
    with pytest.raises(ContainerTimeoutError, match="longer than 1 s") as caught:
        DockerOps(api).run_smoke_container(TAG, tmp_path / "images", tmp_path / "out",
                                           timeout_s=1.0)
    assert caught.value.logs_tail == "predicting 50273 images\n"
    assert api.killed == ["c0ffee"] and api.removed == ["c0ffee"]


def test_every_docker_error_is_a_wizard_error():
    for name in dir(docker_events):
        value = getattr(docker_events, name)
        if isinstance(value, type) and name.endswith("Error"):
            assert issubclass(value, WizardError), name


def test_no_engine_is_one_clear_line(tmp_path):
    socket = f"unix://{tmp_path}/docker.sock"
    with pytest.raises(DockerUnavailableError) as caught:
        docker_ops.connect(socket)
    assert str(caught.value) == (
        f"no Docker engine answers at {socket}: start Docker (e.g. `sudo systemctl start "
        "docker`) or set DOCKER_HOST"
    )


# ---- the real engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ops(docker_client) -> Iterator[DockerOps]:
    connected = docker_ops.connect()
    yield connected
    connected.close()


@pytest.mark.docker
def test_describe_names_the_engine(ops):
    assert ops.describe().startswith("Docker ")
    assert ops.describe().endswith(f" at {ops.host}")


@pytest.mark.docker
def test_base_image_present_and_absent(ops, base_image, registry):
    assert ops.ensure_base_image(base_image).size > 0
    with pytest.raises(BaseImageMissingError, match="docker load"):
        ops.ensure_base_image(f"{registry}/objectnet-wizard-test/absent:none")
    with pytest.raises(BaseImageMissingError, match="connection refused"):
        ops.ensure_base_image("127.0.0.1:9/objectnet-wizard-test/absent:none")


@pytest.mark.docker
def test_a_failing_build_step_on_the_real_engine(ops, base_image, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\n"
        "ENV WIZARD_TEST=1\n"
        "RUN echo collecting requirements && echo 'no such package: nothing' >&2 && exit 3\n"
    )
    events = []
    with pytest.raises(BuildFailedError) as caught:
        ops.build(tmp_path, "Dockerfile", "objectnet-wizard-test/failing:latest", events.append)
    error = caught.value
    assert (error.step, error.total) == (3, 3)
    assert error.instruction.startswith("RUN echo collecting requirements")
    assert "returned a non-zero code: 3" in error.reason
    # stdout and stderr travel apart, so their order may differ.
    assert sorted(error.log_tail) == ["collecting requirements", "no such package: nothing"]
    assert BuildLog("collecting requirements") in events


@pytest.mark.docker
def test_cancelling_a_real_build_stops_its_step_container(ops, docker_client, base_image,
                                                         tmp_path):
    marker = f"sleep 41.{os.getpid()}"
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN {marker}\n")
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, BuildStep) and event.number == 2:
            threading.Timer(1.5, cancel.set).start()

    tag = f"objectnet-wizard-test/cancelled:{os.getpid()}"
    started = time.monotonic()
    with pytest.raises(BuildCancelledError):
        ops.build(tmp_path, "Dockerfile", tag, on_event, cancel)
    assert time.monotonic() - started < 20
    assert not ops.image_present(tag)

    def leftovers():
        return [c for c in docker_client.api.containers(all=True)
                if marker in (c.get("Command") or "")]

    deadline = time.monotonic() + 10
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftovers() == []


@pytest.mark.docker
def test_login_accepted_and_refused(ops, auth_registry):
    config = Path.home() / ".docker" / "config.json"
    before = config.read_bytes() if config.exists() else None
    ops.login(auth_registry.host, auth_registry.user, auth_registry.password)
    with pytest.raises(LoginRefusedError) as caught:
        ops.login(auth_registry.host, auth_registry.user, "not-the-" + auth_registry.password)
    assert "not-the-" not in str(caught.value)
    # The token is kept in memory only: the Docker CLI's config is untouched.
    assert (config.read_bytes() if config.exists() else None) == before


@pytest.mark.docker
def test_push_after_login_uses_the_login(docker_client, auth_registry):
    reference = f"{auth_registry.host}/syn123/probe:login-{os.getpid()}"
    repository, tag = reference.rsplit(":", 1)
    docker_client.api.tag("objectnet-wizard-test/probe:latest", repository, tag)
    fresh = docker_ops.connect()
    try:
        fresh.login(auth_registry.host, auth_registry.user, auth_registry.password)
        assert fresh.push(reference).startswith("sha256:")
    finally:
        fresh.close()
        docker_client.api.remove_image(reference)


@pytest.mark.docker
def test_push_to_a_login_registry_without_login_fails_in_band(docker_client, auth_registry):
    reference = f"{auth_registry.host}/syn123/probe:nologin"
    docker_client.api.tag("objectnet-wizard-test/probe:latest", reference.rsplit(":", 1)[0],
                          "nologin")
    fresh = docker_ops.connect()  # no login in this client
    try:
        with pytest.raises(PushFailedError, match="log in first"):
            fresh.push(reference)
    finally:
        fresh.close()
        docker_client.api.remove_image(reference)


PROBE = """
import json, os
mounts = {line.split()[1]: line.split()[3].split(",") for line in open("/proc/mounts")}
shm = os.statvfs("/dev/shm")
with open("/output/probe.json", "w") as out:
    json.dump({"interfaces": sorted(os.listdir("/sys/class/net")),
               "input_options": mounts.get("/input", []), "files": os.listdir("/input"),
               "shm_bytes": shm.f_blocks * shm.f_frsize}, out)
"""


@pytest.mark.docker
def test_smoke_container_has_no_network_and_a_read_only_input(ops, docker_client, base_image,
                                                             tmp_path):
    images, out, build = tmp_path / "images", tmp_path / "out", tmp_path / "build"
    for folder in (images, build):
        folder.mkdir()
    (images / "a.png").write_bytes(b"x")
    (build / "probe.py").write_text(PROBE)
    (build / "Dockerfile").write_text(
        f'FROM {base_image}\nCOPY probe.py /probe.py\nENTRYPOINT ["python3", "/probe.py"]\n')
    image = ops.build(build, "Dockerfile", "objectnet-wizard-test/probe-run:latest").tag
    try:
        run = ops.run_smoke_container(image, images, out)
    finally:
        docker_client.api.remove_image(image)
    assert run.exit_code == 0, run.logs_tail
    probe = json.loads((out / "probe.json").read_text())
    assert probe["interfaces"] == ["lo"]
    assert "ro" in probe["input_options"]
    assert probe["files"] == ["a.png"]
    assert probe["shm_bytes"] == 12 * 1024**3


@pytest.mark.docker
def test_docker_errors_never_escape_as_docker_py_exceptions(ops):
    with pytest.raises(ImageMissingError):
        ops.image_info("objectnet-wizard-test/absent:none")
    assert not ops.image_present("objectnet-wizard-test/absent:none")
    assert not issubclass(ImageMissingError, docker.errors.DockerException)


# ---- dockerd's own warnings in the build stream ----------------------------------------------
# Streams captured from a real dockerd building the same context on a host with
# /proc/sys/net/ipv4/ip_forward = 0 and = 1 (scripts: tests/wizard/streams/README.md), replayed
# so the tests mean the same on every host.

STREAMS = Path(__file__).parent / "streams"
FORWARDING_OFF = "IPv4 forwarding is disabled. Networking will not work."


def captured(name: str) -> list[dict]:
    return [json.loads(line) for line in (STREAMS / name).read_text().splitlines() if line]


@pytest.mark.parametrize("forwarding", ["on", "off"])
def test_a_failing_step_tail_holds_only_the_step_output_on_either_host(context, forwarding):
    events = []
    api = fake_with_images(build_stream=captured(f"run-fails-forwarding-{forwarding}.jsonl"))
    with pytest.raises(BuildFailedError) as caught:
        DockerOps(api).build(context, "Dockerfile", TAG, events.append)
    error = caught.value
    assert (error.step, error.total) == (3, 3)
    assert sorted(error.log_tail) == ["collecting requirements", "no such package: nothing"]
    assert "Warning" not in str(error)
    warnings = [e for e in events if isinstance(e, docker_events.DaemonWarning)]
    assert warnings == ([docker_events.DaemonWarning(FORWARDING_OFF)] if forwarding == "off"
                        else [])
    assert not [e for e in events if isinstance(e, BuildLog) and "Warning" in e.line
                and "forwarding" in e.line]


@pytest.mark.parametrize("forwarding", ["on", "off"])
def test_daemon_warnings_are_their_own_events_once_each(context, forwarding):
    stream = captured(f"ok-forwarding-{forwarding}.jsonl")
    built = next(c["aux"]["ID"] for c in stream if "aux" in c)
    api = fake_with_images(build_stream=stream)
    api.images[built] = api.images[TAG]
    events = []
    DockerOps(api).build(context, "Dockerfile", TAG, events.append)
    warnings = [e.text for e in events if isinstance(e, docker_events.DaemonWarning)]
    expected = [
        'Empty continuation line found in: RUN cat /opt/hello.txt &&     echo "[Warning] '
        'printed by the step itself"',
        "Empty continuation lines will become errors in a future release.",
    ]
    if forwarding == "off":
        expected.append(FORWARDING_OFF)  # three steps printed it; it is reported once
    expected.append("[Warning] One or more build-args [UNUSED_ARG] were not consumed")
    assert warnings == expected
    # What a step prints stays step output, even when it looks like a warning.
    assert [e.line for e in events if isinstance(e, BuildLog)] == [
        "hello", "[Warning] printed by the step itself"]
    assert [e.number for e in events if isinstance(e, BuildStep)] == [1, 2, 3, 4, 5]


def test_a_step_printing_a_parser_style_warning_keeps_it_as_output(context):
    stream = [
        {"stream": "Step 1/2 : FROM base\n"},
        {"stream": "Step 2/2 : RUN ansible-playbook site.yml\n"},
        {"stream": " ---> Running in 0123456789ab\n"},
        {"stream": "[WARNING]: provided hosts list is empty\n"},
        {"error": "The command '/bin/sh -c ansible-playbook site.yml' returned a non-zero code: 2"},
    ]
    events = []
    with pytest.raises(BuildFailedError) as caught:
        DockerOps(fake_with_images(build_stream=stream)).build(context, "Dockerfile", TAG,
                                                               events.append)
    assert caught.value.log_tail == ["[WARNING]: provided hosts list is empty"]
    assert not [e for e in events if isinstance(e, docker_events.DaemonWarning)]


def test_the_pipeline_shows_a_daemon_warning_once_as_a_warning(project):
    from wizard import events as reported
    from wizard import pipeline

    stream = captured("ok-forwarding-off.jsonl")
    built = next(c["aux"]["ID"] for c in stream if "aux" in c)
    api = fake_with_images(build_stream=stream)
    answers = pipeline_answers(project)
    for ref in (built, answers.image_reference(), answers.base_image):
        api.images[ref] = api.images[TAG]
    events = []
    pipe = pipeline.Pipeline(answers, project, on_event=events.append,
                             docker=lambda: DockerOps(api))
    pipe.build()
    warnings = [e.text for e in events if isinstance(e, reported.StageWarning)]
    assert warnings.count(f"Docker: {FORWARDING_OFF}") == 1
    logs = [e.line for e in events if isinstance(e, reported.Log)]
    assert not [line for line in logs if "forwarding" in line]
    assert "[Warning] printed by the step itself" in logs


def pipeline_answers(project: Path):
    from wizard.answers_file import load_answers

    return load_answers(project / "answers.toml")
