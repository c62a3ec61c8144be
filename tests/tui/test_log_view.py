"""The log view never hides text (issue 12): long lines wrap inside the room left by the
vertical scrollbar, so no column goes under it and no horizontal scrollbar appears."""

from __future__ import annotations

from textual.app import App, ComposeResult
from tui_support import run_async

from wizard.tui.widgets.log_view import LogView


class _LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="log")


@run_async
async def test_long_lines_wrap_clear_of_the_scrollbar() -> None:
    app = _LogApp()
    async with app.run_test(size=(60, 12)) as pilot:
        log = app.query_one(LogView)
        words = " ".join(f"word{n:03d}" for n in range(40))
        log.add_lines([words])  # one line first: no vertical scrollbar yet
        await pilot.pause()
        log.add_lines([f"{n}: {words}" for n in range(20)])
        await pilot.pause()
        assert log.show_vertical_scrollbar
        assert not log.show_horizontal_scrollbar
        assert log.virtual_size.width <= log.scrollable_content_region.width
