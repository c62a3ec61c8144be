"""The wizard's errors: one root, so callers can catch everything the wizard reports on
purpose and show its message as is (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterable


class WizardError(Exception):
    """Root of every error the wizard raises on purpose; str() is ready to show a user."""


class AnswersError(WizardError):
    """An answers file could not be used. `lines` holds one line per problem."""

    def __init__(self, lines: Iterable[str]):
        self.lines: list[str] = list(lines)
        super().__init__("\n".join(self.lines))


class SmokeError(WizardError):
    """A smoke test failed; the message says what and what to do."""


class RenderError(WizardError):
    """The Dockerfile or .dockerignore could not be rendered or written."""


class CheckpointError(WizardError):
    """A checkpoint file could not be read at all (missing, a folder, unreadable)."""


class ModelProblemError(WizardError):
    """The model folder, its class or its checkpoint cannot work as answered (the same kind
    of problem as a bad answers file, so the same exit code: 2)."""


def error_text(error: BaseException) -> str:
    """A failure in words: the wizard's own errors are ready to show; anything else is a
    bug or an unwrapped library error, shown on one line with its type, never a traceback."""
    if isinstance(error, WizardError):
        return str(error)
    from engine.errors import EngineError

    if isinstance(error, EngineError):
        return str(error)
    if isinstance(error, ModuleNotFoundError):
        return (f"a module is missing: {error}: install the wizard's dependencies with "
                "pip install -e '.[wizard]'")
    if isinstance(error, ImportError):  # a module that exists but failed: not a missing one
        return f"an import failed: {error}"
    return f"unexpected {type(error).__name__}: {error}"
