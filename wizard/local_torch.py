"""The one place the wizard imports torch and runs the user's model code.

The TUI checks the machine, lists the model's classes, loads the checkpoint and suggests a
base image, each in its own thread. Importing torch in two threads at once is not safe (its
extension types get initialised twice: "generic_type: cannot initialize type", a segfault at
exit), and a thread that looks at a module another one is still importing sees it half-built
("defines no nn.Module class", "cannot import name ... from engine.plugin"). So every use of
torch, the engine's torch modules and the user's model code goes through `using_torch()`:
one re-entrant lock, and torch imported under it the first time. Re-checking after the user
edits their model re-imports it under the same lock (engine.plugin sees the change).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_LOCK = threading.RLock()


@contextmanager
def using_torch() -> Iterator[ModuleType]:
    """Hold the lock and yield torch (imported the first time). Raises ImportError when
    torch is not installed next to the wizard."""
    with _LOCK:
        import torch

        yield torch


def torch_version() -> str | None:
    """The torch version installed next to the wizard, or None."""
    try:
        with using_torch() as torch:
            return str(torch.__version__)
    except ImportError:
        return None


def gpu_names() -> list[str]:
    """The GPUs local torch sees (none without torch)."""
    try:
        with using_torch() as torch:
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            return [torch.cuda.get_device_name(index) for index in range(count)]
    except ImportError:
        return []


def torch_facts() -> tuple[str | None, list[str]]:
    """The local torch version and the GPUs it sees; (None, []) without torch."""
    version = torch_version()
    return (None, []) if version is None else (version, gpu_names())


def wait_idle(timeout: float) -> bool:
    """Wait up to `timeout` seconds for a thread inside the lock (importing torch or running
    model code) to finish; True when idle. A clean exit calls it: an interpreter shutting
    down under a half-done torch import can crash."""
    if _LOCK.acquire(timeout=timeout):
        _LOCK.release()
        return True
    return False
