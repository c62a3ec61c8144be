"""Screens that run a pipeline stage (review, smoke runs, build, push).

The stage runs in a thread worker (the pipeline is blocking code). Its events reach the
screen through an EventRelay: the worker thread appends each event to a list and posts one
PipelineEvents message when the list was empty; the screen drains the whole list when the
message arrives. Lines that arrive while the UI is busy are thus written in one batch, in
order, and the UI never sees one message per log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, ProgressBar, Static
from textual.worker import Worker, WorkerState

from wizard.errors import error_text
from wizard.events import Progress, StageFinished, StageWarning, describe_event
from wizard.tui.screens.base import StepScreen
from wizard.tui.screens.choice import Choice, ChoiceScreen
from wizard.tui.widgets.log_view import LogView

STAGE_GROUP = "pipeline"
"""Worker group of every pipeline stage: one stage runs at a time across all screens."""


class PipelineEvents(Message):
    """Events are waiting in the relay: drain them."""


MARKS = {"title": "── ", "done": "✓ ", "skipped": "- ", "warning": "! ", "log": ""}
"""How the log view marks each kind of event."""


class EventRelay:
    """Called by the pipeline from the worker thread; collects events for `target`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Any] = []
        self.target: MessagePump | None = None

    def __call__(self, event: Any) -> None:
        with self._lock:
            self._pending.append(event)
            wake = len(self._pending) == 1
            target = self.target
        if wake and target is not None:
            target.post_message(PipelineEvents())

    def drain(self) -> list[Any]:
        with self._lock:
            events, self._pending = self._pending, []
        return events


def result_text(result: Any, summary: str, short: Callable[[str], str]) -> str:
    """A stage's result for the screen: the pipeline's summary of it (all it reported: the
    smoke runs' speed, estimate and verdict, with the precision agreement where there is
    one), else the result's own lines()."""
    if summary:
        return summary
    lines = getattr(result, "lines", None)
    if callable(lines):
        return "\n".join(short(line) for line in lines())
    return short(str(result))


def rate_line(done: int, total: int, elapsed: float) -> str:
    """Progress with the speed so far; the finished run reports the steady speed and the
    estimate for the whole test set."""
    text = f"{done}/{total} images"
    if done and elapsed > 0:
        text += f" · {done / elapsed:.1f} img/s with start-up"
    return text


SKIP_CHOICES = [Choice("run", "Run it", "r", "primary"), Choice("skip", "Skip", "s"),
                Choice("cancel", "Cancel", "escape")]
FAILED_CHOICES = [Choice("run", "Run it again", "r", "primary"),
                  Choice("skip", "Go on without it", "g"), Choice("cancel", "Cancel", "escape")]


def elapsed_line(label: str, seconds: float) -> str:
    """The sign of life under a running stage: what runs, for how long, how to stop it."""
    minutes, secs = divmod(int(seconds), 60)
    return f"… {label}: {minutes}:{secs:02d} · esc cancels"


class StageScreen(StepScreen):
    """A step that runs pipeline stages. Subclasses call start(stage_name, call) and handle
    the events (handle_events) and the outcome (stage_done / stage_failed). While a stage
    runs, the status line shows its elapsed time, and Esc cancels it (the pipeline's cancel
    event, which every long stage honours)."""

    STAGE: ClassVar[str] = ""
    """The pipeline stage this step runs: its summary is the step's outcome line, so the
    log does not repeat it."""
    RUN_BUTTON: ClassVar[str] = ""
    """The id of the button that runs the stage: it has the focus whenever the step is
    shown, so Enter runs it."""
    SKIP_QUESTION: ClassVar[str] = ""
    """Asked on Next when the stage never ran (the smoke tests): run it, skip it, stay."""
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.last_error: str | None = None
        self.warnings: list[str] = []
        self.summary = ""
        """The pipeline's one-line summary of the last finished stage."""
        self._started = 0.0
        self._label = ""
        self._ticker: Timer | None = None
        self._run_started = 0.0
        self._done = 0
        self._skipped: Any = None
        """The answers the user chose to skip this stage for."""

    def on_mount(self) -> None:
        self.hide_progress()

    def hide_progress(self) -> None:
        """The progress row is shown while a run goes on: idle, its bar would animate (and
        snapshots hold no clocks); after the run, the outcome and the log say it all."""
        for row in self.query(".stage-progress"):
            row.display = False

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        missing = self.missing_input()
        if missing is not None:
            missing.focus()
        elif self.RUN_BUTTON:
            button = self.query_one(f"#{self.RUN_BUTTON}", Button)
            if button.focusable:
                button.focus()

    def missing_input(self) -> Widget | None:
        """An input the stage cannot run without that is still empty (the push's user
        name): it gets the focus instead of the Run button."""
        return None

    # -- Next before a stage that never ran ------------------------------------------------

    def has_run(self) -> bool:
        """Whether the stage ran (or runs now) on the current answers; failing counts."""
        return True

    def commit(self) -> bool:
        if not super().commit():
            return False
        if (not self.SKIP_QUESTION or self.running
                or self._skipped == self.session.answers()):
            return True
        if self.last_error is not None:
            # Failed (or cancelled): going on quietly read as if it had passed.
            question = (f"{self.TITLE} did not pass: {self.last_error.splitlines()[0]}. "
                        "Run it again, or go on without it?")
            choices = FAILED_CHOICES
        elif not self.has_run():
            question, choices = self.SKIP_QUESTION, SKIP_CHOICES
        else:
            return True
        self.app.push_screen(ChoiceScreen(question, choices), self._skip_answer)
        return False

    def _skip_answer(self, choice: str | None) -> None:
        if choice == "run":
            self.query_one(f"#{self.RUN_BUTTON}", Button).press()
        elif choice == "skip":
            self._skipped = self.session.answers()  # asked once for these answers
            self.wizard.action_next()

    def start(self, label: str, call: Callable[[], Any]) -> bool:
        """Run `call` (which uses the app's pipeline) in a worker; refuse when another
        stage is running, since the pipeline holds one run's state."""
        running = self.wizard.running_stage()
        if running is not None:
            self.set_status(f"✗ wait: {running} is still running", error=True)
            return False
        self.wizard.stage_started(self, label)
        self.running = True
        self.last_error = None
        self.warnings = []
        self.summary = ""
        self._started, self._label = time.monotonic(), label
        self._run_started, self._done = self._started, 0
        for row in self.query(".stage-progress"):
            row.display = True
        for bar in self.query(ProgressBar):
            bar.update(total=None, progress=0)
        for rate in self.query(".stage-rate").results(Static):
            rate.update("")
        self._tick()
        self._ticker = self.set_interval(1.0, self._tick)
        self._run(call)
        return True

    def _tick(self) -> None:
        if self.running:
            self.set_status(elapsed_line(self._label, time.monotonic() - self._started))

    def action_cancel(self) -> None:
        if self.running and not self.session.cancel.is_set():
            self.session.cancel.set()
            self.show_outcome(f"… cancelling {self._label}")

    @work(thread=True, exclusive=True, exit_on_error=False, group=STAGE_GROUP)
    def _run(self, call: Callable[[], Any]) -> Any:
        return call()

    @on(PipelineEvents)
    def _events(self) -> None:
        events = self.wizard.relay.drain()
        if events:
            self.handle_events(events)

    @on(Worker.StateChanged)
    def _state(self, event: Worker.StateChanged) -> None:
        if event.worker.group != STAGE_GROUP:
            return
        state = event.state
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.running = False
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.set_status("")
        self._events()  # whatever the thread emitted last
        self.hide_progress()  # failed or cancelled too: left up, its ETA went on counting
        if state == WorkerState.SUCCESS:
            self.stage_done(event.worker.result)
        else:
            error = event.worker.error
            self.last_error = error_text(error) if error else "cancelled"
            self.stage_failed(self.last_error, error)
        self.wizard.stage_finished(self)

    def ready_pipeline(self):
        """The app's pipeline, or None after saying on this step which earlier step is
        not complete yet."""
        pipeline = self.wizard.pipeline()
        if pipeline is None:
            step, first = self.session.first_incomplete() or ("model", "")
            self.show_outcome(f"✗ the {step} step is not complete: {first}. Press ctrl+b to "
                              "go back, or fix it there.", error=True)
        return pipeline

    # -- for subclasses ------------------------------------------------------------------

    def handle_events(self, events: list[Any]) -> None:
        """Show pipeline events: runs of Log lines go to the log view in one write."""
        lines: list[str] = []
        for event in events:
            described = describe_event(event)
            if isinstance(event, Progress):
                self.progress(event.done, event.total)
                continue
            if described.kind in ("log", "done", "warning"):
                text = self.session.short(described.text)
            else:
                text = described.text
            if isinstance(event, StageFinished):
                self.summary = self.session.short(event.summary)
                if event.stage == self.STAGE:
                    continue  # the outcome line shows it
            elif isinstance(event, StageWarning):
                self.warnings.append(text)
            lines.append(f"{MARKS[described.kind]}{text}")
        if lines:
            self.write_log(lines)

    def write_log(self, lines: list[str]) -> None:
        for log in self.query(LogView):
            log.add_lines(lines)

    def progress(self, done: int, total: int) -> None:
        """A Progress event (the smoke runs): the bar (its ETA from the rate so far) and
        the speed line, where the step has them."""
        if done == 0 and self._done:  # another run of the stage (the strict passes)
            self._run_started = time.monotonic()
            for bar in self.query(ProgressBar):
                bar.update(total=None)  # a fresh ETA
        self._done = done
        for bar in self.query(ProgressBar):
            bar.update(total=total, progress=done)
        for rate in self.query(".stage-rate").results(Static):
            rate.update(rate_line(done, total, time.monotonic() - self._run_started))

    def stage_done(self, result: Any) -> None:
        """The stage finished."""

    def stage_failed(self, message: str, error: BaseException | None) -> None:
        """The stage raised: show `message` on this step. Its first line is the outcome; the
        lines after it (a container's last lines) go to the end of the log, unless the log
        shows them already, so the error stays on screen at 80x24 with its details below."""
        first, *rest = message.splitlines() or [""]
        logs = list(self.query(LogView))
        shown = {line.strip() for log in logs for entry in log.text_lines[-200:]
                 for line in entry.splitlines()}
        details = [line for line in rest if line.strip() and line.strip() not in shown]
        if details:
            self.write_log(details)
        if rest and logs:
            self.show_outcome(f"✗ {first.rstrip(':')} (see the end of the log)", error=True)
        else:
            self.show_outcome(f"✗ {message}", error=True)
        self.query_one("#stage-outcome").scroll_visible(animate=False)

    def show_outcome(self, text: str, *, error: bool = False) -> None:
        """The result line of the step (`#stage-outcome`, which every stage screen has)."""
        outcome = self.query_one("#stage-outcome", Static)
        outcome.update(text)
        outcome.set_class(error, "-error")
        outcome.set_class(not error and bool(text), "-ok")
