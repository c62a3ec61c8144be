"""The commented reference answers file, generated from the docstrings of Answers' fields.

templates/answers.example.toml is `reference_toml()`; tests/wizard/test_answers.py checks it is
current and prints the command that regenerates it."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import tomli_w

from wizard.answers import STEPS, TOKEN_ENV_VAR, Answers, example


def reference_toml(values: Mapping[str, Any] | None = None) -> str:
    """A complete, commented answers file: every setting with its description, required ones
    with an example value, optional ones with their default (commented out where the default
    is "leave it out"); `values` replace those (what `init` found in the model folder).
    templates/answers.example.toml is this text without values."""
    values = values or {}
    out = [
        "# objectnet-wizard answers: every setting, with what it means.",
        "# Copy this file next to engine/ and your model folder as answers.toml, edit it, and run",
        "# the wizard with it. Relative paths are relative to this file's folder.",
        f"# No secrets here: the Synapse token comes from {TOKEN_ENV_VAR} or a prompt.",
    ]
    for step, names in STEPS:
        out += ["", f"# ---- {step} ----"]
        for name in names:
            field = Answers.model_fields[name]
            doc = " ".join((field.description or "").split())
            out += ["", *textwrap.wrap(doc, 94, initial_indent="# ", subsequent_indent="# ")]
            if name in values:
                out.append(tomli_w.dumps({name: values[name]}).strip())
            elif field.is_required():
                out.append(tomli_w.dumps({name: example(name)}).strip())
            elif field.get_default() is None:
                out.append("# " + tomli_w.dumps({name: example(name)}).strip())
            else:
                out.append(tomli_w.dumps({name: field.get_default()}).strip())
    return "\n".join(out) + "\n"
