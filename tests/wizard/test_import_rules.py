"""The line between the core and the TUI, and the engine's boundary, checked from the source's
imports (AST), so a stray import fails here rather than on a user's machine or in an old image.

- Nothing outside wizard/tui imports textual.
- No core module imports wizard.tui, except cli.py, which starts the app lazily (inside a
  function, never at module level).
- The engine imports no wizard, textual, docker, pydantic or jinja2, not even lazily.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WIZARD = REPO / "wizard"
TUI = WIZARD / "tui"
ENGINE = REPO / "engine"
ENGINE_FORBIDDEN = ("wizard", "textual", "docker", "pydantic", "jinja2")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(absolute module imported, line, at module level) for every import in one file; relative
    imports are resolved against the file's package."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    top_level = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` and try/except blocks still run at import
        if isinstance(node, ast.If | ast.Try):
            top_level.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[:len(package) - node.level + 1]
                base = ".".join([*prefix, base] if base else prefix)
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(name, node.lineno, id(node) in top_level) for name in names]
    return found


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def test_the_rules_see_every_package() -> None:
    # Guards the test itself: an empty glob would pass every rule below.
    assert len(_sources(TUI)) > 10 and len(_sources(ENGINE)) > 10
    assert any(_is(name, "textual") for path in _sources(TUI) for name, _, _ in _imports(path))


@pytest.mark.parametrize("path", [p for p in _sources(WIZARD) if TUI not in p.parents]
                         + _sources(ENGINE), ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_tui_imports_textual(path: Path) -> None:
    assert [f"line {line}: {name}" for name, line, _ in _imports(path)
            if _is(name, "textual")] == []


@pytest.mark.parametrize("path", [p for p in _sources(WIZARD) if TUI not in p.parents],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_the_core_does_not_import_the_tui(path: Path) -> None:
    tui_imports = [(name, line, top) for name, line, top in _imports(path)
                   if _is(name, "wizard.tui")]
    if path == WIZARD / "cli.py":
        assert tui_imports, "cli.py is the one place that starts the TUI"
        assert [f"line {line}: {name}" for name, line, top in tui_imports if top] == [], \
            "cli.py must import the TUI lazily, inside the function that starts it"
    else:
        assert [f"line {line}: {name}" for name, line, _ in tui_imports] == []


@pytest.mark.parametrize("path", _sources(ENGINE), ids=lambda p: str(p.relative_to(REPO)))
def test_the_engine_imports_only_its_own_stack(path: Path) -> None:
    assert [f"line {line}: {name}" for name, line, _ in _imports(path)
            if any(_is(name, package) for package in ENGINE_FORBIDDEN)] == []
