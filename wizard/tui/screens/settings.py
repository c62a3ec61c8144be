"""Step 4: how the engine runs in the image: batch size, workers, GPUs, softmax, how
outputs become ObjectNet ids (one line on each mode), and precision."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Label, RadioButton, RadioSet, Static

from wizard.tui.screens.base import StepScreen
from wizard.tui.widgets.field import Field
from wizard.tui.widgets.toggles import Choice, Tick
from wizard.tui.widgets.validation import number_value

MODES = (
    (0, "0  the model's own class ids, as they are (trained on ObjectNet ids)"),
    (1, "1  ImageNet top-5, each id mapped to ObjectNet or -1: the demo's way"),
    (2, "2  ImageNet scores pooled onto ObjectNet's 113 classes, then top-5"),
)
PRECISIONS = (
    ("fp32", "fp32 exact"),
    ("bf16", "bf16 faster"),
    ("fp16", "fp16 faster"),
)


class SettingsScreen(StepScreen):
    STEP = "settings"
    TITLE = "Run settings"
    INTRO = "How the engine runs inside the image. The defaults suit most models."

    def __init__(self) -> None:
        super().__init__()
        self._loading = False

    def compose_body(self) -> ComposeResult:
        yield Field("batch_size", "Batch size", value=self.answer("batch_size"),
                    convert=number_value, hint="images per batch and per GPU (default 96)")
        yield Field("workers", "Loader workers", value=self.answer("workers"),
                    convert=number_value, placeholder="every CPU",
                    hint="blank: every CPU; 0: load images in the main process")
        yield Field("gpus", "GPUs", value=self.answer("gpus"), convert=number_value,
                    placeholder="every visible GPU",
                    hint="blank: every visible GPU (else the CPU); 0: the CPU")
        yield Tick("softmax: turn the model's outputs into probabilities",
                       self.answer("softmax") is not False, compact=True, id="softmax")
        yield Label("Output ids (convert_outputs_mode)", classes="group-label")
        with RadioSet(id="convert-mode", compact=True):
            for mode, text in MODES:
                yield Choice(text, self.answer("convert_outputs_mode") == mode,
                                  compact=True, id=f"mode-{mode}")
        yield Label("Precision", classes="group-label")
        with RadioSet(id="precision", compact=True):
            for value, text in PRECISIONS:
                yield Choice(text, self.answer("precision") == value, compact=True,
                                  id=f"precision-{value}")
        yield Static("bf16 and fp16 use autocast on GPUs: faster, may change a few "
                     "predictions", classes="note", markup=False)

    def refresh_from_draft(self) -> None:
        self._loading = True
        try:
            self.query_one("#softmax", Checkbox).value = self.answer("softmax") is not False
            mode = self.answer("convert_outputs_mode")
            if mode in (0, 1, 2):
                self.query_one(f"#mode-{mode}", RadioButton).value = True
            precision = self.answer("precision")
            if precision in ("fp32", "bf16", "fp16"):
                self.query_one(f"#precision-{precision}", RadioButton).value = True
        finally:
            self.call_after_refresh(self._loaded)

    def _loaded(self) -> None:
        self._loading = False

    @on(Checkbox.Changed, "#softmax")
    def _softmax(self, event: Checkbox.Changed) -> None:
        if not self._loading:
            self.session.set("softmax", event.value)

    @on(RadioSet.Changed, "#convert-mode")
    def _mode(self, event: RadioSet.Changed) -> None:
        if not self._loading:
            self.session.set("convert_outputs_mode", event.index)

    @on(RadioSet.Changed, "#precision")
    def _precision(self, event: RadioSet.Changed) -> None:
        if not self._loading:
            self.session.set("precision", PRECISIONS[event.index][0])
