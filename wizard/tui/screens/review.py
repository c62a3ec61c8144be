"""Step 6: the pipeline's check and render stages. Shows the Dockerfile just written (with
syntax highlighting), the answers as TOML (saved beside it, since the Dockerfile names
them), and the checks' warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static, TabbedContent, TabPane

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
    INTRO = "Written to the project folder from your answers, which are saved beside it."
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "render", "Render again")]

    def __init__(self) -> None:
        super().__init__()
        self.rendered_for: Any = None
        self.dockerfile_text = ""
        self.answers_text = ""
        self._force = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="stage-outcome", markup=False)
        yield Static("", id="review-warnings", markup=False)
        with Horizontal(id="review-actions"):
            yield Button("Overwrite that Dockerfile", id="review-force", compact=True,
                         variant="warning")
        with TabbedContent(id="review-tabs"):
            with TabPane("Dockerfile", id="tab-dockerfile"), VerticalScroll():
                yield Static("", id="dockerfile")
            with TabPane("answers", id="tab-answers"), VerticalScroll():
                yield Static("", id="answers-toml")

    def on_mount(self) -> None:
        self.query_one("#review-actions").display = False
        self.query_one("#review-warnings").display = False

    def refresh_from_draft(self) -> None:
        pipeline = self.wizard.pipeline()
        if pipeline is None:
            self.ready_pipeline()
            return
        if pipeline.answers != self.rendered_for and not self.running:
            self.action_render()

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
        answers_name = self.session.show_path(self.session.answers_path)
        if self.session.up_to_date:
            # Rewriting an unchanged file would only drop the user's comments.
            saved = f"{answers_name} is up to date"
        elif self.session.may_save:
            try:
                saved = self.session.save()
            except OSError as error:
                saved = f"✗ {answers_name} not saved: {error.strerror}"
        else:
            saved = f"{answers_name} not saved (it was not opened here): ctrl+s saves it"
        written = ", ".join(self.session.show_path(p) for p in pipeline.state.rendered) \
            if pipeline else "Dockerfile"
        self.show_outcome(f"✓ wrote {written}; {saved}")
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
