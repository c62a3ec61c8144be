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
