"""The answers file: read and validated into Answers (every problem as one line, never a
traceback), and written back atomically in field order without secrets."""

from __future__ import annotations

import codecs
import tomllib
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from wizard.answers import FIELDS, TOKEN_ENV_VAR, Answers
from wizard.answers_messages import format_errors, key_problems, toml_error_line
from wizard.errors import AnswersError
from wizard.files import write_text_atomic

ANSWERS_MAX_BYTES = 1 << 20
"""An answers file is a few hundred bytes; anything over a megabyte is some other file."""


def read_answers_text(path: str | PathLike[str]) -> str:
    """The text of an answers file. Raises AnswersError (one line) for what is not one: no
    file, a folder, a FIFO or device (read as is, one waits forever, /dev/zero never ends),
    a file over a megabyte, a byte order mark, or bytes that are not UTF-8."""
    from engine.regular import NotRegularFile, open_regular  # here: the TUI opens quickly

    label = str(path)
    try:
        with open_regular(Path(path)) as handle:
            raw = handle.read(ANSWERS_MAX_BYTES + 1)
    except FileNotFoundError as error:
        raise AnswersError([
            f"{label}: no such file: write one (templates/answers.example.toml lists every "
            "setting) or let the wizard ask its questions"
        ]) from error
    except NotRegularFile as kind:
        if str(kind) == "a folder":
            raise AnswersError([f"{label}: is a folder: give the answers file inside it"]) \
                from None
        raise AnswersError([f"{label}: is {kind}, not a file: give the path of the answers "
                            "file (e.g. answers.toml)"]) from None
    except OSError as error:
        raise AnswersError([f"{label}: cannot read it: {error.strerror}"]) from error
    if len(raw) > ANSWERS_MAX_BYTES:
        raise AnswersError([f"{label}: is over a megabyte, not an answers file (a few hundred "
                            "bytes of TOML): give the path of the answers file"])
    if raw.startswith(codecs.BOM_UTF8):
        raise AnswersError([
            f"{label}: starts with a byte order mark (BOM), which TOML does not allow: save "
            "it as UTF-8 without BOM"
        ])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AnswersError([
            f"{label}: not UTF-8 text (byte {error.start}): save it as UTF-8"
        ]) from error


def load_answers(path: str | PathLike[str]) -> Answers:
    """Read and validate an answers file. Raises AnswersError with one line per problem
    (never a traceback): syntax errors as file:line:col, unknown or secret-looking keys, and
    invalid values."""
    return parse_answers(read_answers_text(path), str(path))


def parse_answers(text: str, label: str) -> Answers:
    """Validate the text of an answers file (`label` names it in each problem line), as
    load_answers does once the file is read."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AnswersError([toml_error_line(label, error, text)]) from error
    lines = key_problems(data, label)
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
