"""One wizard session: the draft answers the user is filling in, where they are saved and when
that may replace a file, how paths are shown, and the pipeline for the answers once complete.

The TUI holds one Session and its screens read and write it; nothing here knows about Textual,
so the session's rules are tested with plain pytest. Docker, Jinja2 and torch load only when a
pipeline stage needs them (wizard.pipeline is imported on first use).
"""

from __future__ import annotations

import functools
import os
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.answers import FIELDS, STEPS, Answers
from wizard.answers_file import parse_answers, read_answers_text, save_answers
from wizard.answers_messages import PartialAnswers, first_invalid_step, validate_partial
from wizard.errors import AnswersError
from wizard.files import not_a_file

if TYPE_CHECKING:
    from wizard.pipeline import Pipeline

DockerFactory = Callable[[], Any]
EventSink = Callable[[Any], None]

SCREEN_OF_STEP = {
    "model": "model",
    "base image": "base_image",
    "settings": "settings",
    "smoke test": "smoke",
    "registry": "registry",
}
"""answers.STEPS names to the wizard step (screen key) that asks for those fields."""


def _default_docker() -> Any:
    from wizard import docker_ops

    return docker_ops.connect()


REQUIRED = "required"


def field_error(name: str, value: Any) -> str | None:
    """The core's message for one answers field with this value, or None when it is valid:
    what the wizard shows next to the field as it is typed. A blank required field reads
    REQUIRED rather than the answers file's "add ... =" hint (the field shows its own hint
    with it)."""
    if value is None:
        return REQUIRED if Answers.model_fields[name].is_required() else None
    error = validate_partial({name: value}).errors.get(name)
    # Shown next to the field, the core's "name: " prefix only repeats the label.
    return error.removeprefix(f"{name}: ") if error else None


def read_draft(path: Path) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """The answers in `path` as a draft, the file's problems (one line each), and the
    settings as the file holds them. A file with invalid values still prefills every
    setting it has, so the wizard can show each problem at its step; a file that is not TOML
    prefills nothing."""
    try:
        text = read_answers_text(path)
    except AnswersError as error:
        return {}, error.lines, {}
    try:
        answers = parse_answers(text, str(path))
    except AnswersError as error:
        problems = error.lines
    else:
        draft = answers.model_dump(exclude_none=True)
        return draft, [], draft
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}, problems, {}
    draft = {}
    for key, value in data.items():
        if key in FIELDS and (value := _as_draft_value(key, value)) is not None:
            draft[key] = value
    return draft, problems, {key: value for key, value in data.items() if key in FIELDS}


@functools.cache
def _text_fields() -> frozenset[str]:
    """The settings whose value is text (or may be left out), from the schema. Built when a
    file with a wrong value is opened, not at import: the schema walk costs 9 ms, on the way
    to the first screen."""
    names = set()
    for name, schema in Answers.model_json_schema()["properties"].items():
        types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
        if types - {None, "null"} == {"string"}:
            names.add(name)
    return frozenset(names)



def _as_draft_value(name: str, value: Any) -> Any:
    """What a text setting's field can show of a value the file gave it: a number as the
    text it reads as (`tag = 1.5` meant "1.5"), nothing for a list, table or true/false. The
    file's problem line already names the value; other settings keep it as written, as their
    steps show any value with its error."""
    if isinstance(value, str) or name not in _text_fields():
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def answers_file_to_open(typed: str, folder: Path) -> Path:
    """The answers file a user typed (relative to `folder`), resolved; ValueError with a
    one-line message when it names no file."""
    from wizard.validators import show

    text = typed.strip()
    if not text:
        raise ValueError("type the path of an answers file, or start new")
    try:
        path = (folder / Path(text).expanduser()).resolve()
        is_file = path.is_file()
    except OSError as error:  # e.g. a name too long for the file system
        raise ValueError(f"{show(text)} cannot be opened ({error.strerror}): check the "
                         "path") from None
    if not is_file:
        raise ValueError(f"{show(text)} {not_a_file(path)}: give the path of an answers file "
                         "(e.g. answers.toml), or start new")
    return path


def defaults() -> dict[str, Any]:
    """Every optional setting with a value as its default, so a saved file spells it out."""
    values = {}
    for name, field in Answers.model_fields.items():
        if not field.is_required() and field.get_default() is not None:
            values[name] = field.get_default()
    return values


class Session:
    """The draft answers of one project folder and what the wizard does with them. Build it
    with Session.open(); the TUI (or a test) drives it."""

    def __init__(self, *, project_root: Path, answers_path: Path, draft: dict[str, Any],
                 docker: DockerFactory | None = None, load_problems: list[str] | None = None,
                 may_overwrite: bool = True, opened: bool = False,
                 saved: dict[str, Any] | None = None) -> None:
        self.project_root = project_root
        self.answers_path = answers_path
        self.draft = draft
        self.docker_factory: DockerFactory = docker or _default_docker
        self.load_problems = list(load_problems or [])
        self.opened = opened
        """Whether the draft was read from an existing answers file."""
        self.may_overwrite = may_overwrite
        """Whether saving may replace answers_path: it was opened (and read) by this session,
        or saved by it; False for a file that exists but could not be read at all."""
        self.on_event: EventSink | None = None
        """Where the pipeline's events go (the TUI's relay); set before the first stage."""
        self.cancel = threading.Event()
        self._saved_draft = dict(draft if saved is None else saved)
        """What the answers file holds: a value the draft had to change (a number for a text
        setting shown as text, a list left out) is not saved until it is written."""
        self._pipeline: Pipeline | None = None

    @classmethod
    def open(cls, answers_path: Path | None = None, project_root: Path | None = None, *,
             docker: DockerFactory | None = None) -> Session:
        """The session for a project folder. `answers_path` (default: answers.toml in the
        project folder) is read when it exists, its settings prefilling the draft over the
        defaults even when some are invalid."""
        root = Path(project_root if project_root is not None else Path.cwd()).resolve()
        draft = defaults()
        saved = dict(draft)
        problems: list[str] = []
        may_overwrite, opened = True, False
        if answers_path is not None:
            answers_path = Path(answers_path).resolve()
            if answers_path.exists():
                opened = True
                loaded, problems, written = read_draft(answers_path)
                draft.update(loaded)
                saved.update(written)
                may_overwrite = not problems or bool(loaded)
        else:
            answers_path = root / "answers.toml"
            may_overwrite = not answers_path.exists()
        return cls(project_root=root, answers_path=answers_path, draft=draft, docker=docker,
                   load_problems=problems, may_overwrite=may_overwrite, opened=opened,
                   saved=saved)

    # -- answers -------------------------------------------------------------------------

    def prefill(self, values: dict[str, Any]) -> None:
        """Start from `values` (what `init` finds in the model folder) where the draft has
        only defaults. They are not saved until the user saves."""
        for name, value in values.items():
            if name in FIELDS and self.draft.get(name) in (None, defaults().get(name)):
                self.draft[name] = value

    def set(self, name: str, value: Any) -> None:
        """Set one answer; None removes it (the field is empty)."""
        if value is None:
            self.draft.pop(name, None)
        else:
            self.draft[name] = value

    def partial(self) -> PartialAnswers:
        return validate_partial(self.draft)

    def answers(self) -> Answers | None:
        """The complete answers, or None while a field is missing or invalid."""
        partial = self.partial()
        return None if partial.errors else Answers.model_validate(partial.values)

    def first_incomplete(self) -> tuple[str, str] | None:
        """The first answers step that is not valid yet and its first error, or None."""
        step = first_invalid_step(self.draft)
        if step is None:
            return None
        return step, next(iter(self.partial().errors.values()), "")

    def incomplete_steps(self) -> list[tuple[str, str]]:
        """Every wizard step (screen key) whose answers are missing or invalid, in order,
        each with its first error."""
        errors = self.partial().errors
        found = []
        for step, names in STEPS:
            first = next((errors[name] for name in names if name in errors), None)
            if first is not None:
                found.append((SCREEN_OF_STEP[step], first))
        return found

    def first_step_to_fix(self) -> str:
        """The wizard step to open at: the first that is not valid yet; complete answers
        whose checkpoint file is missing open at the model step, where that is shown."""
        step = first_invalid_step(self.draft)
        if step is not None:
            return SCREEN_OF_STEP[step]
        answers = Answers.model_validate(validate_partial(self.draft).values)
        if not answers.checkpoint_path(self.project_root).is_file():
            return "model"
        return "review"

    def checkpoint_path(self) -> Path | None:
        """The checkpoint the draft names, or None while it names none."""
        model_dir, checkpoint = self.draft.get("model_dir"), self.draft.get("checkpoint")
        if not (model_dir and isinstance(model_dir, str) and checkpoint
                and isinstance(checkpoint, str)):
            return None
        return self.project_root / model_dir / checkpoint

    def opening_problems(self) -> list[str]:
        """What is wrong with the answers file this session opened, one line each, for the
        step the wizard opens at: its problems as the wizard shows paths (a line that only
        repeats the file's name loses it: the heading names the file), then a checkpoint
        the answers name that is not there."""
        if not self.opened:
            return []
        full, shown = str(self.answers_path), self.show_path(self.answers_path)
        lines = []
        for line in self.load_problems:
            line = self.short(line.replace(full, shown))
            lines.append(line.removeprefix(f"{shown}: "))
        checkpoint = self.checkpoint_path()
        why = not_a_file(checkpoint) if checkpoint is not None else None
        if checkpoint is not None and why is not None:
            lines.append(f"checkpoint {self.show_path(checkpoint)} {why}: pick a file of the "
                         "model folder")
        return lines

    # -- saving --------------------------------------------------------------------------

    @property
    def unsaved(self) -> bool:
        """Whether the answers changed since they were opened or last saved."""
        return self.draft != self._saved_draft

    @property
    def up_to_date(self) -> bool:
        """Whether the answers file already holds these answers (rewriting it would only
        drop the user's comments): it was opened or saved here, and nothing changed since."""
        return not self.unsaved and self.answers_path.exists() and self.may_overwrite

    def changed(self) -> list[str]:
        """The answers that differ from those opened or last saved, in the file's order."""
        return [name for name in FIELDS
                if self.draft.get(name) != self._saved_draft.get(name)]

    def save_state(self) -> str:
        """Whether the answers file holds these answers, in words; nothing is written (the
        wizard saves only when the user asks)."""
        name = self.show_path(self.answers_path)
        if self.up_to_date:
            return f"{name} is up to date"
        if not self.answers_path.exists():
            return f"{name} is not saved yet: ctrl+s saves these answers"
        if not self.may_overwrite:
            return f"{name} was not opened here and is left as it is: ctrl+s replaces it"
        changed = self.changed()
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        return (f"{name} is not saved: {', '.join(changed[:4])}{more} changed; ctrl+s saves "
                "these answers")

    @property
    def may_save(self) -> bool:
        """The one overwrite policy: saving may write the answers file when it does not
        exist, or when this session opened or saved it; otherwise ask the user first."""
        return self.may_overwrite or not self.answers_path.exists()

    def save(self) -> str:
        """Write the draft to the answers file; returns what to tell the user."""
        # Complete answers are written cleaned (e.g. SYN123 as syn123), exactly as the
        # non-interactive mode reads them; a draft is written as typed.
        save_answers(self.answers() or self.draft, self.answers_path)
        self.may_overwrite = True
        self._saved_draft = dict(self.draft)
        return f"saved {self.show_path(self.answers_path)}"

    # -- display -------------------------------------------------------------------------

    def show_path(self, path: Path) -> str:
        """A path as the wizard shows it: relative to the project folder when inside it
        (short, and the same on every machine)."""
        try:
            return str(Path(path).resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(path)

    def short(self, text: str) -> str:
        """A message with the project folder's path taken out of the paths it names."""
        root = str(self.project_root)
        return text.replace(root + os.sep, "").replace(root, ".")

    # -- pipeline ------------------------------------------------------------------------

    def pipeline(self, *, keep: bool = False) -> Pipeline | None:
        """The pipeline for the current answers (a new one when they changed, so results of
        stages run with other answers are never reused; `keep` keeps the current one while a
        stage of it is running), or None while the answers are incomplete."""
        answers = self.answers()
        if answers is None:
            return None
        if self._pipeline is not None and (self._pipeline.answers == answers or keep):
            return self._pipeline
        from wizard.pipeline import Pipeline

        self.cancel = threading.Event()
        self._pipeline = Pipeline(answers, self.project_root, answers_path=self.answers_path,
                                  on_event=self.on_event, docker=self.docker_factory,
                                  cancel=self.cancel)
        return self._pipeline
