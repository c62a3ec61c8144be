"""Typing stays instant (issue 12): a field's value is checked once per change, after a
short pause in typing, not several times on every key press; and the check's message is
the core's, for the value as typed."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import Input, Static
from tui_support import COMPLETE, run_async, settle, write_answers

from wizard.tui.app import create_app
from wizard.tui.widgets import validation
from wizard.tui.widgets.field import Field

SIZE = (100, 32)
TYPED = "objectnetwizardtest/torch:"


def _keys(text: str) -> list[str]:
    names = {"/": "slash", ":": "colon"}
    return [names.get(ch, ch) for ch in text]


@run_async
async def test_a_field_is_checked_once_per_change_not_per_key(project: Path,
                                                             monkeypatch) -> None:
    checked: list[object] = []
    field_error = validation.field_error

    def counted(name: str, value: object) -> str | None:
        if name == "base_image":
            checked.append(value)
        return field_error(name, value)

    monkeypatch.setattr(validation, "field_error", counted)
    # A pause longer than any gap between two keys on a busy test machine.
    monkeypatch.setattr(Field, "DEBOUNCE", 1.0, raising=False)
    answers = {key: value for key, value in COMPLETE.items() if key != "base_image"}
    path = project / "answers.toml"
    from wizard.answers_file import save_answers

    save_answers(answers, path)
    app = create_app(path, project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "base_image"
        field = app.screen.query_one("#input-base_image", Input)
        field.focus()
        field.value = ""  # the suggested image, filled in once the checkpoint was read
        await pilot.pause(Field.DEBOUNCE + 0.2)
        checked.clear()
        slowest = 0.0
        for key in _keys(TYPED):
            started = time.perf_counter()
            await pilot.press(key)
            slowest = max(slowest, time.perf_counter() - started)
        await pilot.pause(Field.DEBOUNCE + 0.2)
        assert app.session.draft["base_image"] == TYPED
        assert len(checked) <= 2, f"{len(checked)} checks for {len(TYPED)} keys"
        note = str(app.screen.query_one("#field-base_image .field-note", Static).content)
        assert note.startswith("✗") and "not a Docker image reference" in note
        print(f"slowest key press: {slowest * 1000:.1f} ms")


@run_async
async def test_a_valid_answer_clears_the_error_after_the_pause(project: Path) -> None:
    write_answers(project / "answers.toml", tag="bad tag")
    app = create_app(project / "answers.toml", project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.STEP == "registry"
        field = app.screen.query_one("#field-tag", Field)
        assert field.error() is not None
        field.input.focus()
        field.input.value = ""
        await pilot.press("v", "2")
        await pilot.pause(Field.DEBOUNCE + 0.2)
        assert field.error() is None and app.session.draft["tag"] == "v2"


@run_async
async def test_the_radio_cursor_starts_on_the_chosen_mode(project: Path) -> None:
    write_answers(project / "answers.toml")
    app = create_app(project / "answers.toml", project)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("settings")
        await settle(pilot)
        assert app.session.draft["convert_outputs_mode"] == 1
        app.screen.query_one("#convert-mode").focus()
        await pilot.press("space")  # presses the button under the cursor
        await pilot.pause()
        assert app.session.draft["convert_outputs_mode"] == 1
