"""The command palette's wizard commands (ctrl+p): go to any step, the step's own action,
next and previous, save, save and quit, and the key list. Each does what its key does, so
going forward by the palette follows the rules Next follows."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from wizard.tui.screens.base import StepScreen
from wizard.tui.screens.jump import step_key

if TYPE_CHECKING:
    from wizard.tui.app import WizardApp

RUN_KEY = "ctrl+r"


class WizardCommands(Provider):
    """The wizard's steps and actions, for the screen the palette was opened on."""

    def commands(self) -> list[tuple[str, Callable[[], object], str]]:
        """(name, what it calls, help) of every command, in the order they are listed."""
        app = cast("WizardApp", self.app)
        found: list[tuple[str, Callable[[], object], str]] = []
        screen = self.screen
        if isinstance(screen, StepScreen):
            for binding in screen.BINDINGS:
                if isinstance(binding, Binding) and binding.key == RUN_KEY:
                    found.append((f"{binding.description} ({RUN_KEY})",
                                  functools.partial(screen.run_action, binding.action),
                                  f"this step's action: {binding.tooltip or binding.description}"))
        for index, (key, label) in enumerate(app.step_labels()):
            number = step_key(index)
            found.append((f"Go to step {number}: {label}", functools.partial(app.go_to_step, key),
                          f"ctrl+g {number}; going forward stops at a step not yet done"))
        found += [
            ("Next step (ctrl+n)", app.action_next, "check this step, then go to the next"),
            ("Previous step (ctrl+b)", app.action_back, "go back one step"),
            ("Save answers (ctrl+s)", app.action_save,
             f"write the answers to {app.session.show_path(app.session.answers_path)}"),
            ("Save and quit", app.action_save_and_quit,
             "write the answers, then quit (stays if they cannot be written)"),
            ("Keys (F1)", app.action_help, "list every key"),
        ]
        return found

    async def discover(self) -> Hits:
        for name, command, help_text in self.commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, command, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)
