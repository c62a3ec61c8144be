"""The push step ends on the finish screen (issue 13): the receipt read back from the
submission record and the pinned reference to submit, with a key that copies it. Driven with
Pilot through a real build and a real push to the login registry on 127.0.0.1, which the
wizard then pulls back by digest and smoke-tests again."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import pytest
from textual.widgets import Input, Static
from tui_support import run_async, write_answers

from wizard.samples import make_images
from wizard.tui.app import create_app
from wizard.tui.screens.finish import FinishScreen

SIZE = (100, 32)


def text(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


@pytest.mark.docker
@pytest.mark.slow
@run_async
async def test_push_ends_on_the_finish_screen_with_the_receipt(
        project: Path, docker_client, base_image: str, auth_registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNAPSE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("SYNAPSE_USERNAME", raising=False)
    make_images(project / "sample-images", 8)
    tag = f"tui10-13-{os.getpid()}"
    path = write_answers(project / "answers.toml", base_image=base_image,
                         registry=auth_registry.host, repository="tui-finish", tag=tag,
                         smoke_images="sample-images")
    reference = f"{auth_registry.host}/syn12345678/tui-finish:{tag}"
    app = create_app(path, project)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_for_stage(timeout=120)  # the review's check and render
            await pilot.pause()
            assert app.screen.STEP == "review"
            app.go("build")
            await pilot.pause()
            await pilot.press("ctrl+r")
            await pilot.pause()
            await app.wait_for_stage(timeout=900)
            await pilot.pause()
            assert text(app, "#stage-outcome").startswith(f"✓ {reference}: "), \
                text(app, "#stage-outcome")

            app.go("push")
            await pilot.pause()
            app.screen.query_one("#username", Input).focus()
            await pilot.press(*auth_registry.user, "tab", *auth_registry.password, "enter")
            await pilot.pause()
            await app.wait_for_stage(timeout=900)
            await pilot.pause()
            assert isinstance(app.screen, FinishScreen), text(app, "#stage-outcome")

            entry = json.loads((project / "answers.submission.json").read_text())[
                "submissions"][-1]
            receipt = app.screen.receipt
            assert receipt is app.receipt and receipt.verified
            assert receipt.pinned == entry["pinned_reference"]
            assert receipt.pinned.startswith(f"{auth_registry.host}/syn12345678/tui-finish"
                                             "@sha256:")
            assert text(app, "#finish-title") == "Pushed and verified: ready to submit"
            assert text(app, "#finish-reference") == receipt.pinned
            rows = dict(receipt.rows)
            assert rows["pushed"] == reference
            assert rows["pulled back"] == "by digest; its predictions.csv is VALIDATED"
            assert rows["vs the local run"] == "top-1 8/8, top-5 8/8"
            size = r"\d+(\.\d)? (B|KiB|MiB|GiB)"
            assert re.fullmatch(rf"{size} of 32\.0 GiB \(\d+%\)", rows["peak memory"])
            assert re.fullmatch(rf"{size} of 12\.0 GiB \(\d+%\)", rows["peak /dev/shm"])
            assert "measured on this machine's CPU" in rows["all 50,273 images"]
            # What the registry lacked before the push, and what the push stream said.
            assert re.fullmatch(rf"\d+ of \d+ layers, {size} uncompressed; sent \d+, "
                                r"mounted \d+, \d+ already there", rows["upload"]), rows["upload"]
            assert text(app, "#finish-record").startswith("Kept in answers.submission.json.")

            await pilot.press("c")
            await pilot.pause()
            assert app.clipboard == receipt.pinned
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.STEP == "push"
            assert text(app, "#stage-outcome") == (f"✓ pushed {receipt.pinned}\nsubmission "
                                                   "record: answers.submission.json")
    finally:
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(reference)
