"""Step 10: the pipeline's push stage: log in (the token is typed into a password field or
taken from SYNAPSE_AUTH_TOKEN, used once, never shown, logged or saved), push, verify, and end
on the finish screen: the receipt from the submission record and the pinned reference to
submit."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Static

from wizard.answers import TOKEN_ENV_VAR
from wizard.tui.screens.stage import StageScreen
from wizard.tui.widgets.log_view import LogView

USERNAME_ENV_VAR = "SYNAPSE_USERNAME"


class PushScreen(StageScreen):
    STEP = "push"
    RUN_BUTTON = "push-run"
    TITLE = "Push"
    INTRO = "Log in to the registry with your Synapse user name and a personal access token."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "push", "Push")]

    def __init__(self) -> None:
        super().__init__()
        self.digest: str | None = None

    def compose_body(self) -> ComposeResult:
        from_env = bool(os.environ.get(TOKEN_ENV_VAR))
        yield Static("", id="push-target", markup=False)
        with Horizontal(classes="row"):
            yield Label("User name", classes="field-label")
            yield Input(os.environ.get(USERNAME_ENV_VAR, ""), compact=True, id="username")
        with Horizontal(classes="row"):
            yield Label("Access token", classes="field-label")
            yield Input(password=True, compact=True, id="token",
                        placeholder=f"(from ${TOKEN_ENV_VAR})" if from_env else "")
        yield Static("The token is used for this login only: never shown, logged or saved.",
                     classes="note", markup=False)
        yield Button("Push (ctrl+r)", id="push-run", compact=True, variant="primary")
        yield Static("", id="stage-outcome", markup=False)
        yield LogView(id="stage-log")

    def refresh_from_draft(self) -> None:
        answers = self.session.answers()
        target = self.query_one("#push-target", Static)
        if answers is None:
            self.ready_pipeline()
            target.update("")
        else:
            target.update(f"Pushes {answers.image_reference()}")

    def missing_input(self) -> Input | None:
        for name in ("username", "token"):
            field = self.query_one(f"#{name}", Input)
            if not field.value and not (name == "token" and os.environ.get(TOKEN_ENV_VAR)):
                return field
        return None

    @on(Input.Submitted, "#token")
    def _token_entered(self, event: Input.Submitted) -> None:
        event.prevent_default()  # not the base screen's "enter moves on"
        self.action_push()

    @on(Button.Pressed, "#push-run")
    def _run_pressed(self) -> None:
        self.action_push()

    def action_push(self) -> None:
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        username = self.query_one("#username", Input).value.strip()
        token_input = self.query_one("#token", Input)
        token = token_input.value or os.environ.get(TOKEN_ENV_VAR, "")
        token_input.value = ""
        if not username or not token:
            self.show_outcome(f"✗ pushing needs your Synapse user name and a personal access "
                              f"token (typed here, or in ${TOKEN_ENV_VAR})", error=True)
            self.query_one("#username" if not username else "#token", Input).focus()
            return
        self.digest = None
        if self.start("the push", lambda: pipeline.push(username, token)):
            self.show_outcome("… logging in and pushing")

    def stage_done(self, result: Any) -> None:
        from wizard.errors import WizardError
        from wizard.receipt import receipt_of
        from wizard.submission import read_submissions

        self.digest = str(result)
        pipeline = self.wizard.pipeline()
        path = pipeline.state.record if pipeline is not None else None
        answers = self.session.answers()
        reference = answers.image_reference() if answers is not None else ""
        if path is None:
            self.show_outcome(f"✓ pushed {reference}\ndigest: {self.digest}")
            return
        record_name = self.session.show_path(path)
        try:
            newest = read_submissions(path)[-1]
        except (WizardError, IndexError) as error:
            self.show_outcome(f"✓ pushed {reference}\ndigest: {self.digest}\n✗ the record "
                              f"{record_name} cannot be read back: {error}", error=True)
            return
        receipt = receipt_of(newest)
        self.show_outcome(f"✓ pushed {newest.pinned_reference}\nsubmission record: "
                          f"{record_name}")
        self.wizard.show_receipt(receipt, record_name)
