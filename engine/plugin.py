"""The user's plug-in folder: model classes by name and the preprocessing transform.

The API is the ObjectNet demo's, so existing model folders work unchanged:
`model_description.py` defines model classes (or factory functions) by name, and
`data_transform_description.py` defines class `data_transform` with `getTransform()`.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Tuple

import torch.nn as nn

from engine.errors import ModelError
from engine.usercode import USER_ERRORS, describe_failure

MODEL_FILE = "model_description.py"
TRANSFORM_FILE = "data_transform_description.py"


_IMPORT_LOCK = threading.RLock()
# name -> (file, (mtime_ns, size), module) of each plug-in module that finished running.
_LOADED: Dict[str, Tuple[Path, Tuple[int, int], ModuleType]] = {}


def _import(model_dir: Path, filename: str) -> ModuleType:
    """The plug-in module `filename` of `model_dir`, run once per version of the file.

    Under one lock: a thread asking while another is still running the module (the wizard
    checks in several threads) waits for it instead of finding it half-built in sys.modules.
    Only modules that finished are reused; an edited file is run again."""
    path = model_dir / filename
    if not model_dir.is_dir():
        raise ModelError(
            "model folder %s does not exist: pass --model-dir with the folder that holds %s "
            "and %s" % (model_dir, MODEL_FILE, TRANSFORM_FILE)
        )
    if not path.is_file():
        raise ModelError(
            "%s is missing: the model folder (--model-dir %s) must hold %s and %s"
            % (path, model_dir, MODEL_FILE, TRANSFORM_FILE)
        )
    with _IMPORT_LOCK:
        return _import_locked(model_dir, path, filename[:-3])


def _import_locked(model_dir: Path, path: Path, name: str) -> ModuleType:
    folder = str(model_dir.resolve())
    # First on the path: the user's modules may import helpers that sit beside them, and a
    # process that looked at another model folder before (the wizard) must not find its files.
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    resolved = path.resolve()
    stat = resolved.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    loaded = _LOADED.get(name)
    if (loaded is not None and loaded[0] == resolved and loaded[1] == version
            and sys.modules.get(name) is loaded[2]):
        return loaded[2]
    # Loaded from this very file, under its plain name: pickled models refer to their classes
    # as model_description.X, and DataLoader workers re-import by that name. It sits in
    # sys.modules while it runs, as with Python's own import (its classes must find their
    # module), which is why only a holder of the lock may look.
    spec = importlib.util.spec_from_file_location(name, str(path))
    if spec is None or spec.loader is None:  # not a .py file: nothing here can load it
        raise ModelError("%s cannot be imported as a Python module: give a .py file" % path)
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except USER_ERRORS as error:
        if previous is not None:
            sys.modules[name] = previous
        else:
            del sys.modules[name]
        raise ModelError("%s failed to import: %s" % (path, _where(error, path))) from error
    _LOADED[name] = (resolved, version, module)
    return module


def _where(error: BaseException, path: Path) -> str:
    """The error with the line of the user's file it came from, without a traceback."""
    return describe_failure(error, path)


def model_classes(module: ModuleType) -> List[str]:
    """Names of the nn.Module classes that `module` offers, its own first."""
    own: List[str] = []
    imported: List[str] = []
    for name, value in inspect.getmembers(module, inspect.isclass):
        if issubclass(value, nn.Module) and not name.startswith("_"):
            (own if value.__module__ == module.__name__ else imported).append(name)
    return sorted(own) + sorted(imported)


def load_model_module(model_dir: Path) -> ModuleType:
    return _import(model_dir, MODEL_FILE)


def build_model(model_dir: Path, class_name: str) -> nn.Module:
    """Instantiate `class_name` from the plug-in folder with no arguments, as the demo did."""
    module = load_model_module(model_dir)
    factory = getattr(module, class_name, None)
    path = model_dir / MODEL_FILE
    if factory is None or not callable(factory):
        available = model_classes(module)
        close = difflib.get_close_matches(class_name, available, n=1)
        hint = " Did you mean %r?" % close[0] if close else ""
        raise ModelError(
            "model class %r is not defined in %s; it offers: %s.%s"
            % (class_name, path, ", ".join(available) or "no nn.Module classes", hint)
        )
    try:
        model = factory()
    except USER_ERRORS as error:
        raise ModelError(
            "%s() from %s failed: %s%s" % (class_name, path, _where(error, path),
                                           _needs_arguments(factory, class_name))
        ) from error
    if not isinstance(model, nn.Module):
        raise ModelError(
            "%s() from %s returned %s, not a torch.nn.Module"
            % (class_name, path, type(model).__name__)
        )
    return model


def _needs_arguments(factory: Any, class_name: str) -> str:
    """A hint when the class cannot be built with no arguments, as the demo's API builds it."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return ""
    required = [p.name for p in signature.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    own = getattr(factory, "__module__", "") == "model_description"
    if not required and own:
        return ""
    where = "" if own else " (it is imported from %s, not defined in %s)" % (
        getattr(factory, "__module__", "a library"), MODEL_FILE)
    args = ", ".join("%s=..." % name for name in required) or "..."
    return (". The engine builds the class with no arguments%s: add a wrapper to %s, e.g. "
            "class my_model(%s): def __init__(self): super().__init__(%s)"
            % (where, MODEL_FILE, class_name, args))


def load_transform(model_dir: Path) -> Callable[[Any], Any]:
    """The user's preprocessing, applied after the border crop."""
    module = _import(model_dir, TRANSFORM_FILE)
    path = model_dir / TRANSFORM_FILE
    holder = getattr(module, "data_transform", None)
    if holder is None:
        raise ModelError("%s must define class data_transform with getTransform()" % path)
    try:
        transform = holder().getTransform()
    except USER_ERRORS as error:
        raise ModelError(
            "data_transform().getTransform() from %s failed: %s" % (path, _where(error, path))
        ) from error
    if not callable(transform):
        raise ModelError("data_transform().getTransform() in %s returned %r, not a callable"
                         % (path, transform))
    return transform
