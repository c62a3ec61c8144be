"""A failure in words: what every view shows for an error, never a traceback."""

from __future__ import annotations

import pytest

from engine.errors import EngineError
from wizard.errors import RenderError, error_text


@pytest.mark.parametrize(("error", "text"), [
    (RenderError("Dockerfile exists: pass --force"), "Dockerfile exists: pass --force"),
    (EngineError("model class 'x' not found"), "model class 'x' not found"),
    (ModuleNotFoundError("No module named 'docker'"),
     "a module is missing: No module named 'docker': install the wizard's dependencies with "
     "pip install -e '.[wizard]'"),
    (ImportError("libcudart.so.12: cannot open"), "an import failed: libcudart.so.12: cannot open"),
    (KeyError("fc.weight"), "unexpected KeyError: 'fc.weight'"),
])
def test_error_text(error: BaseException, text: str) -> None:
    assert error_text(error) == text
