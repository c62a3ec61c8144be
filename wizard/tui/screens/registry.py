"""Step 5: the image's name, `registry/synapse-project-id/repository:tag`, each part checked
as you type. It comes before the review because the Dockerfile names the image it builds."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from wizard import validators
from wizard.tui.screens.base import StepScreen
from wizard.tui.widgets.field import Field


class RegistryScreen(StepScreen):
    STEP = "registry"
    TITLE = "Image name"
    INTRO = "Where the image is pushed: your Synapse project and a repository name."

    def compose_body(self) -> ComposeResult:
        yield Field("synapse_project_id", "Synapse project",
                    value=self.answer("synapse_project_id"), placeholder="e.g. syn12345678",
                    hint="the id on your Synapse project's page: syn then digits")
        yield Field("repository", "Repository", value=self.answer("repository"),
                    placeholder="e.g. my-model", hint="lowercase letters, digits, . _ -")
        yield Field("tag", "Tag", value=self.answer("tag"),
                    hint="labels this build: v1, v2, … (the challenge pulls by digest)")
        yield Field("registry", "Registry", value=self.answer("registry"),
                    hint="docker.synapse.org for the challenge")
        yield Static("", id="image-reference", markup=False)

    def on_mount(self) -> None:
        self._show_reference()

    def answer_changed(self, name: str) -> None:
        self._show_reference()

    def _show_reference(self) -> None:
        reference = self.query_one("#image-reference", Static)
        try:
            name = validators.image_reference(
                self.answer("registry") or "", self.answer("synapse_project_id") or "",
                self.answer("repository") or "", self.answer("tag") or "")
        except ValueError:
            reference.update("image: (complete the fields above)")
            reference.set_class(False, "-ok")
            return
        reference.update(f"image: {name}")
        reference.set_class(True, "-ok")
