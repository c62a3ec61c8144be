"""Is the model code ready to run with no network? The challenge runs images with networking
disabled, so anything that downloads weights at start-up fails there, after the upload.

A static scan (ast, nothing is imported or run) of the model folder's .py files for the usual
ways code reaches the network: torch.hub, pretrained=True / weights=..., from_pretrained,
and URL downloads.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

DOWNLOAD_CALLS = {
    "load_state_dict_from_url", "download_url_to_file", "urlopen", "urlretrieve",
    "hf_hub_download", "snapshot_download", "download_url", "wget",
}
HTTP_MODULES = {"requests", "httpx", "urllib3", "aiohttp"}


@dataclass(frozen=True)
class Download:
    """One place in the model code that would need the network."""

    path: Path
    line: int
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: {self.fix}"


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_none_or_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in (None, False)


def scan_source(source: str, path: Path) -> list[Download]:
    """The downloads in one file; a file that does not parse is reported, not raised."""
    try:
        tree = ast.parse(source, str(path))
    except SyntaxError as error:
        return [Download(path, error.lineno or 0, f"syntax error: {error.msg}",
                        "fix the file; the engine cannot import it")]
    found: list[Download] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _dotted(node).startswith("torch.hub."):
            found.append(Download(path, node.lineno, f"uses {_dotted(node)}",
                                 "torch.hub downloads at run time; build the model class "
                                 "locally and load weights from your checkpoint"))
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in DOWNLOAD_CALLS:
                found.append(Download(path, node.lineno, f"calls {name}()",
                                     "downloads need the network; ship the file in the "
                                     "model folder instead"))
            elif name == "from_pretrained":
                found.append(Download(path, node.lineno, "calls from_pretrained()",
                                     "it downloads unless the files are local: build the "
                                     "architecture from a config and load your checkpoint"))
            for keyword in node.keywords:
                if keyword.arg == "pretrained" and not _is_none_or_false(keyword.value):
                    found.append(Download(path, node.lineno, "pretrained=... downloads weights",
                                         "drop it: the engine loads your checkpoint"))
                elif keyword.arg == "weights" and not _is_none_or_false(keyword.value):
                    found.append(Download(path, node.lineno, "weights=... downloads weights",
                                         "use weights=None: the engine loads your checkpoint"))
            for argument in node.args:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str) \
                        and argument.value.startswith(("http://", "https://")):
                    found.append(Download(path, node.lineno, f"passes the URL {argument.value}",
                                         "nothing can be fetched in the challenge: ship the "
                                         "file in the model folder"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""])
            for module in modules:
                if module.split(".")[0] in HTTP_MODULES:
                    found.append(Download(path, node.lineno, f"imports {module}",
                                         "an HTTP client cannot reach anything in the "
                                         "challenge; remove network access"))
    return sorted(found, key=lambda f: f.line)


def scan(model_dir: Path) -> list[Download]:
    """The downloads in every .py file of the model folder the image will hold, sub-packages
    included."""
    from wizard.model_folder import listing

    found: list[Download] = []
    for entry in listing(model_dir, ""):
        if entry.included and entry.path.endswith(".py"):
            path = model_dir / entry.path
            found.extend(scan_source(path.read_text(encoding="utf-8", errors="replace"), path))
    return found
