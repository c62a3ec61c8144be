"""The pipeline's events and the one way they read: `describe_event()` gives the words and a
kind for the CLI, the demo and the TUI alike, each of which only adds its own marks and colours.
`docker_event_line()` turns docker_ops's events into the lines `docker build`/`docker push`
would print. Imports nothing heavy (no docker, jinja2 or torch), so the TUI can name them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from wizard.docker_events import (
    BuildCached,
    BuildLog,
    BuildStep,
    DaemonWarning,
    PullProgress,
    PushProgress,
)


@dataclass(frozen=True)
class StageStarted:
    stage: str
    title: str


@dataclass(frozen=True)
class StageFinished:
    stage: str
    summary: str


@dataclass(frozen=True)
class StageSkipped:
    stage: str
    reason: str


@dataclass(frozen=True)
class Log:
    stage: str
    line: str


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class StageWarning:
    """Something the user should know about; the stage went on."""

    stage: str
    text: str


Event = StageStarted | StageFinished | StageSkipped | Log | Progress | StageWarning
EventSink = Callable[[Event], None]

EventKind = Literal["title", "done", "skipped", "warning", "log", "progress"]


@dataclass(frozen=True)
class EventText:
    kind: EventKind
    text: str


def describe_event(event: Event) -> EventText:
    """The event in words (plain text, never markup) and its kind."""
    if isinstance(event, StageStarted):
        return EventText("title", event.title)
    if isinstance(event, StageFinished):
        return EventText("done", f"{event.stage}: {event.summary}")
    if isinstance(event, StageSkipped):
        return EventText("skipped", f"{event.stage} skipped: {event.reason}")
    if isinstance(event, StageWarning):
        return EventText("warning", event.text)
    if isinstance(event, Log):
        return EventText("log", event.line)
    return EventText("progress", f"{event.done}/{event.total} images")


def docker_event_line(event: object) -> str | None:
    """A docker_ops event as the line `docker build`/`docker push` would print; byte-count
    progress updates give None (they would flood a log the challenge truncates anyway)."""
    if isinstance(event, BuildStep):
        return f"Step {event.number}/{event.total} : {event.instruction}"
    if isinstance(event, BuildCached):
        return " ---> Using cache"
    if isinstance(event, BuildLog):
        return event.line
    if isinstance(event, PullProgress | PushProgress):
        if event.current is not None:
            return None
        return f"{event.layer}: {event.status}" if event.layer else event.status
    return str(event)


def from_docker(stage: str, event: object) -> Event | None:
    """A docker_ops event as the pipeline reports it: dockerd's own warnings about the build
    (not a step's output) as a StageWarning, the rest as Log lines; None for byte counts."""
    if isinstance(event, DaemonWarning):
        return StageWarning(stage, f"Docker: {event.text}")
    line = docker_event_line(event)
    return None if line is None else Log(stage, line)
