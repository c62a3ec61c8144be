"""Step 10: the pipeline's push stage: log in (the token is typed into a password field or
taken from SYNAPSE_AUTH_TOKEN, used once, never shown, logged or saved), push, and show the
digest the challenge will pull."""

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
        self.digest = str(result)
        pipeline = self.wizard.pipeline()
        record = ""
        if pipeline is not None and pipeline.state.record is not None:
            record = f"\nsubmission record: {self.session.show_path(pipeline.state.record)}"
        answers = self.session.answers()
        reference = answers.image_reference() if answers is not None else ""
        self.show_outcome(f"✓ pushed {reference}\ndigest: {self.digest}{record}")
