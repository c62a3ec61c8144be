"""Step 3: the image to build on. The table of official pytorch/pytorch images is
filterable; the one that suits the checkpoint's torch is starred, with the reason; any
other image reference may be typed, and is checked against the checkpoint as you type.

A worker asks Docker which images are here, which a registry serves and which cannot be had
(wizard.image_availability), and lists first the local images that carry torch: a missing
base image shows here, not when the build starts seven steps later."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from wizard import base_images, findings
from wizard.image_availability import LOCAL, PULLABLE, Availability, TorchImage
from wizard.tui.screens.base import StepScreen
from wizard.tui.widgets.field import Field

STAR = "★"
WHERE = {LOCAL: "●", PULLABLE: "↓"}
"""The table's "here" column; an image that cannot be had gets UNAVAILABLE_MARK."""
UNAVAILABLE_MARK = "○"
ASKING = "… asking Docker which of these images are here"


class SourceFound(Message):
    """Where one image can come from (posted by the availability worker)."""

    def __init__(self, found: Availability) -> None:
        super().__init__()
        self.found = found


class TorchImagesFound(Message):
    """The local images not in the table that carry torch."""

    def __init__(self, images: Sequence[TorchImage]) -> None:
        super().__init__()
        self.images = list(images)


class SourcesUnknown(Message):
    """Docker could not be asked; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class BaseImageScreen(StepScreen):
    STEP = "base_image"
    TITLE = "Base image"
    INTRO = "The image your model runs on: it brings Python, torch and CUDA."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "recheck", "Check again", tooltip="ask Docker again which images "
                "are here (after a docker load or pull)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.torch_version: str | None = None
        self.suggested: base_images.BaseImage | None = None
        self._checkpoint: Path | None = None
        self.sources: dict[str, Availability] = {}
        """Where each image asked about can come from (the table's and the answer's)."""
        self.torch_images: list[TorchImage] = []
        self.sources_problem: str | None = None
        self._asked = False

    def compose_body(self) -> ComposeResult:
        yield Static("… reading the checkpoint to suggest an image", id="suggestion",
                     markup=False)
        yield Field("base_image", "Base image", value=self.answer("base_image"),
                    hint="pick a row below (enter), or type any image with torch")
        yield Static("", id="image-warnings", markup=False)
        yield Input(placeholder="filter the table, e.g. 2.3 or cuda12", compact=True,
                    id="image-filter")
        yield Static(ASKING, id="image-sources", markup=False)
        table: DataTable[Any] = DataTable(cursor_type="row", id="image-table")
        table.add_column(" ", key="mark")
        table.add_column(" ", key="here")
        table.add_columns("image", "torch", "CUDA", "Python")
        yield table

    def on_mount(self) -> None:
        self._fill_table("")

    # -- which images can be had -----------------------------------------------------------

    def action_recheck(self) -> None:
        self.sources.clear()
        self.torch_images = []
        self.sources_problem = None
        self.query_one("#image-sources", Static).update(ASKING)
        self._fill_table(self.query_one("#image-filter", Input).value)
        self._show_warnings()
        self._ask_sources()

    def _ask_sources(self) -> None:
        refs = [self.answer("base_image"), self.suggested.ref if self.suggested else None,
                *(image.ref for image in reversed(base_images.load_table()))]
        self._asked = True
        self._check_sources([ref for ref in refs if ref and self._valid_ref(ref)], True)

    def _valid_ref(self, ref: str) -> bool:
        from wizard import validators

        try:
            validators.image_ref(ref)
        except ValueError:
            return False
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="sources")
    def _check_sources(self, refs: list[str], find_torch: bool) -> None:
        self._ask_docker(refs, find_torch)

    @work(thread=True, exclusive=True, exit_on_error=False, group="source-typed")
    def _check_typed(self, ref: str) -> None:
        self._ask_docker([ref], False)

    def _ask_docker(self, refs: list[str], find_torch: bool) -> None:
        """Ask Docker where each image can come from, posting each answer as it comes, then
        (find_torch) which local images carry torch. Runs in a worker thread: a registry may
        take seconds to answer, and a key press must never wait for it."""
        from wizard.docker_events import DockerError
        from wizard.image_availability import availability, local_torch_images
        from wizard.samples import default_cache_dir

        try:
            docker = self.session.docker_factory()
        except DockerError:
            self.post_message(SourcesUnknown("Docker does not answer, so which images are here "
                                             "is not known (step 1 says why)"))
            return
        worker = get_current_worker()
        try:
            for found in availability(docker, refs):
                if worker.is_cancelled:  # ctrl+r started a new search
                    return
                self.post_message(SourceFound(found))
            if find_torch and not worker.is_cancelled:
                self.post_message(TorchImagesFound(local_torch_images(
                    docker, default_cache_dir(),
                    skip=lambda ref: base_images.find(ref) is not None)))
        except DockerError as error:
            self.post_message(SourcesUnknown(str(error)))
        finally:
            docker.close()

    @on(SourceFound)
    def _source_found(self, event: SourceFound) -> None:
        found = event.found
        self.sources[found.ref] = found
        table = self.query_one("#image-table", DataTable)
        if found.ref in table.rows:
            table.update_cell(found.ref, "here", self._where(found.ref))
        if found.ref == self.answer("base_image"):
            self._show_warnings()
        self._show_sources()

    @on(TorchImagesFound)
    def _torch_images_found(self, event: TorchImagesFound) -> None:
        self.torch_images = event.images
        for image in self.torch_images:
            self.sources[image.ref] = Availability(image.ref, LOCAL)
        self._fill_table(self.query_one("#image-filter", Input).value)
        self._show_sources()
        self._show_warnings()

    @on(SourcesUnknown)
    def _sources_unknown(self, event: SourcesUnknown) -> None:
        self.sources_problem = event.reason
        self._show_sources()

    def _where(self, ref: str) -> Text:
        found = self.sources.get(ref)
        if found is None:
            return Text(" ")
        mark = WHERE.get(found.state, UNAVAILABLE_MARK)
        return Text(mark, style={LOCAL: "bold", PULLABLE: ""}.get(found.state, "dim"))

    def _show_sources(self) -> None:
        """The legend of the "here" column, with why the table's images cannot be had."""
        line = self.query_one("#image-sources", Static)
        if self.sources_problem is not None:
            line.update(f"? {self.sources_problem}")
            return
        table_refs = [image.ref for image in base_images.load_table()]
        if not all(ref in self.sources for ref in table_refs):
            line.update(ASKING)
            return
        legend = f"{WHERE[LOCAL]} here  {WHERE[PULLABLE]} can be pulled"
        unavailable = [self.sources[ref] for ref in table_refs
                       if self.sources[ref].state not in WHERE]
        if unavailable:
            legend += f"  {UNAVAILABLE_MARK} cannot be had ({unavailable[0].detail})"
        if self.torch_images:
            count = len(self.torch_images)
            legend += (f"\n{count} image{'s' if count > 1 else ''} here with torch, not in "
                       "the table: listed first")
        line.update(legend)

    # -- the suggestion ----------------------------------------------------------------------

    def refresh_from_draft(self) -> None:
        checkpoint = None
        if self.answer("model_dir") and self.answer("checkpoint"):
            checkpoint = (self.session.project_root / self.answer("model_dir")
                          / self.answer("checkpoint"))
        if checkpoint != self._checkpoint or self.suggested is None:
            self._checkpoint = checkpoint
            self._suggest(checkpoint)
        if not self._asked:
            self._ask_sources()
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
        for local in self.torch_images:
            haystack = f"{local.ref} torch {local.torch} cuda{local.cuda} python{local.python}"
            if all(word in haystack.lower() for word in words):
                table.add_row(Text(""), self._where(local.ref), Text(local.ref),
                              Text(local.torch), Text(local.cuda or "?"),
                              Text(local.python or "?"), key=local.ref)
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
            table.add_row(Text(mark, style=style), self._where(image.ref),
                          Text(image.ref, style=style),
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
        ref = self.answer("base_image")
        if ref and ref not in self.sources and self._asked and self._valid_ref(ref):
            self._check_typed(ref)
        self._show_warnings()

    def _show_warnings(self) -> None:
        field = self.query_one("#field-base_image", Field)
        warnings = self.query_one("#image-warnings", Static)
        ref = self.answer("base_image")
        if not ref or field.error() is not None:
            warnings.update("")
            return
        local = next((i for i in self.torch_images if i.ref == ref), None)
        if local is not None and base_images.find(ref) is None:
            # Not in the table, but found here with torch: that is what is known of it.
            python = f", Python {local.python}" if local.python else ""
            lines = [f"✓ torch {local.torch}{python} ({local.evidence})"]
        else:
            lines = [f"{f.mark} {f.shown}" for f in findings.base_image(ref, self.torch_version)]
        source = self.sources.get(ref)
        if source is not None:
            lines.append(f"{'✓' if source.state in WHERE else '!'} {source.describe()}")
        warnings.update("\n".join(lines))
