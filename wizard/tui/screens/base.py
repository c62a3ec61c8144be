"""What every step screen shares: the step bar, a title, a scrolling body, the status line
with Back/Next, and the footer; plus the answers fields' plumbing into the app's draft."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from wizard.tui.widgets.field import Field
from wizard.tui.widgets.step_bar import StepBar

if TYPE_CHECKING:
    from wizard.session import Session
    from wizard.tui.app import WizardApp


class StepBody(VerticalScroll, can_focus=False):
    """The scrolling body of a step: the fields take the focus, not the container."""


class StepScreen(Screen):
    """A step of the wizard. Subclasses set STEP, TITLE, INTRO, compose the body in
    compose_body(), and may override refresh_from_draft() (called whenever the screen is
    shown) and commit() (called on Next: True lets the user go on)."""

    STEP: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    INTRO: ClassVar[str] = ""

    @property
    def wizard(self) -> WizardApp:
        return cast("WizardApp", self.app)

    @property
    def session(self) -> Session:
        """The core session: the draft answers, saving and the pipeline."""
        return self.wizard.session

    def compose(self) -> ComposeResult:
        number, total = self.wizard.step_number(self.STEP)
        yield StepBar(self.wizard.step_labels(), self.STEP, id="step-bar")
        yield Static(f"Step {number} of {total} · {self.TITLE}", id="step-title", markup=False)
        if self.INTRO:
            yield Static(self.INTRO, id="step-intro", markup=False)
        with StepBody(id="step-body"):
            yield from self.compose_body()
        with Horizontal(id="step-nav"):
            yield Static("", id="step-status", markup=False)
            yield Button("‹ Back", id="nav-back", compact=True, disabled=number == 1)
            yield Button("Next ›", id="nav-next", compact=True, variant="primary",
                         disabled=number == total)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.refresh_from_draft()

    def refresh_from_draft(self) -> None:
        """Bring the screen up to date with the draft answers (they may have changed on
        another step, or been loaded from a file)."""

    def commit(self) -> bool:
        """Check this step's fields before going on; show each error next to its field and
        focus the first one. Returns True when the step is complete."""
        fields = list(self.query(Field))
        bad = [field for field in fields if not field.check()]
        if bad:
            bad[0].input.focus()
            self.set_status(f"✗ fix {len(bad)} field(s) to go on", error=True)
            return False
        return True

    def set_status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#step-status", Static)
        if str(status.content) == text and status.has_class("-error") == error:
            return  # every key press clears the status: a no-op must not cost a layout pass
        status.update(text)
        status.set_class(error, "-error")

    # -- answers fields ------------------------------------------------------------------

    def answer(self, name: str) -> Any:
        return self.session.draft.get(name)

    @on(Field.Changed)
    def _field_changed(self, event: Field.Changed) -> None:
        if isinstance(event, Field.Settled):
            self.answer_changed(event.field.field_name)
            return
        self.session.set(event.field.field_name, event.value)
        self.set_status("")

    def answer_changed(self, name: str) -> None:
        """A field of this screen changed and typing paused (Field.DEBOUNCE); the draft
        already holds the new value."""

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field, and from the last one to the next step, so the
        keyboard alone goes through the wizard."""
        inputs = [widget for widget in self.query(Input) if widget.display and
                  not widget.disabled]
        if event.input in inputs and event.input is not inputs[-1]:
            inputs[inputs.index(event.input) + 1].focus()
        else:
            self.wizard.action_next()

    @on(Button.Pressed, "#nav-next")
    def _next(self) -> None:
        self.wizard.action_next()

    @on(Button.Pressed, "#nav-back")
    async def _back(self) -> None:
        await self.wizard.action_back()
