"""The pure validators: cleaned values for good input, one-line messages naming the value and
the fix for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import REPO

from wizard import validators

ONE_LINE = re.compile(r"[^\n\r\x00]+")


def message_of(function, value) -> str:
    with pytest.raises(ValueError) as caught:
        function(value)
    message = str(caught.value)
    assert ONE_LINE.fullmatch(message), message
    assert message.isprintable(), message
    return message


@pytest.mark.parametrize(("value", "cleaned"), [
    ("syn12345678", "syn12345678"),
    ("  syn1 ", "syn1"),
    ("SYN42", "syn42"),
])
def test_synapse_project_id_accepts(value, cleaned):
    assert validators.synapse_project_id(value) == cleaned


@pytest.mark.parametrize(("value", "expected"), [
    ("12345678", "write syn12345678"),
    ("syn", 'use "syn" followed by digits'),
    ("syn12a", 'use "syn" followed by digits'),
    ("project", 'use "syn" followed by digits'),
    ("", 'use "syn" followed by digits'),
    ("syn１２", 'use "syn" followed by digits'),
])
def test_synapse_project_id_refuses(value, expected):
    message = message_of(validators.synapse_project_id, value)
    assert expected in message
    assert validators.show(value.strip()) in message


@pytest.mark.parametrize("value", [
    "my-model", "model", "a", "my_model", "my__model", "my.model", "a--b", "team/my-model",
    "0", "r2d2", "x" * 255,
])
def test_repository_accepts(value):
    assert validators.repository(value) == value


@pytest.mark.parametrize(("value", "expected"), [
    ("My-Model", "use my-model"),
    ("my model", "e.g. my-model"),
    ("-model", "e.g. model"),
    ("model-", "e.g. model"),
    ("my...model", "e.g. my-model"),
    ("my_-model", "e.g. my-model"),
    ("", "pick a name such as my-model"),
    ("my-model:v1", "put the tag in the tag setting"),
    ("syn123/my-model", "give only the repository, e.g. my-model"),
    ("a/", "e.g. a"),
    ("x" * 256, "longer than 255"),
])
def test_repository_refuses(value, expected):
    assert expected in message_of(validators.repository, value)


@pytest.mark.parametrize("value", ["latest", "v1", "V1.2-rc_3", "_x", "1", "a" * 128])
def test_tag_accepts(value):
    assert validators.tag(value) == value


@pytest.mark.parametrize("value", ["", "-v1", ".v1", "v 1", "v1:2", "a" * 129, "vé", "v/1"])
def test_tag_refuses(value):
    assert "e.g. v1" in message_of(validators.tag, value)


@pytest.mark.parametrize(("value", "cleaned"), [
    ("docker.synapse.org", "docker.synapse.org"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("localhost", "localhost"),
    ("localhost:5000", "localhost:5000"),
    ("registry.example.com/", "registry.example.com"),
    ("My-Registry.example.com", "My-Registry.example.com"),
])
def test_registry_accepts(value, cleaned):
    assert validators.registry(value) == cleaned


@pytest.mark.parametrize(("value", "expected"), [
    ("https://docker.synapse.org", "write only the host, e.g. docker.synapse.org"),
    ("docker.synapse.org/syn123", "the project id and repository have their own settings"),
    ("myregistry", "Docker Hub user name"),
    ("host:0", "use a port from 1 to 65535"),
    ("host:70000", "use a port from 1 to 65535"),
    ("-bad.example.com", "e.g. docker.synapse.org"),
    ("", "e.g. docker.synapse.org"),
    ("exa mple.com", "e.g. docker.synapse.org"),
])
def test_registry_refuses(value, expected):
    assert expected in message_of(validators.registry, value)


@pytest.mark.parametrize("value", ["resnet50", "ResNeXt101_32x48d_wsl", "_private", "A"])
def test_model_class_name_accepts(value):
    assert validators.model_class_name(value) == value


@pytest.mark.parametrize("value", ["", "1net", "my-net", "my net", "class", "None", "nét",
                                   "a.b", 'x"'])
def test_model_class_name_refuses(value):
    assert "is not a Python class name" in message_of(validators.model_class_name, value)


DIGEST = "sha256:4b20c9016e5aaa05d96a82d03bdea6ce5cc0f84b3a53a3e97281f14b0e3f00b9"


@pytest.mark.parametrize(("reference", "expected"), [
    ("127.0.0.1:5000/syn123/tiny:v1", ("127.0.0.1:5000/syn123/tiny", "v1", None)),
    ("docker.synapse.org/syn1/m", ("docker.synapse.org/syn1/m", None, None)),
    (f"localhost:5000/a/b@{DIGEST}", ("localhost:5000/a/b", None, DIGEST)),
    ("pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
     ("pytorch/pytorch", "2.3.1-cuda12.1-cudnn8-runtime", None)),
])
def test_split_reference(reference, expected):
    assert validators.split_reference(reference) == expected


@pytest.mark.parametrize(("value", "cleaned"), [
    ("model", "model"),
    ("model/", "model"),
    ("./model", "model"),
    ("models/resnet/../vit", "models/vit"),
    ("weights/best.pth", "weights/best.pth"),
    ("my model", "my model"),
])
def test_relative_path_accepts(value, cleaned):
    assert validators.relative_path(value) == cleaned


@pytest.mark.parametrize(("value", "expected"), [
    ("", "the path is empty"),
    ("/abs/model", "is an absolute path"),
    ("~/model", "is an absolute path"),
    ("C:/model", "is an absolute path"),
    ("..", "leads out of"),
    ("../model", "leads out of"),
    ("a/../../b", "leads out of"),
    (".", "itself"),
    ("a/..", "itself"),
    ("model\\ckpt.pth", "write it with forward slashes, e.g. model/ckpt.pth"),
])
def test_relative_path_refuses(value, expected):
    assert expected in message_of(validators.relative_path, value)


@pytest.mark.parametrize(("value", "what"), [
    ('a"b', "a double quote"),
    ("a'b", "a single quote"),
    ("a\\b", "a backslash"),
    ("a$b", "a dollar sign"),
    ("$(id)", "a dollar sign"),
    ("a`id`", "a backtick"),
    ("a\nRUN id", "U+000A"),
    ("a\rb", "U+000D"),
    ("a\x00b", "U+0000"),
    ("a\tb", "U+0009"),
    ("a\u2028b", "U+2028"),
    ("a\u200bb", "U+200B"),
    ("a\x1bb", "U+001B"),
])
def test_dockerfile_safe_refuses(value, what):
    message = message_of(validators.dockerfile_safe, value)
    assert what in message


@pytest.mark.parametrize("value", ["model", "resnet50.pth", "my model", "ümlaut", "a-b_c.d"])
def test_dockerfile_safe_accepts(value):
    assert validators.dockerfile_safe(value) == value


@pytest.mark.parametrize(("value", "expected"), [
    ("ckpt[1].pth", "wildcard"),
    ("ckpt*.pth", "wildcard"),
    ("ck?.pth", "wildcard"),
    ("ck$pt.pth", "dollar sign"),
    ("../ckpt.pth", "leads out of the model folder"),
])
def test_dockerfile_path_refuses(value, expected):
    message = message_of(lambda v: validators.dockerfile_path(v, "the model folder"), value)
    assert expected in message


@pytest.mark.parametrize("value", [
    "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    "docker.io/pytorch/pytorch:1.4-cuda10.1-cudnn7-runtime",
    "debian-torch:bookworm",
    "ubuntu",
    "localhost:5000/syn1/x:v1",
    "registry.example.com:5000/a/b/c",
    "pytorch/pytorch@sha256:" + "a" * 64,
    "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime@sha256:" + "0" * 64,
])
def test_image_ref_accepts(value):
    assert validators.image_ref(value) == value


@pytest.mark.parametrize(("value", "expected"), [
    ("PyTorch/pytorch:2.3", "use pytorch/pytorch:2.3"),
    ("pytorch/pytorch:2.3 AS x", "is not a Docker image reference"),
    ("pytorch/pytorch:2.3\nRUN id", "is not a Docker image reference"),
    ("", "is not a Docker image reference"),
    ("pytorch//pytorch", "is not a Docker image reference"),
    ("pytorch/pytorch:-x", "is not a Docker image reference"),
    ("pytorch/pytorch@sha256:abc", "is not a Docker image reference"),
])
def test_image_ref_refuses(value, expected):
    assert expected in message_of(validators.image_ref, value)


def test_image_reference_joins_validated_parts():
    reference = validators.image_reference("docker.synapse.org", "SYN123", "my-model", "v1")
    assert reference == "docker.synapse.org/syn123/my-model:v1"
    assert validators.image_ref(reference) == reference


@pytest.mark.parametrize(("parts", "expected"), [
    (("docker.synapse.org", "syn1", "My", "v1"), "use my"),
    (("docker.synapse.org", "1", "m", "v1"), "write syn1"),
    (("http://x.org", "syn1", "m", "v1"), "has a scheme"),
    (("docker.synapse.org", "syn1", "m", "-v"), "not a valid tag"),
    (("docker.synapse.org", "syn1", "m" * 240, "v1"), "longer than the 255 characters"),
])
def test_image_reference_refuses(parts, expected):
    assert expected in message_of(lambda p: validators.image_reference(*p), parts)


@pytest.mark.parametrize(("function", "value"), [
    (validators.relative_path, "a\\\nRUN id"),
    (validators.registry, "https://x\nRUN id"),
    (validators.repository, "syn1/x\ny"),
    (validators.repository, "a:\n"),
    (validators.image_ref, "A\nb"),
    (validators.synapse_project_id, "\u2028"),
])
def test_suggestions_never_break_the_line(function, value):
    message_of(function, value)


def test_show_keeps_messages_on_one_line():
    assert validators.show("a\nb") == '"a\\x0ab"'
    assert validators.show('say "hi"') == '"say \\"hi\\""'
    assert len(validators.show("x" * 500)) <= 60
    assert validators.show(3) == "3"


SPECIAL = set("\"'\\$`")


@given(st.text())
def test_dockerfile_safe_passes_only_inert_text(value):
    try:
        cleaned = validators.dockerfile_safe(value)
    except ValueError as error:
        assert ONE_LINE.fullmatch(str(error)) and str(error).isprintable()
        return
    assert cleaned == value
    assert not SPECIAL & set(cleaned)
    assert cleaned.isprintable()


@given(st.text(alphabet=st.sampled_from(list("ab./\\~ :*-")), max_size=20))
def test_relative_path_never_leaves_its_folder(value):
    try:
        cleaned = validators.relative_path(value)
    except ValueError as error:
        assert ONE_LINE.fullmatch(str(error))
        return
    assert not cleaned.startswith(("/", "~", "../")) and cleaned not in ("", ".", "..")
    assert "\\" not in cleaned
    assert "/../" not in f"/{cleaned}/"


@given(st.text(max_size=40), st.text(max_size=40))
def test_every_validator_answers_with_a_value_or_one_line(first, second):
    for function in (validators.synapse_project_id, validators.repository, validators.tag,
                     validators.registry, validators.model_class_name, validators.image_ref,
                     validators.dockerfile_path):
        for value in (first, second, f"{first}/{second}", f"{first}:{second}"):
            try:
                function(value)
            except ValueError as error:
                assert ONE_LINE.fullmatch(str(error)), str(error)
                assert str(error).isprintable()



ADVERSARIAL_REFS = [
    "a" * 35 + ":", "objectnetwizardtest/torch:", "a" * 300 + ":", "a" * 300 + "!",
    "a-" * 150 + "!", "a." * 150 + ":", "a__" * 100 + "!", "a/" * 150 + ":", "a" * 300 + "@",
    "a" * 200 + ":" + "b" * 200, "A" * 300 + "/x", "a-" * 150 + ".com:5000/x:",
    "a" * 5000 + ":",
]
"""Inputs made for a backtracking pattern: long runs that almost match, then fail at the
end; none is a valid reference."""

_TIME_CHECKS = """
import json, sys, time
from wizard.validators import image_ref
worst, accepted = 0.0, []
for ref in json.loads(sys.stdin.read()):
    started = time.process_time()
    try:
        image_ref(ref)
        accepted.append(ref)
    except ValueError:
        pass
    worst = max(worst, time.process_time() - started)
print(json.dumps({"worst": worst, "accepted": accepted}))
"""


def test_image_references_are_checked_in_bounded_time() -> None:
    # A regression guard, not a benchmark: the grammar's own form answers in microseconds,
    # the backtracking one took over a minute at 35 characters. CPU time, so other work on a
    # shared machine does not count; in a child process, so a regression fails instead of
    # hanging the suite.
    try:
        result = subprocess.run([sys.executable, "-c", _TIME_CHECKS],
                                input=json.dumps(ADVERSARIAL_REFS), cwd=REPO,
                                capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("image_ref did not answer within 20 s on adversarial input")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["accepted"] == []
    assert outcome["worst"] < 0.5, f"slowest check took {outcome['worst']:.3f} s of CPU"
