"""Docker's JSON stream read without docker: the errors it carries in-band, its progress
figures, and the legacy builder's log turned into events.

docker_ops opens the streams; this module only reads the chunks (dicts), so the rules for a
build log are plain functions of canned input.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from typing import Any

from wizard.docker_events import (
    BuildCached,
    BuildFailedError,
    BuildLog,
    BuildStep,
    DaemonWarning,
    EventCallback,
    PullProgress,
)

FAILED_STEP_LINES = 15
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_RUNNING_IN = re.compile(r"^ ---> Running in ([0-9a-f]+)$")
_BUILT = re.compile(r"^Successfully built ([0-9a-f]+)$")
# RUN steps' stderr arrives wrapped in terminal colour codes.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Lines the legacy builder prints about its own bookkeeping, not the step's output.
_BOOKKEEPING = re.compile(
    r"^( ---> [0-9a-f]+| ---> Running in [0-9a-f]+|Removing intermediate container [0-9a-f]+"
    r"|Successfully built [0-9a-f]+|Successfully tagged .*)$"
)
# What dockerd itself writes into the build stream that is not a step's output. The builder
# prefixes the warnings of each step container it creates with an arrow (" ---> [Warning] IPv4
# forwarding is disabled..." on a host with ip_forward=0, once per step); unused build-args are
# reported once after the last step; Dockerfile parser warnings ("[WARNING]: ..." and the
# instruction they quote, indented) come before the first step. Step output can print
# "[WARNING]: " too (Ansible does), so that form only counts before the first step.
_DAEMON_WARNING = re.compile(r"^ ---> \[Warning\] (.+)$|^(\[Warning\] One or more build-args .+)$")
_PARSER_WARNING = re.compile(r"^\[WARNING\]: (.+)$")


def stream_error(chunk: Mapping[str, Any]) -> str | None:
    """The error a stream chunk carries, if any: docker-py does not raise on these."""
    if "error" not in chunk and "errorDetail" not in chunk:
        return None
    detail = chunk.get("errorDetail") or {}
    text = chunk.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
    return " ".join(str(text or "unknown error").split())


def progress(chunk: Mapping[str, Any]) -> tuple[int | None, int | None]:
    detail = chunk.get("progressDetail") or {}
    if not isinstance(detail, dict):
        return None, None
    return detail.get("current"), detail.get("total")


class BuildParser:
    """Turns the legacy builder's `stream` chunks into events, and remembers what a failure
    message needs: the step, its instruction, its recent output, its container."""

    def __init__(self, on_event: EventCallback):
        self.on_event = on_event
        self.buffer = ""
        self.step: int | None = None
        self.total: int | None = None
        self.instruction: str | None = None
        self.container: str | None = None
        self.step_lines: deque[str] = deque(maxlen=FAILED_STEP_LINES)
        self.cached = 0
        self.image_id: str | None = None
        self.warnings: list[str] = []
        self._pending_parser_warning: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        aux = chunk.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        text = chunk.get("stream")
        if isinstance(text, str):
            text = _ANSI.sub("", text)
            self.buffer += text.replace("\r\n", "\n").replace("\r", "\n")
            *lines, self.buffer = self.buffer.split("\n")
            for line in lines:
                self._line(line)
        status = chunk.get("status")
        if isinstance(status, str):
            # The daemon pulls a missing FROM image itself, reporting as a pull does.
            current, total = progress(chunk)
            self.on_event(PullProgress(str(chunk.get("id", "")), status, current, total))

    def flush(self) -> None:
        if self.buffer:
            line, self.buffer = self.buffer, ""
            self._line(line)
        if self._pending_parser_warning is not None:
            self._warn(self._pending_parser_warning)
            self._pending_parser_warning = None

    def _line(self, line: str) -> None:
        if self._daemon_warning(line):
            return
        step = _STEP.match(line)
        if step:
            self.step, self.total = int(step.group(1)), int(step.group(2))
            self.instruction = step.group(3).strip()
            self.container = None
            self.step_lines.clear()
            self.on_event(BuildStep(self.step, self.total, self.instruction))
            return
        if line.strip() == "---> Using cache":
            if self.step is not None:
                self.cached += 1
                self.on_event(BuildCached(self.step))
            return
        running = _RUNNING_IN.match(line)
        if running:
            self.container = running.group(1)
            return
        built = _BUILT.match(line)
        if built and self.image_id is None:
            self.image_id = built.group(1)
        if _BOOKKEEPING.match(line) or not line.strip():
            return
        self.step_lines.append(line.rstrip())
        self.on_event(BuildLog(line.rstrip()))

    def _daemon_warning(self, line: str) -> bool:
        """Take a line dockerd wrote about the build (not a step's output) as a warning: each
        distinct one becomes one DaemonWarning event and never enters the step's tail."""
        if self._pending_parser_warning is not None:
            if line.startswith("    "):
                # The instruction a parser warning quotes ("...found in:") belongs to it.
                self._pending_parser_warning += f" {line.strip()}"
                return True
            self._warn(self._pending_parser_warning)
            self._pending_parser_warning = None
        daemon = _DAEMON_WARNING.match(line)
        if daemon:
            self._warn(daemon.group(1) or daemon.group(2))
            return True
        parser = _PARSER_WARNING.match(line) if self.step is None else None
        if parser:
            self._pending_parser_warning = parser.group(1).rstrip()
            return True
        return False

    def _warn(self, text: str) -> None:
        text = text.rstrip()
        if text not in self.warnings:
            self.warnings.append(text)
            self.on_event(DaemonWarning(text))

    def failure(self, reason: str) -> BuildFailedError:
        if self.step is None:
            return BuildFailedError(f"the build failed before its first step: {reason}",
                                    reason=reason, log_tail=self.step_lines)
        where = f"step {self.step}/{self.total} ({self.instruction})"
        return BuildFailedError(
            f"the build failed at {where}: {reason}{_build_hint(self.instruction or '', reason)}",
            step=self.step, total=self.total, instruction=self.instruction, reason=reason,
            log_tail=self.step_lines,
        )


def _build_hint(instruction: str, reason: str) -> str:
    lowered = reason.lower()
    if instruction.upper().startswith("COPY") and ("not found" in lowered
                                                   or "no such file" in lowered):
        return (": the file is missing from the project folder or excluded by .dockerignore; "
                "render the Dockerfile again after moving files")
    if "pip" in instruction and "non-zero code" in lowered:
        return (": pip could not install the model's requirements.txt; the output above says "
                "which package, and the build has no network if Docker has none")
    if instruction.upper().startswith("FROM"):
        return ": pull or load the base image first"
    return ""
