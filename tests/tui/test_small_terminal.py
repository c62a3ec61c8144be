"""The wizard at 60x20 (issue 12): every part of a step can be reached; a body taller
than the terminal scrolls instead of cutting its last widgets off."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable
from tui_support import run_async, settle, write_answers

from wizard.tui.app import create_app


@run_async
async def test_the_base_image_table_can_be_reached_at_60x20(project: Path) -> None:
    write_answers(project / "answers.toml")
    app = create_app(project / "answers.toml", project)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot)
        app.go("base_image")
        await settle(pilot)
        table = app.screen.query_one("#image-table", DataTable)
        table.focus()
        await settle(pilot, 0.3)
        body = app.screen.query_one("#step-body")
        visible = table.region.intersection(body.region)
        assert visible.height >= 2, (table.region, body.region)


@run_async
async def test_the_smoke_progress_line_is_read_whole_at_80_and_60_columns(project: Path
                                                                        ) -> None:
    """The speed beside the bar was cut at 80x24 ("… 123.4 img/s wi") and at 60x20 (hostile
    testing, issue 12): where it does not fit beside the bar, it wraps below it."""
    import time

    from tui_support import screen_text

    write_answers(project / "answers.toml")
    for size in ((80, 24), (60, 20)):
        app = create_app(project / "answers.toml", project)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            app.go("smoke")
            await settle(pilot)
            app.screen.query_one(".stage-progress").display = True
            app.screen._run_started = time.monotonic() - 1.3
            app.screen.progress(150, 160)
            await settle(pilot)
            shown = " ".join(screen_text(app).split())
            assert "150/160 images · " in shown, (size, shown)
            assert "img/s with start-up" in shown, (size, shown)
