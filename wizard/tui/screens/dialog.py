"""The wizard's dialogs close once.

Textual's `dismiss` pops whatever screen is on top. Keys typed fast (or pasted) reach a
dialog after its first answer and before it is gone, so a second answer popped the step
beneath it (a blank screen) and a third raised ScreenStackError. The first answer wins.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose first dismiss is its answer; later ones do nothing."""

    answered = False

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if self.answered:
            return AwaitComplete()
        self.answered = True
        return super().dismiss(result)
