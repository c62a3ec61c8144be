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
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.keys import format_key
from textual.screen import ModalScreen, Screen

from wizard.session import DockerFactory, Session
from wizard.tui.commands import WizardCommands
from wizard.tui.screens.base import StepScreen
from wizard.tui.screens.base_image import BaseImageScreen
from wizard.tui.screens.build import BuildScreen
from wizard.tui.screens.confirm import ConfirmScreen, QuitScreen
from wizard.tui.screens.environment import EnvironmentScreen
from wizard.tui.screens.finish import FinishScreen
from wizard.tui.screens.help import HelpScreen
from wizard.tui.screens.image_smoke import ImageSmokeScreen
from wizard.tui.screens.jump import JumpScreen
from wizard.tui.screens.model import ModelScreen
from wizard.tui.screens.push import PushScreen
from wizard.tui.screens.registry import RegistryScreen
from wizard.tui.screens.review import ReviewScreen
from wizard.tui.screens.settings import SettingsScreen
from wizard.tui.screens.smoke import SmokeScreen
from wizard.tui.screens.stage import STAGE_GROUP, EventRelay, StageScreen
from wizard.tui.screens.start import StartChoice, StartScreen
from wizard.tui.widgets.notice import Notice
from wizard.tui.widgets.step_bar import StepBar

if TYPE_CHECKING:
    from wizard.pipeline import Pipeline
    from wizard.receipt import Receipt

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

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
ABANDONED = ("objectnet-wizard: a stage was still running (model code that did not return, or "
             "Docker); exited without waiting for it")


class WizardApp(App[int]):
    """The objectnet-wizard TUI. Build it with create_app()."""

    CSS_PATH = "app.tcss"
    TITLE = "objectnet-wizard"
    COMMANDS = App.COMMANDS | {WizardCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("ctrl+s", "save", "Save"),
        # Back, Next and Go to are on the step's navigation line and in the help, not in
        # the footer: spelled "ctrl+n" as the buttons spell keys, they would not fit in 80
        # columns.
        Binding("ctrl+b", "back", "Back", show=False),
        Binding("ctrl+n", "next", "Next", show=False),
        # priority: checked as the key arrives, so a digit right behind it goes to the dialog,
        # not into the focused field (the field saw it first).
        Binding("ctrl+g", "jump", "Go to", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, session: Session, *, start: str, ask_start: bool = False) -> None:
        super().__init__()
        self.session = session
        self.start_step = start
        self.ask_start = ask_start
        """Ask first whether to open an answers file or start new (no file was given)."""
        self.relay = EventRelay()
        session.on_event = self.relay
        self.running_label: str | None = None
        self._quitting = False
        self.abandon_timer: threading.Timer | None = None
        self.receipt: Receipt | None = None
        """The receipt of the last push, shown on the finish screen (and its reference
        printed when the wizard exits)."""

    # -- steps ---------------------------------------------------------------------------

    async def on_mount(self) -> None:
        for key, _label, screen in STEP_SCREENS:
            self.install_screen(screen(), key)
        if self.ask_start:
            # The question alone is the first screen: the first step, drawn beneath it and
            # drawn again dimmed, cost 0.3 s before anything showed, for a screen the answer
            # may replace (an opened file starts at its own step).
            self.push_screen(StartScreen(self.session.project_root,
                                         self.session.answers_path.name), self._started)
            return
        await self.push_screen(self.start_step)
        await self._tell_load_problems()

    async def _started(self, choice: StartChoice | None) -> None:
        """The start dialog's answer: new answers prefilled, or a file opened in their stead
        (at its first step not yet valid)."""
        if choice is not None and choice.open_path is not None:
            path = choice.open_path
            self.session = Session.open(path, path.parent,
                                        docker=self.session.docker_factory)
            self.session.on_event = self.relay
            # Awaited: the notice is mounted into that step's layout, which must exist first.
            await self.push_screen(self.session.first_step_to_fix())
            await self._tell_load_problems()
            return
        if choice is not None and choice.values:
            self.session.prefill(choice.values)
        await self.push_screen(self.start_step)

    async def _tell_load_problems(self) -> None:
        session = self.session
        problems = session.opening_problems()
        if problems:
            # In the step's layout, not a toast: a toast covered Back and Next for 15 s.
            count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
            await self.screen.mount(
                Notice(f"{session.show_path(session.answers_path)} has {count}", problems,
                       id="opening-problems"), before="#step-body")

    def get_key_display(self, binding: Binding) -> str:
        # "ctrl+r", as the buttons and messages write it, not Textual's "^r".
        if binding.key_display:
            return binding.key_display
        modifiers, key = binding.parse_key()
        return "+".join([*modifiers, format_key(key)])

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # The wizard's own commands come from WizardCommands; of Textual's, keep the theme
        # and Quit (which is action_quit: it asks before losing answers).
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Quit"):
                yield command

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
        self.screen.query(Notice).remove()  # it was about the step it opened at
        self.switch_screen(key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog, the step keys would act on the screen beneath it.
        return not (action in ("next", "back", "save", "jump", "save_and_quit",
                               "command_palette")
                    and isinstance(self.screen, ModalScreen))

    def action_next(self) -> None:
        target = self._neighbour(1)
        if target is not None:
            self.go_to_step(target)

    def go_to_step(self, target: str) -> None:
        """Show step `target`, as the step bar, ctrl+g, the palette and Next ask: back
        freely; forward only once the step shown passes its checks, and never past a step
        whose answers are not done (nor into a stage step before all are): it stops there
        and says why."""
        screen = self.screen
        keys = [k for k, _, _ in STEP_SCREENS]
        if not isinstance(screen, StepScreen) or target == screen.STEP:
            return
        here, there = keys.index(screen.STEP), keys.index(target)
        if there < here:
            self.go(target)
            return
        if not screen.commit():
            return
        incomplete = self.session.incomplete_steps()
        stop = next(((step, error) for step, error in incomplete
                     if here < keys.index(step) < there), None)
        if stop is None and target in STAGE_STEPS and incomplete:
            stop = incomplete[0]
        if stop is not None:
            step, error = stop
            title = dict(self.step_labels())[step]
            self.notify(error, title=f"Finish the {title} step first", severity="warning",
                        markup=False)
            target = step
        if target != screen.STEP:
            self.go(target)

    def on_step_bar_clicked(self, message: StepBar.Clicked) -> None:
        self.go_to_step(message.key)

    def action_jump(self) -> None:
        screen = self.screen
        if not isinstance(screen, StepScreen):
            return

        def chosen(key: str | None) -> None:
            if key is not None:
                self.go_to_step(key)

        self.push_screen(JumpScreen(self.step_labels(), screen.STEP), chosen)

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
        self.save_answers()

    def action_save_and_quit(self) -> None:
        self.save_answers(then=self.action_quit)

    def save_answers(self, then: Callable[[], object] | None = None) -> None:
        """Write the answers (asking first before replacing a file this session did not
        open), then call `then`; a failure to write is said, and `then` is not called."""
        session = self.session
        name = session.show_path(session.answers_path)

        def save_now(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            try:
                self.notify(session.save(), markup=False)
                if isinstance(self.screen, StepScreen):
                    self.screen.answers_saved()
            except OSError as error:
                self.notify(f"cannot save {name}: {error.strerror}", severity="error",
                            markup=False)
                return
            if then is not None:
                self.call_later(then)

        if session.may_save:
            save_now()
        else:
            self.push_screen(ConfirmScreen(
                f"{name} exists and was not opened by this "
                "session. Replace it with these answers?", yes="Replace", no="Keep it"),
                save_now)

    def show_receipt(self, receipt: Receipt, record_name: str) -> None:
        """End on the finish screen: the push's receipt and the reference to submit."""
        self.receipt = receipt
        self.push_screen(FinishScreen(receipt, record_name))

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
        if running is not None and self._quitting:
            # Asked again while the stage is being cancelled: model code stuck in an import
            # or a loop cannot be, so the user, not a timer, decides how long to wait.
            self._give_up_waiting()
            return
        if running is None:
            if not self.session.unsaved:
                self.exit(EXIT_OK)
                return

            def leave(choice: str | None) -> None:
                if choice == "quit":
                    self.exit(EXIT_OK)
                elif choice == "save":
                    self.save_answers(then=self.action_quit)

            self.push_screen(QuitScreen(self.session.show_path(self.session.answers_path)),
                             leave)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._quitting = True
                self.session.cancel.set()
                self.notify(f"cancelling {running}… (ctrl+q again quits now)", markup=False,
                            timeout=60)
                self.set_timer(60, self._give_up_waiting)

        self.push_screen(ConfirmScreen(
            f"{running[:1].upper()}{running[1:]} is running. Cancel it and quit?",
            yes="Cancel and quit", no="Keep going"), answer)

    def _give_up_waiting(self) -> None:
        """Quit with the stage still running. Its thread may never return (model code in a
        loop, or an import that waits on a network there is none of), and asyncio.run's
        shutdown joins every executor thread with no time limit, so app.run() would never
        return: a timer ends the process unless run_tui gets control back first."""
        def leave() -> None:
            print(ABANDONED, file=sys.__stderr__, flush=True)
            os._exit(EXIT_INTERRUPTED)

        self.abandon_timer = threading.Timer(5, leave)
        self.abandon_timer.daemon = True
        self.abandon_timer.start()
        self.exit(EXIT_INTERRUPTED)

    async def wait_for_stage(self, timeout: float = 30) -> None:
        """Wait for the running stage to end (tests, and a clean quit)."""
        workers = [w for w in self.workers if w.group == STAGE_GROUP]
        for worker in workers:
            # Its error, if any, is shown by its screen.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), timeout)


def create_app(answers_path: Path | None = None, project_root: Path | None = None, *,
               docker: DockerFactory | None = None, ask_start: bool = False) -> WizardApp:
    """The wizard for a project folder. `answers_path` (default: answers.toml in the project
    folder) is read when it exists; the app then opens at the first step not yet valid.
    `docker` is a zero-argument factory returning the wizard.docker_ops client (default:
    docker_ops.connect, imported only when a step needs Docker). `ask_start`: with no
    answers file, first ask whether to open one or start new from the model folder."""
    session = Session.open(answers_path, project_root, docker=docker)
    start = session.first_step_to_fix() if session.opened else "environment"
    return WizardApp(session, start=start,
                     ask_start=ask_start and not session.answers_path.exists())


def run_tui(answers_path: Path | None, project_root: Path | None = None) -> int:
    """Run the wizard in this terminal; returns the exit code (0, or 130 when the user
    quit during a stage and it was cancelled). With no `answers_path`, ./answers.toml is
    opened when it exists; otherwise the wizard asks whether to open another file or start
    new. After a push, the reference to submit is printed (copying it from the finish screen
    needs a terminal that allows it)."""
    if answers_path is None and (Path.cwd() / "answers.toml").is_file():
        answers_path = Path("answers.toml")
    root = project_root or (answers_path or Path("answers.toml")).resolve().parent
    app = create_app(answers_path, root, ask_start=answers_path is None)
    result = app.run()
    if app.abandon_timer is not None:
        app.abandon_timer.cancel()  # control came back: no need to end the process
    # A check may still be importing torch in its thread; let it finish before the
    # interpreter shuts down under it (that can crash). After a quit during a stage, model
    # code that never returns is not waited for past a few seconds: the process ends
    # around it.
    from wizard.local_torch import wait_idle

    if not wait_idle(timeout=5 if result == EXIT_INTERRUPTED else 60):
        print(ABANDONED, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(exit_code(app, result))
    if app.receipt is not None:
        from rich.console import Console
        from rich.text import Text

        Console(soft_wrap=True).print(Text(app.receipt.exit_line()), highlight=False)
    return exit_code(app, result)


def exit_code(app: WizardApp, result: int | None) -> int:
    """The wizard's exit code: what it exited with, and 1 when it stopped on an error of
    its own (Textual printed the traceback), which is never a success."""
    if result is not None:
        return int(result)
    return EXIT_FAILED if app.return_code else EXIT_OK
