"""The answers model and file: defaults, one line per problem (never a traceback), secrets
refused, atomic saves, partial answers for the TUI."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.answers import FIELDS, STEPS, TOKEN_ENV_VAR, Answers
from wizard.answers_file import dumps_answers, load_answers, save_answers
from wizard.answers_messages import first_invalid_step, validate_partial
from wizard.answers_reference import reference_toml
from wizard.base_images import find
from wizard.errors import AnswersError, WizardError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "templates" / "answers.example.toml"

VALID = {
    "model_class": "resnet50",
    "checkpoint": "resnet50.pth",
    "base_image": "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime",
    "synapse_project_id": "syn12345678",
    "repository": "my-model",
}


def write_toml(folder: Path, data: dict, name: str = "answers.toml") -> Path:
    path = folder / name
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(AnswersError) as caught:
        load_answers(path)
    assert isinstance(caught.value, WizardError)
    lines = caught.value.lines
    assert str(caught.value) == "\n".join(lines)
    for line in lines:
        assert line.startswith(f"{path}:"), line
        assert "\n" not in line and line.isprintable(), line
        assert "Traceback" not in line
    return lines


def test_defaults_fill_everything_optional():
    answers = Answers(**VALID)
    assert answers.model_dir == "model"
    assert answers.batch_size == 96
    assert answers.workers is None and answers.gpus is None
    assert answers.softmax is True
    assert answers.convert_outputs_mode == 1
    assert answers.precision == "fp32"
    assert answers.smoke_images is None
    assert answers.registry == "docker.synapse.org"
    assert answers.tag == "latest"
    assert answers.trust_checkpoint is False
    assert answers.image_reference() == "docker.synapse.org/syn12345678/my-model:latest"


def test_values_are_cleaned():
    answers = Answers(**{**VALID, "synapse_project_id": " SYN42 ", "model_dir": "./model/",
                         "checkpoint": "weights/../best.pth", "tag": " v1 "})
    assert answers.synapse_project_id == "syn42"
    assert answers.model_dir == "model"
    assert answers.checkpoint == "best.pth"
    assert answers.tag == "v1"


def test_every_field_documents_itself():
    for name, field in Answers.model_fields.items():
        assert field.description and len(field.description) > 20, name


def test_steps_list_the_fields_in_order():
    assert tuple(name for _, names in STEPS for name in names) == FIELDS


def test_example_file_is_the_reference_and_loads():
    assert EXAMPLE.read_text(encoding="utf-8") == reference_toml(), (
        "regenerate it: python -c 'from wizard.answers_reference import reference_toml; "
        "print(reference_toml(), end=\"\")' > templates/answers.example.toml")
    answers = load_answers(EXAMPLE)
    assert find(answers.base_image) is not None
    for name in FIELDS:
        assert name in reference_toml()


def test_paths_resolve_against_the_project_folder(tmp_path):
    answers = Answers(**{**VALID, "model_dir": "models/net", "checkpoint": "w/best.pth",
                         "smoke_images": "samples"})
    assert answers.model_path(tmp_path) == tmp_path / "models/net"
    assert answers.checkpoint_path(tmp_path) == tmp_path / "models/net/w/best.pth"
    assert answers.smoke_images_path(tmp_path) == tmp_path / "samples"
    absolute = answers.model_copy(update={"smoke_images": "/data/objectnet"})
    assert absolute.smoke_images_path(tmp_path) == Path("/data/objectnet")
    home = Answers(**{**VALID, "smoke_images": "~/images"})
    assert home.smoke_images_path(tmp_path) == Path.home() / "images"
    assert Answers(**VALID).smoke_images_path(tmp_path) is None


def test_assignment_is_validated():
    answers = Answers(**VALID)
    with pytest.raises(ValueError):
        answers.batch_size = 0


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("batch_size", -3, "batch_size = -3: must be a whole number from 1 to 4096, e.g. 96"),
    ("batch_size", 0, "batch_size = 0: must be a whole number from 1 to 4096, e.g. 96"),
    ("batch_size", "many", 'batch_size = "many": must be a whole number from 1 to 4096'),
    ("batch_size", 1.5, "batch_size = 1.5: must be a whole number from 1 to 4096"),
    ("workers", -1, "workers = -1: must be a whole number from 0 to 1024"),
    ("gpus", "all", 'gpus = "all": must be a whole number from 0 to 64 (0 = run on the CPU)'),
    ("softmax", "maybe", 'softmax = "maybe": must be true or false'),
    ("convert_outputs_mode", 3, "convert_outputs_mode = 3: must be 0, 1 or 2"),
    ("precision", "fp8", 'precision = "fp8": must be "fp32", "bf16" or "fp16"'),
    ("precision", 16, 'precision = 16: must be "fp32", "bf16" or "fp16"'),
    ("model_class", "my-net", 'model_class: "my-net" is not a Python class name'),
    ("model_class", 5, 'model_class = 5: must be text in double quotes, e.g. "resnet50"'),
    ("model_dir", "../model", 'model_dir: "../model" leads out of the project folder'),
    ("model_dir", "/home/me/model", "is an absolute path"),
    ("model_dir", "engine", "is the engine's own folder"),
    ("checkpoint", "../ckpt.pth", '"../ckpt.pth" leads out of the model folder'),
    ("checkpoint", "ck$(id).pth", "contains a dollar sign"),
    ("checkpoint", "ck[1].pth", "wildcard"),
    ("base_image", "pytorch/pytorch:2.3 AS x", "is not a Docker image reference"),
    ("base_image", ["a"], "base_image = [...]: must be text in double quotes"),
    ("smoke_images", "", "the folder is empty"),
    ("smoke_images", {"a": 1}, "smoke_images = {...} (a table): must be a folder"),
    ("registry", "https://docker.synapse.org", "has a scheme"),
    ("synapse_project_id", "12345", "write syn12345"),
    ("synapse_project_id", 12345, 'synapse_project_id = 12345: must be text in double quotes'),
    ("repository", "My-Model", "use my-model"),
    ("tag", "-v1", "is not a valid tag"),
    ("trust_checkpoint", "perhaps", 'trust_checkpoint = "perhaps": must be true or false'),
])
def test_one_bad_value_gives_one_line(tmp_path, key, value, expected):
    path = write_toml(tmp_path, {**VALID, key: value})
    lines = problems(path)
    assert len(lines) == 1
    assert expected in lines[0]
    assert lines[0].startswith(f"{path}: {key}")


def test_message_shape_matches_the_documented_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_toml(tmp_path, {**VALID, "batch_size": -3})
    with pytest.raises(AnswersError) as caught:
        load_answers("answers.toml")
    assert caught.value.lines == ["answers.toml: batch_size = -3: must be a whole number "
                                  "from 1 to 4096, e.g. 96"]


@pytest.mark.parametrize("missing", ["model_class", "checkpoint", "base_image",
                                     "synapse_project_id", "repository"])
def test_missing_required_field(tmp_path, missing):
    data = {key: value for key, value in VALID.items() if key != missing}
    lines = problems(write_toml(tmp_path, data))
    assert len(lines) == 1
    assert f"{missing} is missing: add {missing} = " in lines[0]


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_toml(tmp_path, {"batch_size": 0, "gpus": -1, "batchsize": 3,
                                 "password": "hunter2"})
    lines = problems(path)
    # 2 bad values, 1 unknown key, 1 secret, 5 missing required fields
    assert len(lines) == 9
    assert "hunter2" not in "\n".join(lines)


@pytest.mark.parametrize(("key", "suggestion"), [
    ("batchsize", "batch_size"),
    ("batch-size", "batch_size"),
    ("model-dir", "model_dir"),
    ("gpu", "gpus"),
    ("Softmax", "softmax"),
    ("base-image", "base_image"),
    ("synapse_project", "synapse_project_id"),
])
def test_unknown_key_suggests_the_nearest_setting(tmp_path, key, suggestion):
    lines = problems(write_toml(tmp_path, {**VALID, key: 1}))
    assert len(lines) == 1
    assert f'"{key}" is not a setting: did you mean {suggestion}?' in lines[0]


@pytest.mark.parametrize("key", ["tokenizer", "path", "author", "passes"])
def test_words_that_merely_contain_a_secret_word_are_just_unknown(tmp_path, key):
    (line,) = problems(write_toml(tmp_path, {**VALID, key: 1}))
    assert "is not a setting" in line


def test_unknown_key_without_a_near_setting_lists_them(tmp_path):
    lines = problems(write_toml(tmp_path, {**VALID, "xyzzy": 1}))
    assert lines[0].endswith("the settings are " + ", ".join(FIELDS))


@pytest.mark.parametrize("key", ["password", "synapse_token", "auth_token", "api_key", "apikey",
                                 "secret", "Token", "docker_password", TOKEN_ENV_VAR, "pat",
                                 "credentials", "passwd", "accesstoken", "client-secret", "pwd"])
def test_secret_keys_are_refused_without_echoing_them(tmp_path, key):
    lines = problems(write_toml(tmp_path, {**VALID, key: "s3cr3t-VALUE"}))
    assert len(lines) == 1
    assert "s3cr3t-VALUE" not in lines[0]
    assert "looks like a secret" in lines[0]
    assert TOKEN_ENV_VAR in lines[0] and "when the wizard asks" in lines[0]


@pytest.mark.parametrize(("text", "position", "expected"), [
    ('model_class = resnet50\n', "1:15", "text needs double quotes"),
    ("batch_size = 96\nbatch_size = 32\n", "2:", "each setting may appear only once"),
    ('tag = "v1\n', "1:", "not valid TOML"),
    ("[model\n", "1:", "not valid TOML"),
    ("batch_size 96\n", "1:12", "write one setting per line as name = value"),
    ('repository = "my-model"\nmodel_class = "a" "b"\n', "2:", "not valid TOML"),
    ("a = [1,\n", "1:8", "not valid TOML"),
])
def test_toml_syntax_errors_point_at_line_and_column(tmp_path, monkeypatch, text, position,
                                                     expected):
    monkeypatch.chdir(tmp_path)
    Path("answers.toml").write_text(text, encoding="utf-8")
    with pytest.raises(AnswersError) as caught:
        load_answers("answers.toml")
    (line,) = caught.value.lines
    assert line.startswith(f"answers.toml:{position}"), line
    assert expected in line
    if "double quotes" not in expected:
        assert "double quotes" not in line


def test_unreadable_files_give_one_line(tmp_path):
    with pytest.raises(AnswersError, match=r"no such file: write one"):
        load_answers(tmp_path / "absent.toml")
    with pytest.raises(AnswersError, match=r"is a folder"):
        load_answers(tmp_path)
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'model_class = "caf\xe9"\n')
    with pytest.raises(AnswersError, match=r"not UTF-8 text \(byte 18\): save it as UTF-8"):
        load_answers(path)


def test_save_then_load_round_trips(tmp_path):
    answers = Answers(**{**VALID, "workers": 4, "gpus": 0, "softmax": False,
                         "precision": "bf16", "smoke_images": "samples", "tag": "v2"})
    path = tmp_path / "answers.toml"
    save_answers(answers, path)
    assert load_answers(path) == answers
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# objectnet-wizard answers")
    keys = [line.split(" = ")[0] for line in text.splitlines() if " = " in line
            and not line.startswith("#")]
    assert keys == [name for name in FIELDS if getattr(answers, name) not in (None, [])]


def test_save_leaves_out_unset_values_and_non_settings(tmp_path):
    path = tmp_path / "draft.toml"
    save_answers({"model_class": "resnet50", "workers": None, "token": "s3cr3t",
                  "model_dir": Path("model")}, path)
    text = path.read_text(encoding="utf-8")
    assert "s3cr3t" not in text and "token =" not in text
    assert "workers" not in text
    assert 'model_dir = "model"' in text
    assert text.index("model_dir") < text.index("model_class")


def test_save_is_atomic_and_keeps_permissions(tmp_path):
    path = tmp_path / "answers.toml"
    save_answers(Answers(**VALID), path)
    path.chmod(0o600)
    save_answers(Answers(**{**VALID, "tag": "v3"}), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_answers(path).tag == "v3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.toml"]


def test_save_into_a_missing_folder_fails_without_leaving_anything(tmp_path):
    with pytest.raises(OSError):
        save_answers(Answers(**VALID), tmp_path / "absent" / "answers.toml")
    assert list(tmp_path.iterdir()) == []


def test_partial_answers_lead_the_tui_step_by_step():
    draft: dict = {}
    assert first_invalid_step(draft) == "model"
    draft.update(model_class="resnet50", checkpoint="resnet50.pth")
    assert first_invalid_step(draft) == "base image"
    draft["base_image"] = VALID["base_image"]
    assert first_invalid_step(draft) == "registry"
    draft.update(synapse_project_id="syn1", repository="m")
    assert first_invalid_step(draft) is None
    result = validate_partial(draft)
    assert result.complete
    assert Answers(**result.values) == Answers(**draft)
    draft["batch_size"] = 0
    assert first_invalid_step(draft) == "settings"


def test_partial_answers_clean_valid_fields_and_explain_the_rest():
    result = validate_partial({"synapse_project_id": "SYN7", "tag": "-x", "model_class": None,
                               "batchsize": 4})
    assert result.values["synapse_project_id"] == "syn7"
    assert result.values["batch_size"] == 96
    assert "tag" not in result.values
    assert result.errors["tag"].startswith('tag: "-x" is not a valid tag')
    assert result.errors["model_class"].startswith("model_class is missing")
    assert result.errors["batchsize"] == '"batchsize" is not a setting: did you mean batch_size?'
    assert list(result.errors)[:3] == ["model_class", "checkpoint", "base_image"]


def test_partial_answers_check_the_whole_name_last():
    draft = {**VALID, "repository": "r" * 240}
    result = validate_partial(draft)
    assert list(result.errors) == ["repository"]
    assert "longer than the 255 characters" in result.errors["repository"]


def test_dumps_answers_matches_save(tmp_path):
    answers = Answers(**VALID)
    save_answers(answers, tmp_path / "a.toml")
    assert (tmp_path / "a.toml").read_text(encoding="utf-8") == dumps_answers(answers)


# ---- many bad answers files: exactly one line per problem, never a traceback ----

BAD_VALUES = {
    "model_dir": ["../x", "/abs", "", "engine", 'a"b', 5, "a\nb"],
    "model_class": ["1x", "my-net", 3, "", "class"],
    "checkpoint": ["../c.pth", "/c.pth", "c*.pth", True, "c`id`.pth"],
    "trust_checkpoint": ["maybe", 3, [1]],
    "base_image": ["Py Torch", "", "a//b", 7, "x:y:z"],
    "batch_size": [0, -3, "abc", 1.5, [96]],
    "workers": [-1, "x", 2.5],
    "gpus": [-1, "x", 0.5, {"n": 1}],
    "softmax": ["maybe", 2, [True]],
    "convert_outputs_mode": [3, -1, "one"],
    "precision": ["fp8", "FP32", 32],
    "smoke_images": ["", "a\x00b", 5, " "],
    "registry": ["http://x.org", "myregistry", 5, "a b"],
    "synapse_project_id": ["123", "syn", 5, "syn-1"],
    "repository": ["My", "", 5, "a:b"],
    "tag": ["-x", "", 5, "a b"],
}
REQUIRED = [name for name, field in Answers.model_fields.items() if field.is_required()]
unknown_keys = st.from_regex(r"[a-z][a-z0-9_-]{0,14}", fullmatch=True).filter(
    lambda key: key not in FIELDS)


@st.composite
def broken_answers(draw):
    data = dict(VALID)
    broken = draw(st.sets(st.sampled_from(sorted(BAD_VALUES)), max_size=6))
    removed = draw(st.sets(st.sampled_from(REQUIRED), max_size=3)) - broken
    for name in broken:
        data[name] = draw(st.sampled_from(BAD_VALUES[name]))
    for name in removed:
        del data[name]
    extra = draw(st.sets(unknown_keys, max_size=3))
    for key in extra:
        data[key] = draw(st.one_of(st.integers(), st.text(max_size=5)))
    return data, broken | removed | extra


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_answers())
def test_one_line_per_problem(case):
    data, expected = case
    with tempfile.TemporaryDirectory() as folder:
        path = write_toml(Path(folder), data)
        if not expected:
            assert isinstance(load_answers(path), Answers)
            return
        lines = problems(path)
    assert len(lines) == len(expected), lines
    for key in expected:
        assert sum(f" {key}" in line or f'"{key}"' in line for line in lines) >= 1, (key, lines)


toml_scalars = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1),
                         st.floats(allow_nan=False), st.text(max_size=30))
toml_values = st.recursive(
    toml_scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=12))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, toml_values, max_size=10))
def test_any_toml_table_gives_answers_or_one_line_problems(data):
    with tempfile.TemporaryDirectory() as folder:
        path = write_toml(Path(folder), data)
        try:
            load_answers(path)
        except AnswersError as error:
            assert error.lines
            for line in error.lines:
                assert line.startswith(f"{path}:") and "\n" not in line and line.isprintable()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_answers_or_one_line_problems(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.toml"
        path.write_bytes(raw)
        try:
            load_answers(path)
        except AnswersError as error:
            assert len(error.lines) >= 1
            for line in error.lines:
                assert line.startswith(f"{path}") and "\n" not in line and line.isprintable()


def test_partial_answers_accept_fields_without_constraints() -> None:
    """Plain fields (bool, Literal, optional int) validate one by one like constrained ones:
    the TUI fills a draft field by field."""
    from wizard.answers_messages import validate_partial

    partial = validate_partial({"softmax": True, "workers": 0, "precision": "fp32",
                                "trust_checkpoint": False, "convert_outputs_mode": 2,
                                "gpus": None})
    for name in ("softmax", "workers", "precision", "trust_checkpoint",
                 "convert_outputs_mode", "gpus"):
        assert name not in partial.errors, partial.errors
    assert "precision" in validate_partial({"precision": "fp64"}).errors
