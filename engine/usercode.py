"""Failures of the user's own code (model file, transform, forward pass) as one line.

User code may end with sys.exit(): SystemExit is not an Exception, so a plain `except
Exception` would let it end the engine with the user's exit code and no message. Every place
that runs user code catches USER_ERRORS instead; a real Ctrl-C (KeyboardInterrupt) still
passes through.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Optional

USER_ERRORS = (Exception, SystemExit)


def describe_failure(error: BaseException, path: Optional[Path] = None) -> str:
    """The error, with the line of `path` it came from when known, without a traceback."""
    if isinstance(error, SyntaxError) and error.lineno:
        return "syntax error on line %d: %s" % (error.lineno, error.msg)
    if isinstance(error, SystemExit):
        text = "it called sys.exit(%s)" % ("" if error.code is None else repr(error.code))
    else:
        lines = str(error).strip().splitlines()
        text = "%s: %s" % (type(error).__name__, lines[0] if lines else "")
    if path is not None:
        lines_here = [f.lineno for f in traceback.extract_tb(error.__traceback__)
                      if Path(f.filename) == path and f.lineno is not None]
        if lines_here:
            text += " (line %d)" % lines_here[-1]
    return text
