"""Step 6: the pipeline's check and render stages. Shows the Dockerfile just written (with
syntax highlighting), the answers as TOML, what of the model folder goes into the image
(with sizes, and what is left out and why), and the checks' warnings.

The answers file is never written here unasked: the step says whether the file holds these
answers, and ctrl+s (or the Save button shown when it does not) writes it. Rewriting it
would drop the user's comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static, TabbedContent, TabPane

from wizard import model_folder
from wizard.tui.screens.stage import StageScreen

if TYPE_CHECKING:
    from rich.syntax import Syntax


def highlighted(text: str, lexer: str) -> Syntax:
    # Imported here: pygments' lexer table costs about 0.1 s, which the first screen need not pay.
    from rich.syntax import Syntax

    return Syntax(text, lexer, theme="ansi_dark", background_color="default",
                  word_wrap=True, line_numbers=True)


class ReviewScreen(StageScreen):
    STEP = "review"
    TITLE = "Review the Dockerfile"
    INTRO = "Written to the project folder from your answers; ctrl+s saves them."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "render", "Render again")]

    def __init__(self) -> None:
        super().__init__()
        self.rendered_for: Any = None
        self.dockerfile_text = ""
        self.answers_text = ""
        self.files_text = ""
        self.written = ""
        """What the last render wrote, as the outcome line names it."""
        self._force = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="stage-outcome", markup=False)
        with Horizontal(id="review-save-row"):
            yield Button("Save answers (ctrl+s)", id="review-save", compact=True)
        yield Static("", id="review-warnings", markup=False)
        with Horizontal(id="review-actions"):
            yield Button("Overwrite that Dockerfile", id="review-force", compact=True,
                         variant="warning")
        with TabbedContent(id="review-tabs"):
            with TabPane("Dockerfile", id="tab-dockerfile"), VerticalScroll():
                yield Static("", id="dockerfile")
            with TabPane("answers", id="tab-answers"), VerticalScroll():
                yield Static("", id="answers-toml")
            with TabPane("model files", id="tab-files"), VerticalScroll():
                yield Static("", id="model-files", markup=False)

    def on_mount(self) -> None:
        self.query_one("#review-actions").display = False
        self.query_one("#review-warnings").display = False
        self.query_one("#review-save-row").display = False

    def answers_saved(self) -> None:
        if self.rendered_for is not None:
            self._show_saved()

    def _show_saved(self) -> None:
        """What was written, and whether the answers file holds these answers (a Save
        button when it does not)."""
        self.show_outcome(f"✓ wrote {self.written}; {self.session.save_state()}")
        self.query_one("#review-save-row").display = not self.session.up_to_date

    @on(Button.Pressed, "#review-save")
    def _save(self) -> None:
        self.wizard.action_save()

    def refresh_from_draft(self) -> None:
        pipeline = self.wizard.pipeline()
        if pipeline is None:
            self.ready_pipeline()
            return
        if pipeline.answers != self.rendered_for and not self.running:
            self.action_render()
        elif self.rendered_for is not None:
            self._show_saved()

    def action_render(self) -> None:
        pipeline = self.ready_pipeline()
        if pipeline is None:
            return
        force, self._force = self._force, False

        def check_and_render() -> Any:
            pipeline.check()
            pipeline.render(force=force)
            return pipeline.answers

        self.show_outcome("… checking and rendering")
        self.start("rendering", check_and_render)

    def commit(self) -> bool:
        """Not past a check or render that failed: the smoke test and the build would only
        fail on the same problem, later."""
        if not super().commit():
            return False
        if self.last_error is not None and self.rendered_for is None and not self.running:
            self.set_status("✗ the review found a problem (above): fix it at its step "
                            "(ctrl+b), then ctrl+r renders again", error=True)
            return False
        return True

    @on(Button.Pressed, "#review-force")
    def _overwrite(self) -> None:
        self._force = True
        self.query_one("#review-actions").display = False
        self.action_render()

    def stage_done(self, result: Any) -> None:
        from wizard.answers_file import dumps_answers

        pipeline = self.wizard.pipeline()
        self.rendered_for = result
        root = self.session.project_root
        self.dockerfile_text = (root / "Dockerfile").read_text(encoding="utf-8")
        self.query_one("#dockerfile", Static).update(highlighted(self.dockerfile_text, "docker"))
        self.answers_text = dumps_answers(result)
        self.query_one("#answers-toml", Static).update(highlighted(self.answers_text, "toml"))
        entries = pipeline.state.model_files if pipeline else []
        self.files_text = "\n".join(model_folder.summary_lines(entries, limit=200))
        self.query_one("#model-files", Static).update(self.files_text)
        included = model_folder.included(entries)
        self.query_one("#review-tabs", TabbedContent).get_tab("tab-files").label = Text(
            f"model files ({len(included)}, "
            f"{model_folder.human_size(sum(e.size for e in included))})")
        self.written = ", ".join(self.session.show_path(p) for p in pipeline.state.rendered) \
            if pipeline else "Dockerfile"
        self._show_saved()
        self.warnings = list(pipeline.state.warnings) if pipeline else []
        notes = self.query_one("#review-warnings", Static)
        notes.update("\n".join(f"! {self.session.short(w)}" for w in self.warnings))
        notes.set_class(bool(self.warnings), "-warning")
        notes.display = bool(self.warnings)

    def stage_failed(self, message: str, error: BaseException | None) -> None:
        self.rendered_for = None
        self.show_outcome(f"✗ {self.session.short(message)}", error=True)
        from wizard.errors import RenderError

        exists = (self.session.project_root / "Dockerfile").exists()
        self.query_one("#review-actions").display = isinstance(error, RenderError) and exists
