"""The answers: every choice the wizard needs, as one validated model.

The TUI fills the answers step by step (`STEPS`, in field order); the non-interactive mode
reads them from a TOML file. Both end in the same `Answers`, so both are checked the same way.

Paths. The answers file normally sits in the project root: the folder that holds `engine/`
and the model folder, and that is sent to Docker as the build context. Relative paths are
resolved against the folder of the answers file (`project_root` below):

- `model_dir` is relative to the project root and must stay inside it;
- `checkpoint` is relative to `model_dir` and must stay inside it, because the image only
  holds what the build context holds, and the checkpoint is copied next to the model code;
- `smoke_images` may be absolute or relative to the project root; it is only mounted for the
  smoke run, never copied into the image.

Values are stored as written (relative), so an answers file keeps working when the project
folder moves. Secrets never enter the answers: the registry token comes from the
`SYNAPSE_AUTH_TOKEN` environment variable or from a prompt.
"""

from __future__ import annotations

import difflib
import functools
import re
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from wizard import validators
from wizard.errors import AnswersError
from wizard.files import write_text_atomic
from wizard.validators import show

TOKEN_ENV_VAR = "SYNAPSE_AUTH_TOKEN"
"""Where the registry token comes from (or a prompt); never from the answers file."""


def _model_dir(value: str) -> str:
    path = validators.dockerfile_path(value, "the project folder")
    if path == "engine" or path.startswith("engine/"):
        raise ValueError(
            f"{show(path)} is the engine's own folder: keep the model in a folder of its own, "
            "e.g. model"
        )
    return path


def _checkpoint(value: str) -> str:
    return validators.dockerfile_path(value, "the model folder")


def _folder(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("the folder is empty: give a folder of images, or leave the setting out")
    for ch in text:
        if not ch.isprintable():
            raise ValueError(
                f"{show(text)} contains an invisible or control character "
                f"(U+{ord(ch):04X}): remove it"
            )
    return text


def _file_pattern(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("a pattern is empty: remove it")
    if text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"{show(text)} must be relative to model_dir and stay inside it")
    for ch in text:
        if not ch.isprintable():
            raise ValueError(f"{show(text)} contains an invisible or control character "
                             f"(U+{ord(ch):04X}): remove it")
    return text


FilePattern = Annotated[str, AfterValidator(_file_pattern)]
ModelDir = Annotated[str, AfterValidator(_model_dir)]
ModelClass = Annotated[str, AfterValidator(validators.model_class_name)]
CheckpointPath = Annotated[str, AfterValidator(_checkpoint)]
ImageRef = Annotated[str, AfterValidator(validators.image_ref)]
ImagesFolder = Annotated[str, AfterValidator(_folder)]
RegistryHost = Annotated[str, AfterValidator(validators.registry)]
SynapseId = Annotated[str, AfterValidator(validators.synapse_project_id)]
Repository = Annotated[str, AfterValidator(validators.repository)]
Tag = Annotated[str, AfterValidator(validators.tag)]
NonNegative = Annotated[int, Field(ge=0)]
MemorySize = Annotated[str, AfterValidator(validators.memory_size)]
UserSpec = Annotated[str, AfterValidator(validators.user_spec)]


class Answers(BaseModel):
    """Everything needed to render, build, smoke-test and push an ObjectNet image.

    Field order is the TUI's step order (see STEPS): the model comes first, so the wizard can
    read the checkpoint and suggest a base image that matches the torch that saved it.
    """

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
    )

    model_dir: ModelDir = "model"
    """Folder holding model_description.py and data_transform_description.py, relative to
    the project folder (where this answers file is). The whole folder goes into the image
    (sub-packages, data files, .so files), less other checkpoints, caches, VCS folders,
    answers files and files named like credentials. A requirements.txt in it is resolved
    on this machine into a wheelhouse for the base image's Python, installed while building
    with no network."""

    model_class: ModelClass = Field(examples=["resnet50"])
    """Name of the model class in model_description.py."""

    checkpoint: CheckpointPath = Field(examples=["resnet50.pth"])
    """Checkpoint file, relative to model_dir: a state_dict (.pth/.pt), safetensors,
    TorchScript, or a whole pickled model (then set trust_checkpoint)."""

    trust_checkpoint: bool = False
    """Allow a checkpoint that is a whole pickled model. Loading one runs code stored in
    the file, so only turn this on for a file you made or trust."""

    model_include: list[FilePattern] = []
    """Files of the model folder to put into the image although they are left out by
    default, as glob patterns relative to model_dir (or file names), e.g.
    ["extra_weights.bin"] for a second weights file the model loads itself."""

    model_exclude: list[FilePattern] = []
    """Files of the model folder to leave out of the image, as glob patterns relative to
    model_dir (or file names), e.g. ["notebooks/*", "*.ipynb"]; wins over model_include."""

    base_image: ImageRef = Field(examples=["pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime"])
    """Image to build on; it must provide python3 with torch and torchvision. The wizard
    suggests an official pytorch/pytorch runtime image matching the checkpoint's torch, but
    any image reference is accepted."""

    target_gpu: Literal["V100", "T4", "A100", "A10G", "L4", "H100", "H200", "B200", "none"] | None \
        = Field(None, examples=["H100"])
    """The GPU the challenge evaluates on (V100, T4, A100, A10G, L4, H100, H200, B200, or
    "none" for a CPU runner). check refuses, before any build, a base image whose torch
    carries no code for it, and names the oldest image that can; leave it out when unknown
    (then images that cannot drive an A100 or H100 get a warning)."""

    batch_size: int = Field(96, gt=0)
    """Images per batch and per GPU."""

    workers: NonNegative | None = Field(None, examples=[8])
    """Image-loading worker processes; leave out to use every CPU of the container,
    0 loads images in the main process."""

    gpus: NonNegative | None = Field(None, examples=[1])
    """GPUs to use; leave out to use every visible GPU (none visible means the CPU),
    0 runs on the CPU."""

    softmax: bool = True
    """Turn the model's outputs into probabilities with softmax."""

    convert_outputs_mode: Literal[0, 1, 2] = 1
    """0: the model's own class ids; 1: ImageNet-1k ids mapped to ObjectNet ids after
    top-5, as the demo did; 2: ImageNet scores collapsed onto the 113 ObjectNet classes,
    then top-5."""

    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """fp32 is exact; bf16 and fp16 autocast are faster on GPUs and may change a few
    predictions."""

    smoke_images: ImagesFolder | None = Field(None, examples=["sample-images"])
    """Folder of images for the smoke run, absolute or relative to the project folder;
    leave out to use generated ObjectNet-like images."""

    runner_memory: MemorySize = "32g"
    """Memory limit of the challenge's runner; the in-image smoke run gets the same limit
    (and no swap beyond it) and reports its peak against it. The ObjectNet runner gave
    32g; Sage's generic template gives 2g."""

    runner_shm: MemorySize = "12g"
    """Shared memory (/dev/shm) of the runner, which DataLoader workers pass batches
    through; the in-image smoke run gets the same and reports its peak. ObjectNet: 12g."""

    runner_gpus: bool = True
    """Whether the runner gives the container GPUs. When true, the in-image smoke run asks
    for this machine's GPUs if Docker has the NVIDIA runtime (and says once when not)."""

    runner_time_limit_hours: float | None = Field(None, gt=0, examples=[2.0])
    """Time limit of the runner for the whole test set, in hours. The smoke run's rate is
    extrapolated to 50,273 images and judged fits / tight / does not fit against it. Leave it
    out when unknown: the ObjectNet runner's limit was never published (Sage's is 2)."""

    runner_user: UserSpec | None = Field(None, examples=["1000:1000"])
    """User the runner starts the container as (user or uid:gid); leave it out for the
    image's own user (root in pytorch/pytorch images), as the ObjectNet runner did."""

    runner_strict: Literal["warn", "require", "skip"] = "warn"
    """The strict passes after the in-image smoke run: once with a read-only root
    filesystem (and a tmpfs /tmp), once as the non-root user 1000:1000. "warn" reports a
    failure as a warning (the ObjectNet runner did neither), "require" makes it an error,
    "skip" leaves them out (each pass takes as long as the smoke run)."""

    registry: RegistryHost = "docker.synapse.org"
    """Registry host (and port) the image is pushed to."""

    synapse_project_id: SynapseId = Field(examples=["syn12345678"])
    """Your Synapse project id, as shown on the project page."""

    repository: Repository = Field(examples=["my-model"])
    """Repository name under the project, lowercase, e.g. my-model."""

    tag: Tag = "latest"
    """Image tag. The challenge pulls submissions by digest, so the tag only labels the
    image for you; use v1, v2, ... to keep earlier pushes apart."""

    @model_validator(mode="after")
    def _reference_fits(self) -> Answers:
        name = f"{self.registry}/{self.synapse_project_id}/{self.repository}"
        if len(name) > validators.NAME_MAX:
            raise ValueError(
                f"registry, synapse_project_id and repository make {show(name)}, longer than "
                f"the {validators.NAME_MAX} characters Docker allows: use a shorter repository"
            )
        return self

    def image_reference(self) -> str:
        """The name the image is built and pushed as: registry/project/repository:tag."""
        return validators.image_reference(
            self.registry, self.synapse_project_id, self.repository, self.tag
        )

    def model_path(self, project_root: str | PathLike[str]) -> Path:
        return Path(project_root) / self.model_dir

    def checkpoint_path(self, project_root: str | PathLike[str]) -> Path:
        return Path(project_root) / self.model_dir / self.checkpoint

    def smoke_images_path(self, project_root: str | PathLike[str]) -> Path | None:
        """The smoke-run folder, or None for generated images."""
        if self.smoke_images is None:
            return None
        folder = Path(self.smoke_images).expanduser()
        return folder if folder.is_absolute() else Path(project_root) / folder


FIELDS: tuple[str, ...] = tuple(Answers.model_fields)

STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("model_dir", "model_class", "checkpoint", "trust_checkpoint", "model_include",
               "model_exclude")),
    ("base image", ("base_image", "target_gpu")),
    ("settings", ("batch_size", "workers", "gpus", "softmax", "convert_outputs_mode",
                  "precision")),
    ("smoke test", ("smoke_images", "runner_memory", "runner_shm", "runner_gpus",
                    "runner_time_limit_hours", "runner_user", "runner_strict")),
    ("registry", ("registry", "synapse_project_id", "repository", "tag")),
)
"""The TUI's steps and the fields each one asks for; together they list FIELDS in order."""

_HINTS: dict[str, str] = {
    "trust_checkpoint": "must be true or false",
    "model_include": 'must be a list of patterns in double quotes, e.g. ["extra_weights.bin"]',
    "model_exclude": 'must be a list of patterns in double quotes, e.g. ["notebooks/*"]',
    "batch_size": "must be a positive integer, e.g. 96",
    "workers": "must be a whole number, 0 or more (0 = load images in the main process); "
    "leave it out to use every CPU",
    "gpus": "must be a whole number, 0 or more (0 = run on the CPU); leave it out to use "
    "every visible GPU",
    "softmax": "must be true or false",
    "convert_outputs_mode": "must be 0, 1 or 2 (1 = ImageNet ids mapped to ObjectNet ids, as "
    "the demo did)",
    "precision": 'must be "fp32", "bf16" or "fp16"',
    "target_gpu": 'must be one of "V100", "T4", "A100", "A10G", "L4", "H100", "H200", "B200" '
    'or "none"; leave it out when unknown',
    "runner_gpus": "must be true or false",
    "runner_time_limit_hours": "must be a number of hours above 0, e.g. 2.0; leave it out "
    "when unknown",
    "runner_strict": 'must be "warn", "require" or "skip"',
    "smoke_images": 'must be a folder in double quotes, e.g. "sample-images", or left out to '
    "use generated images",
}

_SECRET_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "passphrase", "token", "tokens", "secret", "secrets",
    "apikey", "credential", "credentials", "auth", "pat",
})


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if any(word in lowered for word in ("password", "passwd", "secret", "credential")):
        return True
    if lowered.endswith(("token", "tokens")) or "apikey" in lowered.replace("_", ""):
        return True
    return any(part in _SECRET_WORDS for part in re.split(r"[^a-z0-9]+", lowered))


def _example(name: str) -> Any:
    field = Answers.model_fields[name]
    if field.examples:
        return field.examples[0]
    return field.get_default()


def _toml_value(value: Any) -> str:
    """A value as it would be written in TOML, shortened and on one line, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return show(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[...]"
    if isinstance(value, dict):
        return "{...} (a table)"
    return show(str(value))


def _hint(name: str) -> str:
    if name in _HINTS:
        return _HINTS[name]
    return f"must be text in double quotes, e.g. {show(_example(name))}"


def _missing_hint(name: str) -> str:
    doc = " ".join((Answers.model_fields[name].description or "").split())
    what = re.split(r"[:;]|\.\s+(?=[A-Z])", doc, maxsplit=1)[0].rstrip(".")
    return f"add {name} = {show(_example(name))} ({what[:1].lower()}{what[1:]})"


def _unknown_key_line(label: str, key: str) -> str:
    match = difflib.get_close_matches(key.lower().replace("-", "_"), FIELDS, n=1, cutoff=0.6)
    if match:
        return f"{label}: {show(key)} is not a setting: did you mean {match[0]}?"
    return f"{label}: {show(key)} is not a setting: the settings are {', '.join(FIELDS)}"


def _secret_key_line(label: str, key: str) -> str:
    return (
        f"{label}: {show(key)} looks like a secret, and secrets are never read from or stored "
        f"in the answers file: remove it and put the Synapse token in the {TOKEN_ENV_VAR} "
        "environment variable, or type it when the wizard asks"
    )


def _error_message(name: str | None, error: Mapping[str, Any]) -> str:
    """One pydantic error as a message without the file prefix."""
    kind = error["type"]
    if kind == "missing":
        return f"{name} is missing: {_missing_hint(name)}" if name else "a setting is missing"
    if kind == "value_error":
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        return f"{name}: {message}" if name else message
    if name is None:
        return str(error["msg"])
    return f"{name} = {_toml_value(error.get('input'))}: {_hint(name)}"


def format_errors(error: ValidationError, path: str | PathLike[str]) -> list[str]:
    """Turn a ValidationError on Answers into one line per problem, each starting with the
    file, e.g. `answers.toml: batch_size = -3: must be a positive integer, e.g. 96`."""
    label = str(path)
    lines: list[str] = []
    seen: set[str | None] = set()
    for item in error.errors(include_url=False):
        loc = item["loc"]
        name = str(loc[0]) if loc else None
        if name in seen:
            continue
        seen.add(name)
        if item["type"] == "extra_forbidden" and name is not None:
            lines.append(
                _secret_key_line(label, name) if _is_secret_key(name)
                else _unknown_key_line(label, name)
            )
            continue
        lines.append(f"{label}: {_error_message(name, item)}")
    return lines


def _key_problems(data: Mapping[str, Any], label: str) -> list[str]:
    lines = []
    for key in data:
        if key in Answers.model_fields:
            continue
        lines.append(
            _secret_key_line(label, key) if _is_secret_key(key) else _unknown_key_line(label, key)
        )
    return lines


_TOML_POSITION = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_END = re.compile(r"^(?P<msg>.*?)\s*\(at end of document\)$")
_TOML_HINTS = {
    "Invalid value": 'text needs double quotes, e.g. model_class = "resnet50"',
    "Cannot overwrite a value": "each setting may appear only once",
    "Cannot declare": "each setting may appear only once",
    "Expected '=' after a key in a key/value pair": 'write one setting per line as name = value',
    "Invalid statement": 'write one setting per line as name = value',
}


def _letter_at(text: str, line: int, col: int) -> bool:
    """Whether the error points at a letter: a bare word where a quoted string belongs."""
    lines = text.split("\n")
    if not 0 < line <= len(lines) or not 0 < col <= len(lines[line - 1]):
        return False
    return lines[line - 1][col - 1].isalpha()


def _toml_error_line(label: str, error: tomllib.TOMLDecodeError, text: str) -> str:
    message = str(error).splitlines()[0] if str(error) else "invalid TOML"
    line = getattr(error, "lineno", None)
    col = getattr(error, "colno", None)
    bare = getattr(error, "msg", None)
    if line is None:
        match = _TOML_POSITION.match(message)
        if match:
            line, col, bare = int(match["line"]), int(match["col"]), match["msg"]
        else:
            match = _TOML_END.match(message)
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
            bare = match["msg"] if match else message
    bare = bare or message
    hint = next((h for prefix, h in _TOML_HINTS.items() if bare.startswith(prefix)), None)
    if bare.startswith("Invalid value") and not _letter_at(text, line, col):
        hint = None
    suffix = f": {hint}" if hint else ""
    return f"{label}:{line}:{col}: not valid TOML ({bare}){suffix}"


def load_answers(path: str | PathLike[str]) -> Answers:
    """Read and validate an answers file. Raises AnswersError with one line per problem
    (never a traceback): syntax errors as file:line:col, unknown or secret-looking keys, and
    invalid values."""
    label = str(path)
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise AnswersError([
            f"{label}: no such file: write one (templates/answers.example.toml lists every "
            "setting) or let the wizard ask its questions"
        ]) from None
    except IsADirectoryError:
        raise AnswersError([f"{label}: is a folder: give the answers file inside it"]) from None
    except OSError as error:
        raise AnswersError([f"{label}: cannot read it: {error.strerror}"]) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AnswersError([
            f"{label}: not UTF-8 text (byte {error.start}): save it as UTF-8"
        ]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AnswersError([_toml_error_line(label, error, text)]) from None
    lines = _key_problems(data, label)
    known = {key: value for key, value in data.items() if key in Answers.model_fields}
    try:
        answers = Answers.model_validate(known)
    except ValidationError as error:
        lines.extend(format_errors(error, label))
        answers = None
    if lines or answers is None:
        raise AnswersError(lines)
    return answers


HEADER = (
    "# objectnet-wizard answers. templates/answers.example.toml describes every setting.\n"
    f"# No secrets here: the Synapse token comes from {TOKEN_ENV_VAR} or a prompt.\n"
)


def dumps_answers(answers: Answers | Mapping[str, Any]) -> str:
    """The answers as TOML, in field order, without unset (None) values. A mapping (a TUI
    draft) is written the same way; keys that are not settings are left out, so a draft can
    never carry a secret into the file."""
    data = answers.model_dump() if isinstance(answers, Answers) else dict(answers)
    ordered = {}
    for name in FIELDS:
        value = data.get(name)
        if value is None or value == []:
            continue
        ordered[name] = str(value) if isinstance(value, PathLike) else value
    return HEADER + "\n" + tomli_w.dumps(ordered)


def save_answers(answers: Answers | Mapping[str, Any], path: str | PathLike[str]) -> None:
    """Write the answers atomically (a temporary file renamed over the old one), so an
    interrupted save never leaves half a file."""
    write_text_atomic(Path(path), dumps_answers(answers))


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    field = Answers.model_fields[name]
    # Python 3.11's Annotated needs at least one annotation; plain fields have none.
    if not field.metadata:
        return TypeAdapter(field.annotation)
    return TypeAdapter(Annotated[(field.annotation, *field.metadata)])


@dataclass(frozen=True)
class PartialAnswers:
    """A draft checked field by field: `values` holds the cleaned value of every field that
    is valid (answered or defaulted), `errors` one message per field that is not (missing
    required fields included), both in field order."""

    values: dict[str, Any]
    errors: dict[str, str]

    @property
    def complete(self) -> bool:
        return not self.errors


def validate_partial(data: Mapping[str, Any]) -> PartialAnswers:
    """Check a possibly incomplete mapping of answers, as the TUI holds while it asks.

    An absent key (or None) is unanswered: a missing required field is an error, an
    optional one takes its default. Keys that are not settings get an error under their own
    name.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in Answers.model_fields.items():
        value = data.get(name)
        if value is None:
            if field.is_required():
                errors[name] = f"{name} is missing: {_missing_hint(name)}"
            else:
                values[name] = field.get_default()
            continue
        try:
            values[name] = _adapter(name).validate_python(value)
        except ValidationError as error:
            errors[name] = _error_message(name, error.errors(include_url=False)[0])
    for key in data:
        if key not in Answers.model_fields:
            line = _secret_key_line("", key) if _is_secret_key(key) else _unknown_key_line("", key)
            errors[key] = line.removeprefix(": ")
    if not errors:
        try:
            Answers.model_validate(values)
        except ValidationError as error:
            item = error.errors(include_url=False)[0]
            errors["repository"] = _error_message(None, item)
    return PartialAnswers(values=values, errors=errors)


def first_invalid_step(data: Mapping[str, Any]) -> str | None:
    """The first step (in STEPS) with a field that is missing or invalid, or None when
    the answers are complete."""
    errors = validate_partial(data).errors
    for step, names in STEPS:
        if any(name in errors for name in names):
            return step
    return STEPS[0][0] if errors else None


def reference_toml(values: Mapping[str, Any] | None = None) -> str:
    """A complete, commented answers file: every setting with its description, required ones
    with an example value, optional ones with their default (commented out where the default
    is "leave it out"); `values` replace those (what `init` found in the model folder).
    templates/answers.example.toml is this text without values."""
    values = values or {}
    out = [
        "# objectnet-wizard answers: every setting, with what it means.",
        "# Copy this file next to engine/ and your model folder as answers.toml, edit it, and run",
        "# the wizard with it. Relative paths are relative to this file's folder.",
        f"# No secrets here: the Synapse token comes from {TOKEN_ENV_VAR} or a prompt.",
    ]
    for step, names in STEPS:
        out += ["", f"# ---- {step} ----"]
        for name in names:
            field = Answers.model_fields[name]
            doc = " ".join((field.description or "").split())
            out += ["", *textwrap.wrap(doc, 94, initial_indent="# ", subsequent_indent="# ")]
            if name in values:
                out.append(tomli_w.dumps({name: values[name]}).strip())
            elif field.is_required():
                out.append(tomli_w.dumps({name: _example(name)}).strip())
            elif field.get_default() is None:
                out.append("# " + tomli_w.dumps({name: _example(name)}).strip())
            else:
                out.append(tomli_w.dumps({name: field.get_default()}).strip())
    return "\n".join(out) + "\n"
