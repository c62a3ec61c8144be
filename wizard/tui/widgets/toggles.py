"""Checkbox and radio button whose state shows as a character, not only as a colour, so
they read the same under NO_COLOR and in a captured terminal."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox, RadioButton


class Tick(Checkbox):
    """A checkbox showing ✓ when on, a blank when off."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "✓" if self.value else " "
        return super()._button


class Choice(RadioButton):
    """A radio button showing ● when chosen, a blank otherwise."""

    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "●" if self.value else " "
        return super()._button
