"""One wording of the pipeline's and docker_ops's events for the CLI, the demo and the TUI."""

from __future__ import annotations

import pytest

from wizard.docker_events import (
    BuildCached,
    BuildLog,
    BuildStep,
    DaemonWarning,
    PullProgress,
    PushProgress,
)
from wizard.events import (
    Log,
    Progress,
    StageFinished,
    StageSkipped,
    StageStarted,
    StageWarning,
    describe_event,
    docker_event_line,
    from_docker,
)


@pytest.mark.parametrize(("event", "kind", "text"), [
    (StageStarted("build", "Building the image"), "title", "Building the image"),
    (StageFinished("build", "x:v1, 12 MB"), "done", "build: x:v1, 12 MB"),
    (StageSkipped("push", "no registry"), "skipped", "push skipped: no registry"),
    (StageWarning("check", "[bold]not markup[/]"), "warning", "[bold]not markup[/]"),
    (Log("smoke", "a line"), "log", "a line"),
    (Progress("smoke", 3, 48), "progress", "3/48 images"),
])
def test_every_event_has_its_words_and_kind(event, kind: str, text: str) -> None:
    described = describe_event(event)
    assert (described.kind, described.text) == (kind, text)


@pytest.mark.parametrize(("event", "line"), [
    (BuildStep(2, 9, "COPY engine/ /opt/objectnet/engine/"),
     "Step 2/9 : COPY engine/ /opt/objectnet/engine/"),
    (BuildCached(2), " ---> Using cache"),
    (BuildLog("Successfully installed timm"), "Successfully installed timm"),
    (PullProgress("a1b2", "Pull complete"), "a1b2: Pull complete"),
    (PushProgress("", "latest: digest: sha256:00"), "latest: digest: sha256:00"),
    (PushProgress("a1b2", "Pushing", current=10, total=100), None),
])
def test_docker_events_read_as_docker_prints_them(event, line) -> None:
    assert docker_event_line(event) == line


def test_daemon_warnings_are_stage_warnings_and_steps_are_log_lines() -> None:
    warning = DaemonWarning("IPv4 forwarding is disabled. Networking will not work.")
    assert from_docker("build", warning) == StageWarning(
        "build", "Docker: IPv4 forwarding is disabled. Networking will not work.")
    assert from_docker("build", BuildCached(3)) == Log("build", " ---> Using cache")
    assert from_docker("push", PushProgress("a1b2", "Pushing", current=1, total=9)) is None
