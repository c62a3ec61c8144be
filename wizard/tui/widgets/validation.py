"""Textual validators that only wrap the core's rules (wizard.session.field_error),
so a value accepted while typing is exactly a value the answers file accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.validation import ValidationResult, Validator

from wizard.session import field_error


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


class FieldValidator(Validator):
    """Checks an Input's text as the answers field `name`, with the core's message."""

    def __init__(self, name: str, convert: Callable[[str], Any] = text_value) -> None:
        super().__init__()
        self.name = name
        self.convert = convert

    def validate(self, value: str) -> ValidationResult:
        error = field_error(self.name, self.convert(value))
        return self.success() if error is None else self.failure(error)
