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

from wizard import findings
from wizard.errors import error_text
from wizard.findings import Finding, Status
from wizard.tui.screens.base import StepScreen

ROWS = {findings.PROJECT: "env-project", findings.DOCKER: "env-docker",
        findings.TORCH: "env-torch", findings.GPUS: "env-gpus"}
"""The findings this step shows (wizard.findings' producers), each in its row."""


class CheckRow(Horizontal):
    """One finding: a mark (✓ ✗ ! …), what was checked, what was found and the fix."""

    STYLES: ClassVar[dict[Status, str]] = {Status.OK: "-ok", Status.ERROR: "-error",
                                           Status.WARNING: "-warning"}

    def compose(self) -> ComposeResult:
        yield Static("", classes="check-mark", markup=False)
        yield Static("", classes="check-name", markup=False)
        with Vertical(classes="check-text"):
            yield Static("", classes="check-detail", markup=False)
            yield Static("", classes="check-fix", markup=False)

    def show(self, finding: Finding) -> None:
        mark_widget = self.query_one(".check-mark", Static)
        mark_widget.update(finding.mark)
        for status, style in self.STYLES.items():
            mark_widget.set_class(status is finding.status, style)
        self.query_one(".check-name", Static).update(finding.name)
        self.query_one(".check-detail", Static).update(finding.shown)
        fix_widget = self.query_one(".check-fix", Static)
        fix_widget.update(f"→ {finding.fix}" if finding.fix else "")
        fix_widget.display = bool(finding.fix)


class EnvironmentScreen(StepScreen):
    STEP = "environment"
    TITLE = "Your machine"
    INTRO = "What the wizard found here, and how to fix what is missing."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "recheck", "Check again")]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Finding] = {}
        """The findings shown, by name."""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="env-items"):
            for row in ROWS.values():
                yield CheckRow(id=row)
        yield Static(id="env-summary", markup=False)
        yield Button("Check again (ctrl+r)", id="env-recheck", compact=True)

    def on_mount(self) -> None:
        if self.session.load_problems:
            self.set_status("✗ the answers file has problems (objectnet-wizard check lists "
                            "them)", error=True)
        self.action_recheck()

    def action_recheck(self) -> None:
        self._show(findings.project(self.session.project_root),
                   *(findings.pending(name) for name in (findings.DOCKER, findings.TORCH,
                                                         findings.GPUS)))
        # Importing torch (and docker) holds the GIL for a while: start once the screen is
        # painted, so the first screen is not kept waiting.
        self.call_after_refresh(self._check_docker)
        self.call_after_refresh(self._check_torch)

    @on(Button.Pressed, "#env-recheck")
    def _recheck(self) -> None:
        self.action_recheck()

    @work(thread=True, exclusive=True, exit_on_error=False, group="env-docker")
    def _check_docker(self) -> list[Finding]:
        return findings.docker(self.session.docker_factory)

    @work(thread=True, exclusive=True, exit_on_error=False, group="env-torch")
    def _check_torch(self) -> list[Finding]:
        return findings.local_torch()

    @on(Worker.StateChanged)
    def _checked(self, event: Worker.StateChanged) -> None:
        worker: Worker[Any] = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        found: list[Finding] = worker.result or []
        # The producers never raise for what they find: a failure here is a bug, shown so.
        error = error_text(worker.error) if worker.error else "failed"
        if worker.group == "env-docker":
            self._show(*found or [Finding(findings.DOCKER, Status.ERROR, error,
                                          findings.DOCKER_FIX)])
        elif worker.group == "env-torch":
            self._show(*found or findings.torch_missing(error))

    def _show(self, *found: Finding) -> None:
        for finding in found:
            self.items[finding.name] = finding
        for name, finding in self.items.items():
            self.query_one(f"#{ROWS[name]}", CheckRow).show(finding)
        missing = [f.name for f in self.items.values() if f.status is Status.ERROR]
        waiting = any(f.status is Status.PENDING for f in self.items.values())
        summary = self.query_one("#env-summary", Static)
        if waiting:
            summary.update("Checking…")
        elif missing:
            summary.update("Missing: " + ", ".join(missing) + ". You can still go on: each "
                           "step says what it needs.")
        else:
            summary.update("Ready for every step. Press ctrl+n (Next) to choose the model.")
