"""The interactive wizard: wires the step screens, the key bindings and the stage workers.

`create_app()` builds the app with its dependencies injected (project folder, answers file,
Docker client factory), so tests build it without side effects; `run_tui()` is what
`objectnet-wizard` calls with no command. The state lives in one core `wizard.session.Session`
(the draft answers, saving, and the `wizard.pipeline.Pipeline` whose stage methods the screens
run in thread workers: the same path as the non-interactive mode); the app adds navigation,
key bindings, dialogs and the stage workers.

Nothing here imports torch, docker or jinja2 at import time, so the first screen shows at
once; the screens import them inside their workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from wizard.session import SCREEN_OF_STEP, DockerFactory, Session
from wizard.tui.screens.base import StepScreen
from wizard.tui.screens.base_image import BaseImageScreen
from wizard.tui.screens.build import BuildScreen
from wizard.tui.screens.confirm import ConfirmScreen
from wizard.tui.screens.environment import EnvironmentScreen
from wizard.tui.screens.help import HelpScreen
from wizard.tui.screens.image_smoke import ImageSmokeScreen
from wizard.tui.screens.model import ModelScreen
from wizard.tui.screens.push import PushScreen
from wizard.tui.screens.registry import RegistryScreen
from wizard.tui.screens.review import ReviewScreen
from wizard.tui.screens.settings import SettingsScreen
from wizard.tui.screens.smoke import SmokeScreen
from wizard.tui.screens.stage import STAGE_GROUP, EventRelay, StageScreen

if TYPE_CHECKING:
    from wizard.pipeline import Pipeline

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

EXIT_OK, EXIT_INTERRUPTED = 0, 130


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

    def __init__(self, session: Session, *, start: str) -> None:
        super().__init__()
        self.session = session
        self.start_step = start
        self.relay = EventRelay()
        session.on_event = self.relay
        self.running_label: str | None = None
        self._quitting = False

    # -- steps ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        for key, _label, screen in STEP_SCREENS:
            self.install_screen(screen(), key)
        self.push_screen(self.start_step)
        session = self.session
        if session.load_problems:
            lines = "\n".join(session.load_problems[:6])
            self.notify(lines, title=f"{session.show_path(session.answers_path)} has problems",
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
            incomplete = self.session.first_incomplete()
            if incomplete is not None:
                step, error = incomplete
                self.notify(error, title=f"Finish the {step} step first", severity="warning",
                            markup=False)
                target = SCREEN_OF_STEP[step]
        self.go(target)

    async def action_back(self) -> None:
        """The previous step (App.action_back, which pops a screen, does not fit a wizard
        whose steps are switched, not stacked)."""
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

    def action_save(self) -> None:
        session = self.session
        name = session.show_path(session.answers_path)

        def save_now(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            try:
                self.notify(session.save(), markup=False)
            except OSError as error:
                self.notify(f"cannot save {name}: {error.strerror}", severity="error",
                            markup=False)

        if session.may_save:
            save_now()
        else:
            self.push_screen(ConfirmScreen(
                f"{name} exists and was not opened by this "
                "session. Replace it with these answers?", yes="Replace", no="Keep it"),
                save_now)

    # -- stages ------------------------------------------------------------------------

    def pipeline(self) -> Pipeline | None:
        """The session's pipeline; while a stage runs, the one running it."""
        return self.session.pipeline(keep=self.running_stage() is not None)

    def running_stage(self) -> str | None:
        """What is running now (e.g. "the build"), or None."""
        for worker in self.workers:
            if worker.group == STAGE_GROUP and worker.is_running:
                return self.running_label or "a stage"
        return None

    def stage_started(self, screen: StageScreen, label: str) -> None:
        """Called by `screen` as it starts a stage: its events go to it from now on."""
        self.relay.drain()
        self.relay.target = screen
        self.running_label = label

    def stage_finished(self, screen: StageScreen) -> None:
        """Called by `screen` when its stage ended (done, failed or cancelled)."""
        self.running_label = None
        self.session.cancel.clear()
        if self._quitting and self.running_stage() is None:
            self.exit(EXIT_INTERRUPTED)

    async def action_quit(self) -> None:
        running = self.running_stage()
        if running is None:
            if not self.session.unsaved:
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
                self.session.cancel.set()
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


def create_app(answers_path: Path | None = None, project_root: Path | None = None, *,
               docker: DockerFactory | None = None) -> WizardApp:
    """The wizard for a project folder. `answers_path` (default: answers.toml in the project
    folder) is read when it exists; the app then opens at the first step not yet valid.
    `docker` is a zero-argument factory returning the wizard.docker_ops client (default:
    docker_ops.connect, imported only when a step needs Docker)."""
    session = Session.open(answers_path, project_root, docker=docker)
    start = session.first_step_to_fix() if session.opened else "environment"
    return WizardApp(session, start=start)


def run_tui(answers_path: Path | None, project_root: Path) -> int:
    """Run the wizard in this terminal; returns the exit code (0, or 130 when the user
    quit during a stage and it was cancelled)."""
    result = create_app(answers_path, project_root).run()
    # A check may still be importing torch in its thread; let it finish before the
    # interpreter shuts down under it.
    from wizard.local_torch import wait_idle

    wait_idle(timeout=60)
    return EXIT_OK if result is None else int(result)
