"""The Base step says, before any build, whether each image is here, can be pulled or cannot
be had, and offers the local images that carry torch (issue 12, item 9): a missing base image
used to be reported only by ctrl+r on Build, seven steps later."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static
from tui_support import run_async, settle, write_answers

from wizard import docker_ops
from wizard.tui.app import create_app

SIZE = (100, 32)
HUB_IMAGE = "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"
NO_ENGINE = "unix:///nonexistent/docker.sock"


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@pytest.mark.docker
@run_async
async def test_the_base_step_says_where_each_image_can_come_from(project: Path,
                                                                base_image: str) -> None:
    path = write_answers(project / "answers.toml", base_image=HUB_IMAGE)
    app = create_app(path, project, docker=docker_ops.connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("base_image")
        await settle(pilot)  # waits for the workers: the search ran to its end
        warnings = text(app, "#image-warnings")
        assert (f"! {HUB_IMAGE} is not on this machine and cannot be pulled (docker.io cannot "
                "be reached: ") in warnings, warnings
        assert "`docker load` it, or pick an image that is here" in warnings
        legend = text(app, "#image-sources")
        assert legend.startswith("● here  ↓ can be pulled  ○ cannot be had (docker.io cannot "
                                 "be reached: "), legend
        assert "here with torch, not in the table: listed first" in legend
        table = app.screen.query_one("#image-table", DataTable)
        assert str(table.get_cell(HUB_IMAGE, "here")) == "○"
        # The local image with torch is offered, first, with the torch found in it.
        local = table.get_row(base_image)
        assert str(local[1]) == "●" and str(local[3]).startswith("1.13"), local
        row = table.get_row_index(base_image)
        assert row < table.get_row_index(HUB_IMAGE)
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        await settle(pilot, 0.5)
        assert app.session.draft["base_image"] == base_image
        warnings = text(app, "#image-warnings")
        assert f"✓ {base_image} is on this machine" in warnings, warnings
        assert "not in the wizard's table" not in warnings


@run_async
async def test_without_docker_the_base_step_says_it_cannot_tell(project: Path) -> None:
    path = write_answers(project / "answers.toml")
    app = create_app(path, project, docker=functools.partial(docker_ops.connect, NO_ENGINE))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.go("base_image")
        await settle(pilot, 0.3)
        legend = text(app, "#image-sources")
        assert legend == ("? Docker does not answer, so which images are here is not known "
                          "(step 1 says why)"), legend
