"""Step 3: the image to build on. The table of official pytorch/pytorch images is
filterable; the one that suits the checkpoint's torch is starred, with the reason; any
other image reference may be typed, and is checked against the checkpoint as you type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState

from wizard import base_images, findings
from wizard.tui.screens.base import StepScreen
from wizard.tui.widgets.field import Field

STAR = "★"


class BaseImageScreen(StepScreen):
    STEP = "base_image"
    TITLE = "Base image"
    INTRO = "The image your model runs on: it brings Python, torch and CUDA."

    def __init__(self) -> None:
        super().__init__()
        self.torch_version: str | None = None
        self.suggested: base_images.BaseImage | None = None
        self._checkpoint: Path | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("… reading the checkpoint to suggest an image", id="suggestion",
                     markup=False)
        yield Field("base_image", "Base image", value=self.answer("base_image"),
                    hint="pick a row below (enter), or type any image with torch")
        yield Static("", id="image-warnings", markup=False)
        yield Input(placeholder="filter the table, e.g. 2.3 or cuda12", compact=True,
                    id="image-filter")
        table: DataTable[Any] = DataTable(cursor_type="row", id="image-table")
        table.add_columns(" ", "image", "torch", "CUDA", "Python")
        yield table

    def on_mount(self) -> None:
        self._fill_table("")

    def refresh_from_draft(self) -> None:
        checkpoint = None
        if self.answer("model_dir") and self.answer("checkpoint"):
            checkpoint = (self.session.project_root / self.answer("model_dir")
                          / self.answer("checkpoint"))
        if checkpoint != self._checkpoint or self.suggested is None:
            self._checkpoint = checkpoint
            self._suggest(checkpoint)
        self._show_warnings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="suggest")
    def _suggest(self, checkpoint: Path | None) -> tuple[str | None, str]:
        from wizard.checkpoint_info import checkpoint_torch  # reads engine/: not at start-up

        return checkpoint_torch(checkpoint)

    @on(Worker.StateChanged)
    def _suggested(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "suggest" or event.state not in (WorkerState.SUCCESS,
                                                                   WorkerState.ERROR):
            return
        suggestion = self.query_one("#suggestion", Static)
        if event.state == WorkerState.ERROR or event.worker.result is None:
            suggestion.update(f"no suggestion: {event.worker.error}")
            return
        version, why = event.worker.result
        if version is None:
            suggestion.update("no suggestion: torch is not installed here and the "
                              "checkpoint records no version; pick the torch you trained with")
            return
        self.torch_version = version
        try:
            self.suggested = base_images.suggest(version)
        except ValueError as error:
            suggestion.update(f"no suggestion: {error}")
            return
        image = self.suggested
        same = image.torch_version[:2] == base_images.parse_version(version)[:2]
        match = ("the same torch" if same
                 else f"the nearest torch the engine runs on ({image.torch})")
        cuda = f"; CUDA {image.cuda} runs on NVIDIA drivers R525 and newer" if image.cuda else ""
        suggestion.update(Text.assemble(
            (f"{STAR} {image.ref}", "bold"), f"\nwhy: {self.session.short(why)}; it has "
            f"{match}{cuda}. ", (base_images.cpu_note(), "italic")))
        self._fill_table(self.query_one("#image-filter", Input).value)
        field = self.query_one("#field-base_image", Field)
        if not self.answer("base_image"):
            field.set_value(image.ref)
        self._show_warnings()

    def _fill_table(self, text: str) -> None:
        table = self.query_one("#image-table", DataTable)
        table.clear()
        words = text.lower().split()
        cursor = None
        for image in reversed(base_images.load_table()):
            haystack = f"{image.ref} torch {image.torch} cuda{image.cuda} python{image.python}"
            if not all(word in haystack.lower() for word in words):
                continue
            if image == self.suggested:
                mark, style = STAR, "bold"
                cursor = table.row_count
            elif not image.engine_supported:
                mark, style = "✗", "dim"
            else:
                mark, style = "", ""
            table.add_row(Text(mark, style=style), Text(image.ref, style=style),
                          Text(image.torch, style=style), Text(image.cuda or "-", style=style),
                          Text(image.python, style=style), key=image.ref)
        if cursor is not None:
            table.move_cursor(row=cursor)

    @on(Input.Changed, "#image-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self._fill_table(event.value)

    @on(DataTable.RowSelected, "#image-table")
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.query_one("#field-base_image", Field).set_value(event.row_key.value)

    def answer_changed(self, name: str) -> None:
        self._show_warnings()

    def _show_warnings(self) -> None:
        field = self.query_one("#field-base_image", Field)
        warnings = self.query_one("#image-warnings", Static)
        ref = self.answer("base_image")
        if not ref or field.error() is not None:
            warnings.update("")
            return
        found = findings.base_image(ref, self.torch_version)
        warnings.update("\n".join(f"{f.mark} {f.shown}" for f in found))
