"""One answers field: a label, a one-line input and, under it, the hint or the error.

The error is the core's own message (see validation.FieldValidator), shown next to the
field that caused it. It starts with a cross so it reads without colour (NO_COLOR).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from wizard.session import REQUIRED
from wizard.tui.widgets.validation import FieldValidator, text_value


class Field(Vertical):
    """An Input bound to the answers field `name`; `value` is the typed answer (None for
    blank). Posts Field.Changed with the field name and value on every edit, and
    Field.Settled once typing paused for DEBOUNCE seconds, after the value was checked."""

    DEFAULT_CSS = """
    Field { height: auto; }
    Field > Horizontal { height: 1; }
    Field .field-label { width: 18; color: $text; }
    Field Input { width: 1fr; }
    Field .field-note { color: $text-muted; padding-left: 18; height: auto; }
    Field .field-note.-error { color: $text-error; }
    """

    class Changed(Message):
        def __init__(self, field: Field, value: Any) -> None:
            super().__init__()
            self.field = field
            self.value = value

        @property
        def control(self) -> Field:
            return self.field

    class Settled(Changed):
        """The value stopped changing and was checked: the time for work that follows it."""

    DEBOUNCE = 0.15
    """Seconds of quiet typing before the value is checked and its error shown: one check
    per change, off the key path, instead of one or more per keystroke."""

    def __init__(self, name: str, label: str, *, hint: str = "", value: Any = None,
                 placeholder: str = "", password: bool = False,
                 convert: Callable[[str], Any] = text_value,
                 check: bool = True, id: str | None = None) -> None:
        super().__init__(id=id or f"field-{name}")
        self.field_name = name
        self._label = label
        self._hint = hint
        self._initial = "" if value is None else str(value)
        self._placeholder = placeholder
        self._password = password
        self._convert = convert
        self._check = check
        self._external_error: str | None = None
        self._checked: tuple[str, str | None] | None = None
        self._timer: Timer | None = None
        self.touched = False

    def compose(self) -> ComposeResult:
        validators = [FieldValidator(self.field_name, self._convert)] if self._check else []
        with Horizontal():
            yield Label(self._label, classes="field-label")
            yield Input(self._initial, placeholder=self._placeholder, password=self._password,
                        validators=validators, validate_on=(),
                        compact=True, id=f"input-{self.field_name}")
        yield Static(self._hint, classes="field-note", markup=False)

    def on_mount(self) -> None:
        if self._initial:
            # A prefilled value (from --answers) shows its error at once.
            self.touched = True
            self._show(self.error())

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> Any:
        return self._convert(self.input.value)

    def set_value(self, value: Any) -> None:
        """Set the text (e.g. a table row was picked); posts Changed like typing does."""
        self.touched = True
        self.input.value = "" if value is None else str(value)

    def error(self) -> str | None:
        """The current problem with the value: the core's message, else an external one
        (set_error) such as "the checkpoint does not exist"."""
        if self._check:
            text = self.input.value
            if self._checked is None or self._checked[0] != text:
                result = self.input.validate(text)
                problem = None if result is None or result.is_valid \
                    else result.failure_descriptions[0]
                self._checked = (text, problem)
            if self._checked[1] is not None:
                return self._checked[1]
        return self._external_error

    def set_error(self, message: str | None) -> None:
        """Show a problem found elsewhere (a background check) next to this field."""
        self._external_error = message
        self._show(self.error())

    def check(self) -> bool:
        """Show the error even if untouched (the user asked to go on); True when valid."""
        self.touched = True
        error = self.error()
        self._show(error)
        return error is None

    def _show(self, error: str | None) -> None:
        note = self.query_one(".field-note", Static)
        shown = error if self.touched else None
        if shown == REQUIRED and self._hint:
            shown = f"{REQUIRED}: {self._hint}"
        note.update(f"✗ {shown}" if shown else self._hint)
        note.set_class(bool(shown), "-error")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.input.value != self._initial or self.touched:
            self.touched = True
        self._external_error = None
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.DEBOUNCE, self._settled)
        self.post_message(self.Changed(self, self.value))

    def _settled(self) -> None:
        self._timer = None
        self._show(self.error())
        self.post_message(self.Settled(self, self.value))
