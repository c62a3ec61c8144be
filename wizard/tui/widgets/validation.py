"""Textual validators that only wrap the core's rules (wizard.answers, wizard.validators),
so a value accepted while typing is exactly a value the answers file accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.validation import ValidationResult, Validator

from wizard.answers import Answers
from wizard.answers_messages import validate_partial


def text_value(text: str) -> str | None:
    """An input's text as an answer: blank means unanswered (None)."""
    stripped = text.strip()
    return stripped or None


def number_value(text: str) -> int | str | None:
    """A whole number when the text is one; otherwise the text itself, so the core's check
    names the offending value ("batch_size = "9x": must be a whole number from 1 to 4096")."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped)
    except ValueError:
        return stripped


REQUIRED = "required"


def field_error(name: str, value: Any) -> str | None:
    """The core's message for one answers field with this value, or None when it is valid.
    A blank required field reads REQUIRED rather than the answers file's "add ... =" hint
    (the field shows its own hint with it)."""
    if value is None:
        return REQUIRED if Answers.model_fields[name].is_required() else None
    error = validate_partial({name: value}).errors.get(name)
    # Shown next to the field, the core's "name: " prefix only repeats the label.
    return error.removeprefix(f"{name}: ") if error else None


class FieldValidator(Validator):
    """Checks an Input's text as the answers field `name`, with the core's message."""

    def __init__(self, name: str, convert: Callable[[str], Any] = text_value) -> None:
        super().__init__()
        self.name = name
        self.convert = convert

    def validate(self, value: str) -> ValidationResult:
        error = field_error(self.name, self.convert(value))
        return self.success() if error is None else self.failure(error)
