"""Step 2: the model folder, the class (discovered in model_description.py: its own classes
first, then the library classes it imports, marked as such), the checkpoint (picked among the
folder's files), and a background check that loads the checkpoint into the class, as the
engine will, showing missing and unexpected keys, or the wrapper a class needs when it cannot
be built with no arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Label, Select, Static
from textual.worker import Worker, WorkerState

from wizard import findings
from wizard.errors import WizardError, error_text
from wizard.files import not_a_file
from wizard.findings import Finding, Status
from wizard.model_folder import checkpoint_candidates
from wizard.tui.screens.base import StepScreen
from wizard.tui.widgets.field import Field
from wizard.tui.widgets.toggles import Tick


def _classes_found(choices: list[tuple[str, str]]) -> str:
    """How many classes model_description.py defines itself and how many it imports (a
    library class's label is more than its name: model_check.class_choices marks it)."""
    if not choices:
        return "model_description.py defines no nn.Module class"
    library = sum(1 for label, name in choices if label != name)
    own = len(choices) - library
    text = f"{own} class(es) in model_description.py"
    if library:
        text += (f", and {library} imported from libraries (they often need arguments; "
                 "the engine builds a class with none)")
    return text


def _library_note(choices: list[tuple[str, str]], value: object) -> str:
    """Said when a library class is picked: it is built with no arguments."""
    for label, name in choices:
        if name == value and label != name:
            return (f"{label}: the engine builds it with no arguments, as the demo did; if it "
                    "needs some, define a class that wraps it in model_description.py")
    return ""


class ModelScreen(StepScreen):
    STEP = "model"
    TITLE = "Your model"
    INTRO = "The folder with model_description.py, the class to build and its checkpoint."

    def __init__(self) -> None:
        super().__init__()
        self._loading = False
        self._check_key: tuple[Any, ...] | None = None
        self.check_result: Finding | None = None
        """Whether the checkpoint loads into the class (wizard.findings.model)."""
        self.class_choices: list[tuple[str, str]] = []
        """(label, name) per class: the folder's own first, library classes marked."""

    def compose_body(self) -> ComposeResult:
        yield Field("model_dir", "Model folder", value=self.answer("model_dir"),
                    hint="inside the project folder; its .py files go into the image")
        with Horizontal(classes="row"):
            yield Label("Model class", classes="field-label")
            yield Select([], prompt="(looking for classes…)", compact=True, id="model-class")
        yield Static("", id="class-note", classes="note", markup=False)
        with Horizontal(classes="row"):
            yield Label("Checkpoint", classes="field-label")
            yield Select([], prompt="(pick a file of the model folder)", compact=True,
                         id="checkpoint")
        yield Static("", id="checkpoint-note", classes="note", markup=False)
        yield Tick("Trust a whole pickled model (loading it runs code from the file)",
                       bool(self.answer("trust_checkpoint")), compact=True,
                       id="trust-checkpoint")
        yield Static("", id="model-check", markup=False)
        yield Static("", id="offline", markup=False)

    def refresh_from_draft(self) -> None:
        self._loading = True
        try:
            self.query_one("#trust-checkpoint", Checkbox).value = \
                bool(self.answer("trust_checkpoint"))
            self._fill_checkpoints()
            self._fill_classes(self.class_choices)
        finally:
            self._loading = False
        self._discover()
        self._start_check()

    # -- helpers ---------------------------------------------------------------------------

    def _model_dir(self) -> Path | None:
        field = self.query_one("#field-model_dir", Field)
        if field.error() is not None or not self.answer("model_dir"):
            return None
        return self.session.project_root / self.answer("model_dir")

    def _note(self, widget_id: str, text: str, *, error: bool = False) -> None:
        note = self.query_one(f"#{widget_id}", Static)
        note.update(f"✗ {text}" if error else text)
        note.set_class(error, "-error")

    def _fill_checkpoints(self) -> None:
        select = self.query_one("#checkpoint", Select)
        model_dir = self._model_dir()
        files = checkpoint_candidates(model_dir) if model_dir else []
        current = self.answer("checkpoint")
        options = [(name, name) for name in files]
        if current and current not in files:
            absent = model_dir is None or not_a_file(model_dir / current) == "does not exist"
            options.insert(0, (f"{current} ({'missing' if absent else 'not a file'})", current))
        # Refilling is not an edit: without prevent, Select's Changed messages (blank, then
        # the answer) arrive after the fact and wipe the answer and its notes.
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = current if current else Select.NULL
        if model_dir and not files:
            self._note("checkpoint-note", f"no checkpoint file in {self.answer('model_dir')}/: "
                       "copy your .pth, .pt or .safetensors file there", error=True)

    def _fill_classes(self, choices: list[tuple[str, str]]) -> None:
        select = self.query_one("#model-class", Select)
        current = self.answer("model_class")
        options = list(choices)
        if current and current not in [name for _, name in choices]:
            options.insert(0, (f"{current} (not found)" if choices else current, current))
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = current if current else Select.NULL

    # -- discovery and the load check ----------------------------------------------------

    def _discover(self) -> None:
        model_dir = self._model_dir()
        if model_dir is None or not model_dir.is_dir():
            # Nothing of the last folder stays up: its classes are not this folder's.
            self.class_choices = []
            self._loading = True
            self._fill_classes([])
            self._loading = False
            self._note("class-note", "" if model_dir is None else
                       f"model folder {self.answer('model_dir')} does not exist: type the "
                       "folder (in the project folder) that holds model_description.py",
                       error=model_dir is not None)
            return
        self._note("class-note", "looking for classes in model_description.py…")
        # Once the screen is painted: the thread imports torch and the user's code, holding
        # the GIL for seconds, and the Model step is where an opened answers file often
        # starts.
        self.call_after_refresh(self._list_classes, model_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="model-classes")
    def _list_classes(self, model_dir: Path
                      ) -> tuple[Path, list[tuple[str, str]], str | None]:
        """(folder, (label, name) per class, problem): model code that fails to import is a
        finding."""
        from wizard.model_check import class_choices

        try:
            return model_dir, class_choices(model_dir), None
        except Exception as error:
            return model_dir, [], error_text(error)

    def _start_check(self) -> None:
        model_dir = self._model_dir()
        model_class = self.answer("model_class")
        checkpoint = self.answer("checkpoint")
        trust = bool(self.answer("trust_checkpoint"))
        key = (model_dir, model_class, checkpoint, trust)
        no_folder = model_dir is not None and not model_dir.is_dir()
        why = (not_a_file(model_dir / checkpoint)
               if model_dir is not None and checkpoint and not no_folder else None)
        if model_dir is None or no_folder or not model_class or not checkpoint or why:
            self._check_key = None
            self.check_result = None
            self.query_one("#model-check", Static).update("")
            self.query_one("#offline", Static).update("")  # the last folder's finding
            if no_folder:
                self._note("checkpoint-note", "")  # the class note says why
            elif why:
                self._note("checkpoint-note", f"{self.answer('model_dir')}/{checkpoint} {why}: "
                           "pick a file of the model folder", error=True)
            return
        if key == self._check_key:
            return
        self._check_key = key
        self.check_result = None
        self.query_one("#model-check", Static).update(
            Text(f"… loading {checkpoint} into {model_class}", style="dim"))
        self.call_after_refresh(self._check, key)  # after the paint, as the class listing

    @work(thread=True, exclusive=True, exit_on_error=False, group="model-check")
    def _check(self, key: tuple[Any, ...]
               ) -> tuple[tuple[Any, ...], Finding, str, list[Finding]]:
        from wizard.checkpoint_info import describe, inspect

        model_dir, model_class, checkpoint, trust = key
        path = model_dir / checkpoint
        try:
            info = describe(inspect(path, with_sha256=False))
        except WizardError as error:  # unreadable: the check says why, next to the field
            info = str(error)
        return (key, findings.model(model_dir, model_class, path, trust), info,
                findings.offline(model_dir))

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if worker.group == "model-classes":
            if worker.error is not None:
                model_dir, choices, problem = None, [], error_text(worker.error)
            else:
                assert worker.result is not None  # a worker that succeeded holds its result
                model_dir, choices, problem = worker.result
            if problem is not None:
                self.class_choices = []
                self._note("class-note", self.session.short(problem), error=True)
            else:
                if model_dir != self._model_dir():
                    return
                self.class_choices = choices
                self._loading = True
                self._fill_classes(choices)
                self._loading = False
                select = self.query_one("#model-class", Select)
                select.prompt = f"(pick one of {len(choices)})" if choices else "(none found)"
                self._note("class-note", _classes_found(choices), error=not choices)
        elif worker.group == "model-check":
            if worker.error is not None:
                self.check_result = None
                self._show_check(Finding(findings.CHECKPOINT, Status.ERROR,
                                         error_text(worker.error)))
                return
            assert worker.result is not None  # a worker that succeeded holds its result
            key, result, info, offline = worker.result
            if key != self._check_key:
                return
            self.check_result = result
            self._note("checkpoint-note", self.session.short(info))
            self._show_check(result)
            downloads = [f for f in offline if not f.ok]
            if downloads:
                lines = [f"{f.mark} {f}" for f in downloads[:3]]
                text = "Not offline-ready (the challenge has no network):\n" + "\n".join(lines)
            else:
                text = "\n".join(f"{f.mark} {f.name}: {f.shown}" for f in offline)
            self.query_one("#offline", Static).update(text)

    def _show_check(self, finding: Finding) -> None:
        text = finding.shown + (f"\n→ {finding.fix}" if finding.fix else "")
        check = self.query_one("#model-check", Static)
        check.update(f"{finding.mark} " + self.session.short(text))
        check.set_class(not finding.ok, "-error")
        check.set_class(finding.ok, "-ok")

    # -- edits -----------------------------------------------------------------------------

    def answer_changed(self, name: str) -> None:
        self._loading = True
        self._fill_checkpoints()
        self._loading = False
        self._discover()
        self._start_check()

    @on(Select.Changed, "#model-class")
    def _class_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        if self._loading or value == self.answer("model_class"):
            return
        self.session.set("model_class", value)
        self._note("class-note", _library_note(self.class_choices, value))
        self.set_status("")
        self._start_check()

    @on(Select.Changed, "#checkpoint")
    def _checkpoint_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        if self._loading or value == self.answer("checkpoint"):
            return
        self.session.set("checkpoint", value)
        self._note("checkpoint-note", "")
        self.set_status("")
        self._start_check()

    @on(Checkbox.Changed, "#trust-checkpoint")
    def _trust_changed(self, event: Checkbox.Changed) -> None:
        if self._loading:
            return
        self.session.set("trust_checkpoint", event.value)
        self._start_check()

    def commit(self) -> bool:
        if not super().commit():
            return False
        problems = []
        if not self.answer("model_class"):
            self._note("class-note", "required: pick the class to build", error=True)
            problems.append("#model-class")
        path = self._model_dir() / self.answer("checkpoint") if self.answer("checkpoint") \
            else None
        if path is None:
            self._note("checkpoint-note", "required: pick the checkpoint file", error=True)
            problems.append("#checkpoint")
        elif not path.is_file() or (self.check_result is not None
                                    and not self.check_result.ok):
            problems.append("#checkpoint")
        if problems:
            self.query_one(problems[0]).focus()
            self.set_status("✗ fix the model step to go on", error=True)
            return False
        return True
