"""Rendering the Dockerfile and .dockerignore: golden files, layer order, the engine's real
argument parser reading the ENTRYPOINT, and no answer (validated or not) adding an
instruction."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from wizard import __version__, dockerfile
from wizard.answers import Answers
from wizard.dockerfile import RenderedFiles, render, render_text, write
from wizard.engine_settings import CONTAINER_MODEL_DIR, container_checkpoint, entrypoint
from wizard.errors import RenderError

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
# OBJECTNET_UPDATE_GOLDEN=1 rewrites the golden files; review the diff before committing.
UPDATE_GOLDEN = os.environ.get("OBJECTNET_UPDATE_GOLDEN") == "1"
CHECKPOINT_BYTES = b"not really weights, but hashed like them"
SHA = hashlib.sha256(CHECKPOINT_BYTES).hexdigest()

VALID = {
    "model_class": "resnet50",
    "checkpoint": "resnet50.pth",
    "base_image": "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    "synapse_project_id": "syn12345678",
    "repository": "my-model",
}

CASES = {
    # The defaults: a state_dict next to the model code, no extra packages.
    "minimal": ({**VALID}, False),
    # Everything set: nested model folder, checkpoint in a subfolder, extra packages, a local
    # registry, every engine option.
    "full": ({
        **VALID,
        "model_dir": "models/vit",
        "model_class": "VisionTransformer",
        "checkpoint": "weights/best.pth",
        "trust_checkpoint": True,
        "base_image": "pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime",
        "batch_size": 256,
        "workers": 8,
        "gpus": 2,
        "softmax": False,
        "convert_outputs_mode": 2,
        "precision": "bf16",
        "smoke_images": "/data/objectnet-sample",
        "registry": "127.0.0.1:5000",
        "synapse_project_id": "syn42",
        "repository": "team/vit-large",
        "tag": "v3",
    }, True),
    # A CPU run on a locally made Debian base image (what the real-docker tests use).
    "cpu": ({
        **VALID,
        "base_image": "objectnet-test/debian-torch:bookworm",
        "checkpoint": "model.safetensors",
        "gpus": 0,
        "workers": 0,
        "convert_outputs_mode": 0,
        "tag": "cpu-smoke",
    }, False),
}


def make_project(root: Path, answers: Answers, requirements: bool) -> Path:
    (root / "engine").mkdir(parents=True, exist_ok=True)
    (root / "engine" / "__init__.py").write_text("")
    (root / "engine" / "__main__.py").write_text("")
    model = root / answers.model_dir
    model.mkdir(parents=True, exist_ok=True)
    (model / "model_description.py").write_text("class resnet50: pass\n")
    (model / "data_transform_description.py").write_text("")
    checkpoint = answers.checkpoint_path(root)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(CHECKPOINT_BYTES)
    if requirements:
        (model / "requirements.txt").write_text("timm==1.0.15\n")
        # What the check stage leaves behind: a resolved, hash-pinned wheelhouse.
        lock = root / ".objectnet-wizard" / "wheelhouse" / "requirements.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text("timm==1.0.15 --hash=sha256:" + "0" * 64 + "\n")
    return root


def model_files(answers: Answers, requirements: bool) -> list[str]:
    """The files make_project puts into the model folder, as the listing orders them."""
    files = ["data_transform_description.py", "model_description.py"]
    if requirements:
        files.append("requirements.txt")
    return sorted([*files, answers.checkpoint], key=lambda f: ("/" in f, f))


def instructions(text: str) -> list[tuple[str, str]]:
    """The instructions as Docker's parser sees them: lines split on \\n (a trailing \\r
    dropped), comments and blank lines skipped, a trailing backslash continuing the line."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.split("\n"):
        line = raw.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        full, pending = (pending + line).strip(), ""
        keyword, _, arguments = full.partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    if pending:
        found.append(("<UNFINISHED>", pending))
    return found


def expected_kinds(requirements: bool) -> list[str]:
    kinds = ["FROM", "WORKDIR", "ENV", "ENV"]
    if requirements:
        kinds += ["COPY", "RUN"]
    return kinds + ["COPY", "COPY", "COPY"] + ["LABEL"] * 6 + ["ENTRYPOINT"]


LABEL = re.compile(r'[a-z][a-z0-9.]*="[^"\\$`]*"')


def assert_structure(rendered: RenderedFiles, answers: Answers, requirements: bool,
                     files: list[str] | None = None) -> None:
    """Exactly the expected instructions, each with exactly the expected arguments."""
    files = model_files(answers, requirements) if files is None else files
    found = instructions(rendered.dockerfile)
    assert [kind for kind, _ in found] == expected_kinds(requirements)
    assert found[0] == ("FROM", answers.base_image)
    copies = [json.loads(arguments) for kind, arguments in found if kind == "COPY"]
    code = [f"{answers.model_dir}/{f}" for f in files if f != answers.checkpoint]
    expected_copies = [
        ["engine/", "/opt/objectnet/engine/"],
        [*code, f"{CONTAINER_MODEL_DIR}/"],
        [f"{answers.model_dir}/{answers.checkpoint}", container_checkpoint(answers)],
    ]
    if requirements:
        expected_copies.insert(0, [".objectnet-wizard/wheelhouse/",
                                   "/opt/objectnet/wheelhouse/"])
    assert copies == expected_copies
    for kind, arguments in found:
        if kind == "LABEL":
            assert LABEL.fullmatch(arguments), arguments
    assert found[-1][0] == "ENTRYPOINT"
    assert json.loads(found[-1][1]) == entrypoint(answers)
    patterns = [line for line in rendered.dockerignore.split("\n")
                if line.strip() and not line.startswith("#")]
    expected_patterns = ["*", "!engine/**", "engine/**/.*"]
    expected_patterns += [f"!{answers.model_dir}/{f}" for f in files]
    if requirements:
        expected_patterns.append("!.objectnet-wizard/wheelhouse/**")
    expected_patterns += ["**/__pycache__", "**/*.pyc"]
    assert patterns == expected_patterns


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(tmp_path, case):
    data, requirements = CASES[case]
    answers = Answers(**data)
    rendered = render(answers, make_project(tmp_path, answers, requirements))
    for suffix, text in (("Dockerfile", rendered.dockerfile),
                         ("dockerignore", rendered.dockerignore)):
        golden = GOLDEN / f"{case}.{suffix}"
        if UPDATE_GOLDEN:
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{golden} differs"
    assert_structure(rendered, answers, requirements)
    assert f'objectnet.model.checkpoint.sha256="{SHA}"' in rendered.dockerfile
    assert f"docker build -t {answers.image_reference()} ." in rendered.dockerfile


def test_layers_are_ordered_for_the_cache(tmp_path):
    answers = Answers(**CASES["full"][0])
    text = render(answers, make_project(tmp_path, answers, True)).dockerfile
    order = [text.index("\n" + marker) for marker in (
        "FROM ", "WORKDIR ", "ENV ", 'COPY [".objectnet-wizard/wheelhouse/"', "RUN ",
        'COPY ["engine/"', 'COPY ["models/vit/data_transform_description.py"',
        'COPY ["models/vit/weights/best.pth"',
        "LABEL ", "ENTRYPOINT ")]
    assert order == sorted(order)
    assert "--mount" not in text
    assert text.startswith(dockerfile.GENERATED_MARK)


def test_entrypoint_is_read_by_the_engine_and_run_options_win():
    from engine.cli import config_from_args

    answers = Answers(**CASES["full"][0])
    command = entrypoint(answers)
    assert command[:3] == ["python3", "-m", "engine"]
    config = config_from_args(command[3:])
    assert str(config.images_dir) == "/input"
    assert str(config.output_file) == "/output/predictions.csv"
    assert config.model_class == "VisionTransformer"
    assert str(config.checkpoint) == "/opt/objectnet/model/weights/best.pth"
    assert str(config.model_dir) == "/opt/objectnet/model"
    assert (config.batch_size, config.workers, config.gpus) == (256, 8, 2)
    assert (config.softmax, config.convert_outputs_mode) == (False, 2)
    assert (config.precision, config.trust_checkpoint) == ("bf16", True)
    # `docker run IMAGE --batch_size 32 --gpus 0` appends after the ENTRYPOINT: last wins.
    later = config_from_args([*command[3:], "--batch_size", "32", "--gpus", "0"])
    assert (later.batch_size, later.gpus) == (32, 0)


def test_defaults_leave_workers_and_gpus_to_the_engine():
    command = entrypoint(Answers(**VALID))
    assert "--workers" not in command and "--gpus" not in command
    assert "--trust-checkpoint" not in command


def test_dockerignore_lets_only_the_image_inputs_through(tmp_path):
    """Checked with docker-py's own matcher, the one that builds the wizard's contexts. The
    Go matcher of `docker build` follows the same rules; the real-docker tests build it."""
    from docker.utils.build import exclude_paths

    answers = Answers(**CASES["full"][0])
    root = make_project(tmp_path, answers, True)
    for name in ("engine/data/map.json", "engine/__pycache__/run.cpython-311.pyc",
                 "engine/.ruff_cache/0.6/123", "engine/.ruff.toml", "engine/data/.hidden",
                 "engine/stale.pyc", "models/vit/__pycache__/x.cpython-311.pyc",
                 "models/vit/weights/older.pth", "models/vit/other.pth", "models/vit/sub/x.py",
                 "models/vit/classes.json", "models/vit/native.so", "models/vit/.env",
                 "models/vit/id_rsa", "models/vit/answers.toml", "models/vit/.git/HEAD",
                 "models/vit/.ipynb_checkpoints/a.ipynb", "models/vit/venv/pyvenv.cfg",
                 ".git/config", ".venv/lib/site.py", "answers.toml", ".env", "secrets.txt",
                 "README.md", "sample-images/a.png", "docker-config.json"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    rendered = render(answers, root)
    write(rendered, root)
    patterns = [line.strip() for line in rendered.dockerignore.splitlines()
                if line.strip() and not line.startswith("#")]
    included = {path for path in exclude_paths(str(root), patterns) if (root / path).is_file()}
    # Docker always reads the Dockerfile and .dockerignore; COPY never sees them.
    assert included - {".dockerignore"} == {
        "Dockerfile",
        "engine/__init__.py", "engine/__main__.py", "engine/data/map.json",
        "models/vit/model_description.py", "models/vit/data_transform_description.py",
        "models/vit/requirements.txt", "models/vit/weights/best.pth",
        "models/vit/sub/x.py", "models/vit/classes.json", "models/vit/native.so",
        ".objectnet-wizard/wheelhouse/requirements.lock",
    }


@pytest.mark.parametrize(("change", "expected"), [
    (lambda root, a: (root / "engine" / "__main__.py").unlink(), "has no engine/ folder"),
    (lambda root, a: (a.checkpoint_path(root)).unlink(), "does not exist: check the checkpoint"),
    (lambda root, a: [p.unlink() for p in a.model_path(root).glob("*.py")], "has no .py files"),
])
def test_render_checks_the_project(tmp_path, change, expected):
    answers = Answers(**VALID)
    root = make_project(tmp_path, answers, False)
    change(root, answers)
    with pytest.raises(RenderError, match=re.escape(expected)):
        render(answers, root)


def test_render_refuses_a_missing_model_folder(tmp_path):
    answers = Answers(**VALID)
    make_project(tmp_path, answers, False)
    with pytest.raises(RenderError, match="model folder elsewhere does not exist"):
        render(answers.model_copy(update={"model_dir": "elsewhere"}), tmp_path)


def test_render_refuses_a_symlinked_checkpoint(tmp_path):
    answers = Answers(**VALID)
    root = make_project(tmp_path / "project", answers, False)
    outside = tmp_path / "big.pth"
    outside.write_bytes(CHECKPOINT_BYTES)
    answers.checkpoint_path(root).unlink()
    answers.checkpoint_path(root).symlink_to(outside)
    with pytest.raises(RenderError, match="is a symbolic link, and Docker copies the link"):
        render(answers, root)


def test_render_refuses_a_python_checkpoint(tmp_path):
    answers = Answers(**{**VALID, "checkpoint": "weights.py"})
    with pytest.raises(RenderError, match=r"ends in \.py"):
        render(answers, make_project(tmp_path, answers, False))


def test_render_uses_a_given_hash(tmp_path):
    answers = Answers(**VALID)
    rendered = render(answers, make_project(tmp_path, answers, False),
                      checkpoint_sha256="f" * 64, answers_name="ci.toml")
    assert f'sha256="{"f" * 64}"' in rendered.dockerfile
    assert "from ci.toml;" in rendered.dockerfile


def test_write_is_atomic_and_spares_hand_made_files(tmp_path):
    answers = Answers(**VALID)
    root = make_project(tmp_path, answers, False)
    rendered = render(answers, root)
    assert write(rendered, root) == [root / "Dockerfile", root / ".dockerignore"]
    assert (root / "Dockerfile").read_text() == rendered.dockerfile
    assert (root / ".dockerignore").read_text() == rendered.dockerignore
    write(rendered, root)  # its own files are replaced
    (root / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(RenderError, match="was not written by the wizard"):
        write(rendered, root)
    assert (root / "Dockerfile").read_text() == "FROM scratch\n"
    write(rendered, root, force=True)
    assert (root / "Dockerfile").read_text() == rendered.dockerfile
    assert sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp")) == []


# ---- filters ----

@pytest.mark.parametrize(("name", "value", "output"), [
    ("text", "resnet50", "resnet50"),
    ("quoted", "batch_size=96 gpus=all", '"batch_size=96 gpus=all"'),
    ("path", "./models/vit/", "models/vit"),
    ("image", "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
     "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"),
    ("json_array", ["python3", "-m", "engine", "ümlaut"], '["python3", "-m", "engine", "ümlaut"]'),
])
def test_filters_pass_clean_values(name, value, output):
    assert dockerfile.FILTERS[name](value) == output


@pytest.mark.parametrize(("name", "value"), [
    ("text", "a\nRUN id"), ("text", "$HOME"), ("quoted", 'a"b'), ("quoted", "a\\"),
    ("path", "/etc/passwd"), ("path", "../x"), ("path", "a*b"), ("image", "a b"),
    ("image", "x\nRUN id"), ("json_array", ["ok", "a`id`"]), ("json_array", ["a\u2028b"]),
])
def test_filters_refuse_what_the_dockerfile_would_interpret(name, value):
    with pytest.raises(RenderError, match="cannot write"):
        dockerfile.FILTERS[name](value)


def test_printing_without_a_filter_is_refused():
    environment = dockerfile._environment()
    with pytest.raises(RenderError, match="without a checking filter"):
        environment.from_string("{{ value }}").render(value="anything")
    assert environment.from_string("{{ value | text }}").render(value="ok") == "ok"
    with pytest.raises(Exception, match="undefined"):
        environment.from_string("{{ missing | text }}").render()


def test_templates_live_at_the_top_of_the_project():
    assert (REPO / "Dockerfile.j2").is_file()
    assert (REPO / "templates" / "dockerignore.j2").is_file()
    assert dockerfile.TEMPLATE_ROOT == REPO


def test_core_modules_import_neither_docker_textual_nor_torch():
    code = ("import sys, wizard.answers, wizard.base_images, wizard.checkpoint_info, "
            "wizard.dockerfile, wizard.validators, wizard.errors; "
            "print(sorted({'docker', 'textual', 'torch'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"


# ---- no answer can add an instruction ----

PAYLOADS = [
    "x\nRUN touch /pwned", "x\r\nRUN id", 'x"\nRUN id', "x\" && id && \"", "$(id)", "`id`",
    "${HOME}", "x\\\nRUN id", "x\\", "x' ; id ; '", "x\u2028RUN id", "x\x00y", "x # y",
    "a b", "\nFROM evil", "x\x0bRUN id", "x\x85RUN id", "!x", "#x", "*", "x/../../etc",
    "ok",
]
STRING_FIELDS = ["model_dir", "model_class", "checkpoint", "base_image", "registry",
                 "synapse_project_id", "repository", "tag", "precision"]
ANY_FIELDS = [*STRING_FIELDS, "batch_size", "workers", "gpus", "convert_outputs_mode"]


def render_or_refuse(answers: Answers, answers_name: str = "answers.toml") -> None:
    try:
        files = ["model_description.py", answers.checkpoint]
        rendered = render_text(answers, checkpoint_sha256=SHA, model_files=files, wheels=True,
                               answers_name=answers_name)
    except RenderError as error:
        assert "\n" not in str(error)
        return
    assert_structure(rendered, answers, True, files)
    assert "touch /pwned" not in rendered.dockerignore


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_validated_answers_cannot_inject(field, payload):
    try:
        answers = Answers(**{**VALID, field: payload})
    except ValidationError:
        return
    render_or_refuse(answers)


@pytest.mark.parametrize("field", ANY_FIELDS)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_unvalidated_answers_cannot_inject(field, payload):
    """Even answers built without validation (model_construct) are caught by the filters."""
    render_or_refuse(Answers.model_construct(**{**VALID, field: payload}))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_answers_file_name_cannot_inject(payload):
    render_or_refuse(Answers(**VALID), answers_name=payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ANY_FIELDS),
       st.lists(st.one_of(st.text(max_size=12), st.sampled_from(PAYLOADS)), min_size=1,
                max_size=3).map("".join))
def test_no_field_value_adds_an_instruction(field, value):
    try:
        answers = Answers(**{**VALID, field: value})
    except ValidationError:
        answers = None
    if answers is not None:
        render_or_refuse(answers)
    render_or_refuse(Answers.model_construct(**{**VALID, field: value}))


def test_rendered_header_names_the_version():
    rendered = render_text(Answers(**VALID), checkpoint_sha256=SHA,
                           model_files=["model_description.py", "resnet50.pth"], wheels=False)
    assert rendered.dockerfile.splitlines()[0].startswith(
        f"# Generated by objectnet-wizard {__version__} from answers.toml")
