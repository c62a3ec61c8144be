"""The model step's class list (issue 10): the classes model_description.py defines come
first, the library classes it imports after them, marked as such; a class that cannot be
built with no arguments gets the wrapper that can, as three lines of code."""

from __future__ import annotations

import functools
from pathlib import Path

from textual.widgets import Select, Static
from tui_support import run_async, settle

from wizard.tui.app import create_app

SIZE = (100, 32)
LIBRARY = "Linear (library class from torch.nn.modules.linear)"


def no_engine():
    from wizard import docker_ops

    return functools.partial(docker_ops.connect, "unix:///nonexistent/docker.sock")


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@run_async
async def test_own_classes_first_library_classes_marked_and_wrapped(project: Path) -> None:
    description = project / "model" / "model_description.py"
    description.write_text("from torch.nn import Linear\n" + description.read_text())
    app = create_app(project_root=project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"
        assert app.screen.class_choices == [("tiny", "tiny"), ("tiny_head", "tiny_head"),
                                            (LIBRARY, "Linear")]
        select = app.screen.query_one("#model-class", Select)
        assert [str(label) for label, _ in select._options[1:]] == ["tiny", "tiny_head",
                                                                      LIBRARY]
        assert text(app, "#class-note") == (
            "2 class(es) in model_description.py, and 1 imported from libraries (they "
            "often need arguments; the engine builds a class with none)")

        await pilot.press("tab", "enter", "down", "down", "down", "enter")  # Linear
        await settle(pilot)
        assert app.session.draft["model_class"] == "Linear"
        assert text(app, "#class-note").startswith(
            f"{LIBRARY}: the engine builds it with no arguments")
        await pilot.press("tab", "enter", "down", "enter")  # the checkpoint
        await settle(pilot)
        check = text(app, "#model-check")
        assert check.startswith("✗ Linear() from model/model_description.py failed:"), check
        assert check.endswith(
            "The engine builds the class with no arguments (it is imported from "
            "torch.nn.modules.linear, not defined in model_description.py): add a wrapper "
            "to model_description.py, e.g.:\n"
            "    class my_model(Linear):\n"
            "        def __init__(self):\n"
            "            super().__init__(in_features=..., out_features=...)"), check
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.screen.STEP == "model"  # refused until the class can be built


@run_async
async def test_a_model_folder_that_is_not_there_clears_what_was_found_in_the_last(
        project: Path) -> None:
    """Typing a folder that does not exist left the last folder's findings up (offline-ready
    ✓, its classes) and gave the engine's advice, "pass --model-dir", which the wizard has
    no flag for (hostile testing, issue 12). Typing the folder back finds them again."""
    from tui_support import write_answers

    app = create_app(write_answers(project / "answers.toml"), project, docker=no_engine())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("model")
        for _ in range(100):  # the load check imports torch in its worker
            await settle(pilot)
            if text(app, "#offline"):
                break
        assert text(app, "#offline").startswith("✓ offline-ready"), text(app, "#offline")
        assert text(app, "#model-check").startswith("✓")
        app.screen.query_one("#input-model_dir").focus()
        await pilot.press("ctrl+a", "ctrl+k", *"nope")
        await pilot.pause(1.0)  # past the field's debounce
        await settle(pilot)
        assert text(app, "#offline") == "" and text(app, "#model-check") == ""
        note = text(app, "#class-note")
        assert note.startswith("✗ model folder nope does not exist"), note
        assert "--model-dir" not in note and text(app, "#checkpoint-note") == ""
        assert app.screen.class_choices == []
        await pilot.press("ctrl+a", "ctrl+k", *"model")
        for _ in range(100):
            await settle(pilot)
            if text(app, "#offline"):
                break
        assert text(app, "#offline").startswith("✓ offline-ready")
        assert text(app, "#class-note") == "2 class(es) in model_description.py"
