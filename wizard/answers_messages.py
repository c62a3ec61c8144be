"""What is wrong with answers, in one line per problem that names the file or the setting and
says what to write instead: pydantic's errors, unknown or secret-looking keys, TOML syntax
errors, and a TUI draft checked field by field."""

from __future__ import annotations

import difflib
import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any

from pydantic import TypeAdapter, ValidationError

from wizard.answers import (
    BATCH_MAX,
    FIELDS,
    GPUS_MAX,
    STEPS,
    TOKEN_ENV_VAR,
    WORKERS_MAX,
    Answers,
    example,
)
from wizard.validators import show

_HINTS: dict[str, str] = {
    "trust_checkpoint": "must be true or false",
    "model_include": 'must be a list of patterns in double quotes, e.g. ["extra_weights.bin"]',
    "model_exclude": 'must be a list of patterns in double quotes, e.g. ["notebooks/*"]',
    "batch_size": f"must be a whole number from 1 to {BATCH_MAX}, e.g. 96",
    "workers": f"must be a whole number from 0 to {WORKERS_MAX} (0 = load images in the main "
    "process); leave it out to use every CPU",
    "gpus": f"must be a whole number from 0 to {GPUS_MAX} (0 = run on the CPU); leave it out "
    "to use every visible GPU",
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
    return f"must be text in double quotes, e.g. {show(example(name))}"


def _missing_hint(name: str) -> str:
    doc = " ".join((Answers.model_fields[name].description or "").split())
    what = re.split(r"[:;]|\.\s+(?=[A-Z])", doc, maxsplit=1)[0].rstrip(".")
    return f"add {name} = {show(example(name))} ({what[:1].lower()}{what[1:]})"


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
    file, e.g. `answers.toml: batch_size = -3: must be a whole number from 1 to 4096, e.g. 96`."""
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


def key_problems(data: Mapping[str, Any], label: str) -> list[str]:
    """One line per key of a file's table that is not a setting (secret-looking ones get
    their own line, which says where the token goes instead)."""
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


def toml_error_line(label: str, error: tomllib.TOMLDecodeError, text: str) -> str:
    """A TOML syntax error as `file:line:col: not valid TOML (...)`, with a hint for the
    usual mistakes (a bare word for a string, a setting given twice)."""
    message = str(error).splitlines()[0] if str(error) else "invalid TOML"
    # Python 3.14 gives the position as attributes; older ones only inside the message.
    line: int | None = getattr(error, "lineno", None)
    col: int | None = getattr(error, "colno", None)
    bare: str | None = getattr(error, "msg", None)
    if line is None or col is None:
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


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    """The validator of one field alone: its type with its constraints (Field(gt=...) and
    the AfterValidators), as pydantic rebuilds it from the model."""
    return TypeAdapter(Answers.model_fields[name].rebuild_annotation())


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
