"""Errors the engine reports to users as one line, each with the exit code it ends the run with."""

from typing import Tuple


class EngineError(Exception):
    """Root of the engine's errors; the message is one line that says what to do."""

    exit_code = 2


class ConfigError(EngineError):
    """A setting, path or file is unusable; found before any image was read."""


class ImagesError(EngineError):
    """The image folder cannot be evaluated as given (empty, duplicate names)."""


class ModelError(EngineError):
    """The model class or its plug-in files cannot be used."""

    example: Tuple[str, ...] = ()
    """For a class that cannot be built with no arguments: the lines of a wrapper that can
    (the message holds them on one line; the wizard's model step shows them as code)."""


class CheckpointError(EngineError):
    """The checkpoint cannot be loaded into the chosen model class."""


class RunCancelledError(EngineError):
    """The caller asked the run to stop (the wizard's Esc); no predictions file was left."""

    exit_code = 130


class OutputError(EngineError):
    """The predictions file cannot be written."""


class ModelRunError(EngineError):
    """The model misbehaved while predicting (a row per image missing, sys.exit()): the run
    fails, with no predictions file."""

    exit_code = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, a scheduler's time limit) raised in the main thread: like Ctrl-C it
    passes every `except Exception`, so the output is aborted and loader workers are stopped."""
