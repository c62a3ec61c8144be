"""The interactive wizard: wires the step screens, the key bindings and the stage workers.

`create_app()` builds the app with its dependencies injected (project folder, answers file,
Docker client factory), so tests build it without side effects; `run_tui()` is what
`objectnet-wizard` calls with no command. The app holds the draft answers (a plain mapping
the screens fill in) and, once they are complete, one `wizard.pipeline.Pipeline` whose stage
methods the screens run in thread workers: the same path as the non-interactive mode.

Nothing here imports torch, docker or jinja2 at import time, so the first screen shows at
once; the screens import them inside their workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from wizard.answers import (
    FIELDS,
    Answers,
    AnswersError,
    PartialAnswers,
    first_invalid_step,
    load_answers,
    save_answers,
    validate_partial,
)
from wizard.screens.base import StepScreen
from wizard.screens.base_image import BaseImageScreen
from wizard.screens.build import BuildScreen
from wizard.screens.confirm import ConfirmScreen
from wizard.screens.environment import EnvironmentScreen
from wizard.screens.help import HelpScreen
from wizard.screens.image_smoke import ImageSmokeScreen
from wizard.screens.model import ModelScreen
from wizard.screens.push import PushScreen
from wizard.screens.registry import RegistryScreen
from wizard.screens.review import ReviewScreen
from wizard.screens.settings import SettingsScreen
from wizard.screens.smoke import SmokeScreen
from wizard.screens.stage import STAGE_GROUP, EventRelay, StageScreen

if TYPE_CHECKING:
    from wizard.pipeline import Pipeline

DockerFactory = Callable[[], Any]

STEP_SCREENS: tuple[tuple[str, str, type[StepScreen]], ...] = (
    ("environment", "Env", EnvironmentScreen),
    ("model", "Model", ModelScreen),
    ("base_image", "Base", BaseImageScreen),
    ("settings", "Settings", SettingsScreen),
    ("registry", "Name", RegistryScreen),
    ("review", "Review", ReviewScreen),
    ("smoke", "Smoke", SmokeScreen),
    ("build", "Build", BuildScreen),
    ("image_smoke", "Verify", ImageSmokeScreen),
    ("push", "Push", PushScreen),
)
"""Screen key, step-bar label and class, in order. The image name (registry step) comes
before the review because the Dockerfile names the image it builds."""

STAGE_STEPS = frozenset(key for key, _, screen in STEP_SCREENS
                        if issubclass(screen, StageScreen))
"""Steps that run pipeline stages: they need complete answers."""

SCREEN_OF_STEP = {
    "model": "model",
    "base image": "base_image",
    "settings": "settings",
    "smoke test": "smoke",
    "registry": "registry",
}
"""answers.STEPS names to the screen that asks for those fields."""

EXIT_OK, EXIT_INTERRUPTED = 0, 130


def _default_docker() -> Any:
    from wizard import docker_ops

    return docker_ops.connect()


def read_draft(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The answers in `path` as a draft, and the file's problems (one line each). A file
    with invalid values still prefills every setting it has, so the wizard can show each
    problem at its step; a file that is not TOML prefills nothing."""
    try:
        answers = load_answers(path)
    except AnswersError as error:
        problems = error.lines
    else:
        return answers.model_dump(exclude_none=True), []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}, problems
    return {key: value for key, value in data.items() if key in FIELDS}, problems


def _defaults() -> dict[str, Any]:
    """Every optional setting with a value as its default, so a saved file spells it out."""
    values = {}
    for name, field in Answers.model_fields.items():
        if not field.is_required() and field.get_default() is not None:
            values[name] = field.get_default()
    return values


class WizardApp(App[int]):
    """The objectnet-wizard TUI. Build it with create_app()."""

    CSS_PATH = "app.tcss"
    TITLE = "objectnet-wizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+b", "back", "Back"),
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, *, project_root: Path, answers_path: Path, draft: dict[str, Any],
                 start: str, docker: DockerFactory, load_problems: list[str],
                 may_overwrite: bool) -> None:
        super().__init__()
        self.project_root = project_root
        self.answers_path = answers_path
        self.draft = draft
        self.start_step = start
        self.docker_factory = docker
        self.load_problems = load_problems
        self.may_overwrite = may_overwrite
        self.relay = EventRelay()
        self.cancel = threading.Event()
        self.running_label: str | None = None
        self._saved_draft = dict(draft)
        self._pipeline: Pipeline | None = None
        self._quitting = False

    # -- steps ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        for key, _label, screen in STEP_SCREENS:
            self.install_screen(screen(), key)
        self.push_screen(self.start_step)
        if self.load_problems:
            lines = "\n".join(self.load_problems[:6])
            self.notify(lines, title=f"{self.show_path(self.answers_path)} has problems",
                        severity="error", timeout=15, markup=False)

    def step_labels(self) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _ in STEP_SCREENS]

    def step_number(self, key: str) -> tuple[int, int]:
        keys = [k for k, _, _ in STEP_SCREENS]
        return keys.index(key) + 1, len(keys)

    def _neighbour(self, offset: int) -> str | None:
        screen = self.screen
        keys = [k for k, _, _ in STEP_SCREENS]
        if not isinstance(screen, StepScreen):
            return None
        index = keys.index(screen.STEP) + offset
        return keys[index] if 0 <= index < len(keys) else None

    def go(self, key: str) -> None:
        """Show step `key` (screens are installed, so each keeps its state)."""
        self.switch_screen(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog, the step keys would act on the screen beneath it.
        return not (action in ("next", "back", "save")
                    and isinstance(self.screen, ModalScreen))

    def action_next(self) -> None:
        screen = self.screen
        if not isinstance(screen, StepScreen) or not screen.commit():
            return
        target = self._neighbour(1)
        if target is None:
            return
        if target in STAGE_STEPS:
            step = first_invalid_step(self.draft)
            if step is not None:
                key = SCREEN_OF_STEP[step]
                error = next(iter(self.partial().errors.values()), "")
                self.notify(error, title=f"Finish the {step} step first", severity="warning",
                            markup=False)
                target = key
        self.go(target)

    def action_back(self) -> None:
        target = self._neighbour(-1)
        if target is not None:
            self.go(target)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        if isinstance(self.screen, ModalScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    # -- answers -------------------------------------------------------------------------

    def set_answer(self, name: str, value: Any) -> None:
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

    def show_path(self, path: Path) -> str:
        """A path as the screens show it: relative to the project folder when inside it
        (short, and the same on every machine)."""
        try:
            return str(Path(path).resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(path)

    def short(self, text: str) -> str:
        """A message with the project folder's path taken out of the paths it names."""
        root = str(self.project_root)
        return text.replace(root + os.sep, "").replace(root, ".")

    def save(self) -> str:
        """Write the draft to the answers file; returns what to tell the user."""
        # Complete answers are written cleaned (e.g. SYN123 as syn123), exactly as the
        # non-interactive mode reads them; a draft is written as typed.
        save_answers(self.answers() or self.draft, self.answers_path)
        self.may_overwrite = True
        self._saved_draft = dict(self.draft)
        return f"saved {self.show_path(self.answers_path)}"

    def action_save(self) -> None:
        def save_now(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            try:
                self.notify(self.save(), markup=False)
            except OSError as error:
                self.notify(f"cannot save {self.show_path(self.answers_path)}: "
                            f"{error.strerror}", severity="error", markup=False)

        if self.may_overwrite or not self.answers_path.exists():
            save_now()
        else:
            self.push_screen(ConfirmScreen(
                f"{self.show_path(self.answers_path)} exists and was not opened by this "
                "session. Replace it with these answers?", yes="Replace", no="Keep it"),
                save_now)

    # -- pipeline ------------------------------------------------------------------------

    def pipeline(self) -> Pipeline | None:
        """The pipeline for the current answers (a new one when they changed, so results of
        stages run with other answers are never reused), or None while incomplete."""
        answers = self.answers()
        if answers is None:
            return None
        if self._pipeline is not None and (self._pipeline.answers == answers
                                           or self.running_stage()):
            return self._pipeline
        from wizard.pipeline import Pipeline

        self.cancel = threading.Event()
        self._pipeline = Pipeline(answers, self.project_root, answers_path=self.answers_path,
                                  on_event=self.relay, docker=self.docker_factory,
                                  cancel=self.cancel)
        return self._pipeline

    def running_stage(self) -> str | None:
        """What is running now (e.g. "the build"), or None."""
        for worker in self.workers:
            if worker.group == STAGE_GROUP and worker.is_running:
                return self.running_label or "a stage"
        return None

    def stage_finished(self, screen: StageScreen) -> None:
        """Called by `screen` when its stage ended (done, failed or cancelled)."""
        self.cancel.clear()
        if self._quitting and self.running_stage() is None:
            self.exit(EXIT_INTERRUPTED)

    @property
    def unsaved(self) -> bool:
        """Whether the answers changed since they were opened or last saved."""
        return self.draft != self._saved_draft

    async def action_quit(self) -> None:
        running = self.running_stage()
        if running is None:
            if not self.unsaved:
                self.exit(EXIT_OK)
                return

            def leave(yes: bool | None) -> None:
                if yes:
                    self.exit(EXIT_OK)

            self.push_screen(ConfirmScreen(
                "Your answers changed since they were last saved. Quit without saving them? "
                "(ctrl+s saves them)", yes="Quit", no="Stay"), leave)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._quitting = True
                self.cancel.set()
                self.notify(f"cancelling {running}…", markup=False)
                self.set_timer(60, self._give_up_waiting)

        self.push_screen(ConfirmScreen(
            f"{running[:1].upper()}{running[1:]} is running. Cancel it and quit?",
            yes="Cancel and quit", no="Keep going"), answer)

    def _give_up_waiting(self) -> None:
        self.exit(EXIT_INTERRUPTED)

    async def wait_for_stage(self, timeout: float = 30) -> None:
        """Wait for the running stage to end (tests, and a clean quit)."""
        workers = [w for w in self.workers if w.group == STAGE_GROUP]
        for worker in workers:
            # Its error, if any, is shown by its screen.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), timeout)


def _first_step_to_fix(draft: dict[str, Any], root: Path) -> str:
    """The screen of the first step that is not valid yet; complete answers whose
    checkpoint file is missing open at the model step, where that is shown."""
    step = first_invalid_step(draft)
    if step is not None:
        return SCREEN_OF_STEP[step]
    answers = Answers.model_validate(validate_partial(draft).values)
    if not answers.checkpoint_path(root).is_file():
        return "model"
    return "review"


def create_app(answers_path: Path | None = None, project_root: Path | None = None, *,
               docker: DockerFactory | None = None) -> WizardApp:
    """The wizard for a project folder. `answers_path` (default: answers.toml in the project
    folder) is read when it exists; the app then opens at the first step not yet valid.
    `docker` is a zero-argument factory returning the wizard.docker_ops client (default:
    docker_ops.connect, imported only when a step needs Docker)."""
    root = Path(project_root if project_root is not None else Path.cwd()).resolve()
    draft = _defaults()
    problems: list[str] = []
    start = "environment"
    may_overwrite = True
    if answers_path is not None:
        answers_path = Path(answers_path).resolve()
        if answers_path.exists():
            loaded, problems = read_draft(answers_path)
            draft.update(loaded)
            may_overwrite = not problems or bool(loaded)
            start = _first_step_to_fix(draft, root)
    else:
        answers_path = root / "answers.toml"
        may_overwrite = not answers_path.exists()
    return WizardApp(project_root=root, answers_path=answers_path, draft=draft, start=start,
                     docker=docker or _default_docker, load_problems=problems,
                     may_overwrite=may_overwrite)


def run_tui(answers_path: Path | None, project_root: Path) -> int:
    """Run the wizard in this terminal; returns the exit code (0, or 130 when the user
    quit during a stage and it was cancelled)."""
    result = create_app(answers_path, project_root).run()
    # A check may still be importing torch in its thread; let it finish before the
    # interpreter shuts down under it.
    from wizard.local_torch import wait_idle

    wait_idle(timeout=60)
    return EXIT_OK if result is None else int(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wizard.app",
                                     description="The interactive objectnet-wizard.")
    parser.add_argument("--answers", type=Path, help="answers file to open (and save to)")
    args = parser.parse_args(argv)
    root = (args.answers.resolve().parent if args.answers else Path(os.getcwd()))
    return run_tui(args.answers, root)


if __name__ == "__main__":
    raise SystemExit(main())
