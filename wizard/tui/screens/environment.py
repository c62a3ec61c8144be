"""Step 1: what this machine has (Docker engine, torch, GPUs, the project folder), and for
anything missing, what it blocks and how to fix it. Nothing here blocks going on: the
Dockerfile can be prepared without Docker."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from wizard.errors import error_text
from wizard.local_torch import torch_facts
from wizard.tui.screens.base import StepScreen

CHECKING, OK, MISSING, ADVICE = "…", "✓", "✗", "!"

DOCKER_FIX = ("the Dockerfile and the local smoke run work without it; the build, the "
              "in-image test and the push need it")
TORCH_FIX = ("install torch and torchvision next to the wizard (`make venv`); the model "
             "check and the local smoke run need them, the image brings its own")


class CheckRow(Horizontal):
    """One finding: a mark (✓ ✗ ! …), what was checked, what was found and the fix."""

    MARKS: ClassVar[dict[str, str]] = {OK: "-ok", MISSING: "-error", ADVICE: "-warning",
                                       CHECKING: ""}

    def compose(self) -> ComposeResult:
        yield Static("", classes="check-mark", markup=False)
        yield Static("", classes="check-name", markup=False)
        with Vertical(classes="check-text"):
            yield Static("", classes="check-detail", markup=False)
            yield Static("", classes="check-fix", markup=False)

    def show(self, mark: str, name: str, detail: str, fix: str) -> None:
        mark_widget = self.query_one(".check-mark", Static)
        mark_widget.update(mark)
        for style in self.MARKS.values():
            if style:
                mark_widget.set_class(style == self.MARKS[mark], style)
        self.query_one(".check-name", Static).update(name)
        self.query_one(".check-detail", Static).update(detail)
        fix_widget = self.query_one(".check-fix", Static)
        fix_widget.update(f"→ {fix}" if fix else "")
        fix_widget.display = bool(fix)


class EnvironmentScreen(StepScreen):
    STEP = "environment"
    TITLE = "Your machine"
    INTRO = "What the wizard found here, and how to fix what is missing."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "recheck", "Check again")]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, tuple[str, str, str, str]] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="env-items"):
            for key in ("project", "docker", "torch", "gpus"):
                yield CheckRow(id=f"env-{key}")
        yield Static(id="env-summary", markup=False)
        yield Button("Check again (ctrl+r)", id="env-recheck", compact=True)

    def on_mount(self) -> None:
        if self.session.load_problems:
            self.set_status("✗ the answers file has problems: each is shown at its step",
                            error=True)
        self.action_recheck()

    def action_recheck(self) -> None:
        root = self.session.project_root
        if (root / "engine" / "__main__.py").is_file():
            self._set("project", "Project folder", OK, "engine/ found: the image is built "
                      "from this folder")
        else:
            self._set("project", "Project folder", MISSING, "no engine/ folder here",
                      "start the wizard in the objectnet-wizard folder (the one holding "
                      "engine/), or pass --answers FILE that lies in it")
        self._set("docker", "Docker engine", CHECKING, "checking…")
        self._set("torch", "torch (local)", CHECKING, "checking…")
        self._set("gpus", "GPUs", CHECKING, "checking…")
        # Importing torch (and docker) holds the GIL for a while: start once the screen is
        # painted, so the first screen is not kept waiting.
        self.call_after_refresh(self._check_docker)
        self.call_after_refresh(self._check_torch)

    @on(Button.Pressed, "#env-recheck")
    def _recheck(self) -> None:
        self.action_recheck()

    @work(thread=True, exclusive=True, exit_on_error=False, group="env-docker")
    def _check_docker(self) -> tuple[bool, str]:
        """(reachable, what was found); an engine that is not there is a finding."""
        try:
            client = self.session.docker_factory()
        except Exception as error:
            return False, error_text(error)
        describe = getattr(client, "describe", None)
        return True, describe() if callable(describe) else "reachable"

    @work(thread=True, exclusive=True, exit_on_error=False, group="env-torch")
    def _check_torch(self) -> tuple[str | None, list[str]]:
        return torch_facts()

    @on(Worker.StateChanged)
    def _checked(self, event: Worker.StateChanged) -> None:
        worker: Worker[Any] = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        failed = event.state == WorkerState.ERROR
        if worker.group == "env-docker":
            reachable, found = (False, error_text(worker.error)) if failed and worker.error \
                else worker.result
            if reachable:
                self._set("docker", "Docker engine", OK, found)
            else:
                self._set("docker", "Docker engine", MISSING, found, DOCKER_FIX)
        elif worker.group == "env-torch":
            version, gpus = (None, []) if failed or worker.result is None else worker.result
            if version is None:
                detail = error_text(worker.error) if failed and worker.error else \
                    "not installed next to the wizard"
                self._set("torch", "torch (local)", MISSING, detail, TORCH_FIX)
                self._set("gpus", "GPUs", ADVICE, "unknown without torch")
            else:
                self._set("torch", "torch (local)", OK, f"torch {version}: for the model "
                          "check and the local smoke run")
                if gpus:
                    self._set("gpus", "GPUs", OK, f"{len(gpus)}: " + ", ".join(gpus))
                else:
                    self._set("gpus", "GPUs", ADVICE, "none visible: the local smoke run "
                              "uses the CPU (slower); the same image uses the challenge's "
                              "GPUs")

    def _set(self, key: str, name: str, mark: str, detail: str, fix: str = "") -> None:
        self.items[key] = (mark, name, detail, fix)
        self._render_items()

    def _render_items(self) -> None:
        for key, (mark, name, detail, fix) in self.items.items():
            self.query_one(f"#env-{key}", CheckRow).show(mark, name, detail, fix)
        missing = [name for mark, name, _, _ in self.items.values() if mark == MISSING]
        waiting = any(mark == CHECKING for mark, _, _, _ in self.items.values())
        summary = self.query_one("#env-summary", Static)
        if waiting:
            summary.update("Checking…")
        elif missing:
            summary.update("Missing: " + ", ".join(missing) + ". You can still go on: each "
                           "step says what it needs.")
        else:
            summary.update("Ready for every step. Press ctrl+n (Next) to choose the model.")
