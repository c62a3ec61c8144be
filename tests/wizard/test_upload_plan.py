"""Sizing a push by asking the registry, against the real registries on loopback (the open one
and the login one), checked against what the push stream then says it sent.

Each test pushes to a repository of its own, so the registry's earlier contents (other runs,
other tests) cannot change the answer: the first push of a new repository sends every layer,
and after a code-only change the second sends only the layers the change touched.
"""

from __future__ import annotations

import io
import os
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import make_project, tiny_answers
from token_registry import token_registry

from wizard import docker_ops
from wizard.answers import Answers
from wizard.dockerfile import render, write
from wizard.receipt import PushedLayers, UploadPlan, upload_plan
from wizard.registry_api import is_loopback, parse_challenge


@pytest.fixture()
def ops(docker_client) -> Iterator[docker_ops.DockerOps]:
    client = docker_ops.connect()
    yield client
    client.close()


def build(ops: docker_ops.DockerOps, project: Path, answers: Answers) -> str:
    write(render(answers, project), project, force=True)
    ops.build(project, "Dockerfile", answers.image_reference())
    return answers.image_reference()


def push(ops: docker_ops.DockerOps, reference: str) -> tuple[str, PushedLayers]:
    sent = PushedLayers()
    digest = ops.push(reference, sent.feed)
    return digest, sent


def one_line(plan: UploadPlan) -> str:
    line = plan.line()
    assert "\n" not in line
    return line


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("login", [False, True], ids=["open registry", "login registry"])
def test_the_plan_predicts_what_the_push_sends(request, ops, base_image, tmp_path,
                                              login) -> None:
    if login:
        found = request.getfixturevalue("auth_registry")
        host, user, password = found.host, found.user, found.password
        ops.login(host, user, password)
    else:
        host, user, password = request.getfixturevalue("registry"), None, None
    project = make_project(tmp_path / "project")
    answers = tiny_answers(base_image=base_image, registry=host,
                           repository=f"reg13-plan-{os.getpid()}-{time.time_ns()}")
    references: list[str] = []
    try:
        first = build(ops, project, answers)
        references.append(first)
        layers = list(dict.fromkeys(ops.image_info(first).layers))
        sizes = dict(ops.layer_sizes(first) or ())

        if login:
            refused = upload_plan(ops, first, user, "not-the-password")
            assert refused.missing is None
            assert "refused" in one_line(refused) and "the push goes ahead" in refused.line()
            assert "not-the-password" not in refused.line()

        # A first push of a new repository: every layer, sized.
        plan = upload_plan(ops, first, user, password)
        assert plan.new_repository and plan.missing == plan.layers == len(layers)
        assert plan.missing_bytes == sum(sizes[layer] for layer in layers) > 0
        assert "does not exist yet" in one_line(plan)
        digest, sent = push(ops, first)
        # Docker may mount the base layer from another repository of the registry that it
        # pushed before, instead of sending it: either way it was not in this repository.
        assert sent.pushed + sent.mounted == plan.missing, sent.status
        assert sent.existed == 0

        # A code-only change: only the layers it touched are new.
        code = project / "model" / "model_description.py"
        code.write_text(code.read_text() + "\n# a code-only change\n")
        second = build(ops, project, answers.model_copy(update={"tag": "v2"}))
        references.append(second)
        new_layers = list(dict.fromkeys(ops.image_info(second).layers))
        changed = [layer for layer in new_layers if layer not in layers]
        assert 1 <= len(changed) < len(new_layers)
        new_sizes = dict(ops.layer_sizes(second) or ())
        earlier = [f"{first.rsplit(':', 1)[0]}@{digest}"]
        plan = upload_plan(ops, second, user, password, earlier)
        assert not plan.new_repository
        assert plan.missing == len(changed)
        assert plan.missing_bytes == sum(new_sizes[layer] for layer in changed)
        assert (f"upload: {len(changed)} of {len(new_layers)} layers"
                in one_line(plan)), plan.line()
        _, sent = push(ops, second)
        assert sent.pushed + sent.mounted == plan.missing, sent.status
        assert sent.existed == len(new_layers) - len(changed), sent.status
        assert (f"the push sent {sent.pushed} layer" in sent.line(plan)
                and f"predicted {plan.missing} not in the repository" in sent.line(plan))

        # The same image again: nothing to send.
        plan = upload_plan(ops, second, user, password, earlier)
        assert plan.missing == 0 and "only the manifest is sent" in plan.line()
    finally:
        for reference in references:
            ops.untag(reference)


@pytest.mark.docker
def test_an_unreachable_registry_leaves_the_size_unknown(ops, base_image) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reference = f"127.0.0.1:{port}/syn123/reg13-unreachable:v1"
    ops.tag(base_image, reference)
    try:
        plan = upload_plan(ops, reference, "user", "token")
    finally:
        ops.untag(reference)
    assert plan.missing is None
    assert one_line(plan) == (f"upload size unknown: cannot reach registry 127.0.0.1:{port} "
                              "(connection refused or no route); the push goes ahead")


def one_file_layer(name: str, text: str) -> bytes:
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entry = tarfile.TarInfo(name)
        entry.size = len(data)
        tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.docker
def test_a_registry_that_wants_a_bearer_token(ops, docker_client, tmp_path) -> None:
    """Synapse's registry, like Docker Hub's, answers /v2/ with a Bearer challenge: the plan
    fetches a pull token for the repository from the realm it names, with the same user
    name and token the push logs in with."""
    with token_registry(tmp_path / "registry") as found:
        repository = f"{found.host}/syn123/reg13-bearer"
        first, second = f"{repository}:v1", f"{repository}:v2"
        docker_client.api.import_image_from_data(one_file_layer("hello.txt", "hello"),
                                                 repository=repository, tag="v1")
        try:
            refused = upload_plan(ops, first, found.user, "not-the-password")
            assert refused.missing is None
            assert (f"registry {found.host} refused the user name and token (HTTP 401 from "
                    "its token service)") in one_line(refused)

            plan = upload_plan(ops, first, found.user, found.password)
            assert plan.new_repository and plan.missing == plan.layers == 1
            assert ["repository:syn123/reg13-bearer:pull"] in found.issued

            ops.login(found.host, found.user, found.password)
            digest, sent = push(ops, first)
            assert (sent.pushed, sent.existed) == (1, 0)

            context = tmp_path / "context"
            context.mkdir()
            (context / "more.txt").write_text("more")
            (context / "Dockerfile").write_text(f"FROM {first}\nCOPY more.txt /\n")
            ops.build(context, "Dockerfile", second)
            plan = upload_plan(ops, second, found.user, found.password,
                               [f"{repository}@{digest}"])
            assert (plan.layers, plan.missing) == (2, 1)
            assert plan.missing_bytes is not None and 0 < plan.missing_bytes < 10_000
            _, sent = push(ops, second)
            assert (sent.pushed, sent.existed) == (1, 1)
        finally:
            ops.untag(second)
            ops.untag(first)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1:5000", True), ("localhost:5000", True), ("localhost", True),
    ("[::1]:5000", True), ("127.8.9.10", True), ("docker.synapse.org", False),
    ("10.0.0.1:5000", False), ("localhost.example.org", False), ("[2001:db8::1]:443", False),
])
def test_only_loopback_registries_may_be_plain_http(host, loopback) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("header, expected", [
    ('Basic realm="objectnet-wizard-test"', ("basic", {"realm": "objectnet-wizard-test"})),
    ('Bearer realm="https://docker.synapse.org/auth",service="docker.synapse.org",'
     'scope="repository:syn1/m:pull,push"',
     ("bearer", {"realm": "https://docker.synapse.org/auth", "service": "docker.synapse.org",
                 "scope": "repository:syn1/m:pull,push"})),
    ('bearer realm=https://auth.example/token, service=reg',
     ("bearer", {"realm": "https://auth.example/token", "service": "reg"})),
    ('Bearer realm="a\\"b"', ("bearer", {"realm": 'a"b'})),
    ("", ("", {})),
    ("Bearer", ("bearer", {})),
])
def test_auth_challenges_are_read_as_registries_write_them(header, expected) -> None:
    assert parse_challenge(header) == expected
