"""What of the model folder goes into the image: the whole folder, less what must not.

A researcher's model folder holds sub-packages, class maps (JSON, YAML, txt) and sometimes
native `.so` files, and the engine puts the folder on `sys.path` for the local run; so the
image gets the same folder, or the local run would test something the image does not hold.
Left out by default: checkpoint-like files other than the chosen one (a second copy of the
weights would double the image), caches, version-control and notebook folders, virtual
environments, answers files and files named like credentials. `model_include` and
`model_exclude` in the answers change that, e.g. for a second weights file the model loads
itself.

The listing here is the one source of truth: `.dockerignore` allows exactly these files, the
Dockerfile copies them, and `check` and the review step show them with their sizes.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from wizard import validators
from wizard.errors import RenderError

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".bin")
CACHE_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".cache",
                        ".ipynb_checkpoints", ".tox", ".nox"})
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
CREDENTIAL_NAMES = (".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*",
                    "id_ed25519*", ".netrc", ".pypirc", ".npmrc", "pip.conf", "pip.ini",
                    ".dockercfg", ".git-credentials", "credentials*")
ANSWERS_NAMES = ("answers*.toml", "*.answers.toml", "submissions*.toml")
BYTECODE = ("*.pyc", "*.pyo")
NOT_CHECKPOINTS = frozenset({".py", ".pyc", ".txt", ".md", ".json", ".toml", ".yaml", ".yml",
                             ".cfg"})


@dataclass(frozen=True)
class Entry:
    """One file of the model folder: its path relative to the folder (POSIX), its size,
    and why it is left out (None when it goes into the image)."""

    path: str
    size: int
    left_out: str | None = None

    @property
    def included(self) -> bool:
        return self.left_out is None


def _matches(path: str, patterns: Iterable[str]) -> bool:
    name = PurePosixPath(path).name
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _default_reason(path: str, checkpoint: str) -> str | None:
    parts = PurePosixPath(path).parts
    name = parts[-1]
    for part in parts[:-1]:
        if part in VCS_DIRS:
            return "version control"
        if part in CACHE_DIRS:
            return "cache"
    if _matches(name, BYTECODE):
        return "cache"
    if path != checkpoint and name.lower().endswith(CHECKPOINT_SUFFIXES):
        return "another checkpoint (include it with model_include if the model loads it)"
    if _matches(name, CREDENTIAL_NAMES) or PurePosixPath(path).match(".docker/config.json"):
        return "named like credentials"
    if _matches(name, ANSWERS_NAMES):
        return "answers file"
    return None


def _venvs(folder: Path) -> set[str]:
    """Sub-folders that are virtual environments (they hold pyvenv.cfg)."""
    return {str(PurePosixPath(*p.parent.relative_to(folder).parts))
            for p in folder.rglob("pyvenv.cfg")}


def listing(model_dir: Path, checkpoint: str, include: Sequence[str] = (),
            exclude: Sequence[str] = ()) -> list[Entry]:
    """Every file under `model_dir`, sorted, each marked with why it is left out (if it is).
    Precedence: the chosen checkpoint always goes in; then `model_exclude`; then
    `model_include`; then the defaults."""
    entries: list[Entry] = []
    venvs = _venvs(model_dir)
    for current, dirs, files in os.walk(model_dir):
        dirs.sort()
        base = Path(current)
        for name in sorted(files):
            full = base / name
            path = PurePosixPath(*full.relative_to(model_dir).parts).as_posix()
            try:
                size = full.lstat().st_size
            except OSError:
                continue
            entries.append(Entry(path, size, _reason(path, full, checkpoint, include, exclude,
                                                     venvs)))
    return entries


def _reason(path: str, full: Path, checkpoint: str, include: Sequence[str],
            exclude: Sequence[str], venvs: set[str]) -> str | None:
    if path == checkpoint:
        return None
    if _matches(path, exclude):
        return "model_exclude"
    if full.is_symlink():
        return "a symbolic link (Docker would copy the link, not the file): copy the file"
    if any(path.startswith(v + "/") for v in venvs if v != "."):
        return "virtual environment"
    try:
        validators.dockerfile_path(path, "the model folder")
    except ValueError as error:
        return f"its name cannot be written into the Dockerfile ({error})"
    if _matches(path, include):
        return None
    return _default_reason(path, checkpoint)


def included(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.included]


@dataclass(frozen=True)
class Copy:
    """One COPY instruction: sources relative to the build context, and the destination."""

    sources: tuple[str, ...]
    destination: str

    @property
    def argv(self) -> list[str]:
        return [*self.sources, self.destination]


def copy_plan(files: Sequence[str], model_dir: str, checkpoint: str,
              container_dir: str) -> list[Copy]:
    """COPY instructions for the code and data files (the checkpoint excluded: it gets the
    last layer of its own, so a new checkpoint rebuilds only that layer). A folder that does
    not hold the checkpoint is copied whole (one layer; .dockerignore filters it); one that
    does is split into its own files and its sub-folders."""
    plan: list[Copy] = []

    def walk(folder: PurePosixPath) -> None:
        prefix = "" if str(folder) == "." else f"{folder}/"
        here = [f for f in files if f.startswith(prefix)]
        direct = sorted(f for f in here if "/" not in f[len(prefix):] and f != checkpoint)
        subdirs = sorted({f[len(prefix):].split("/", 1)[0] for f in here
                          if "/" in f[len(prefix):]})
        if direct:
            plan.append(Copy(tuple(f"{model_dir}/{f}" for f in direct),
                             f"{container_dir}/{prefix}"))
        for sub in subdirs:
            path = f"{prefix}{sub}"
            if checkpoint.startswith(path + "/"):
                walk(PurePosixPath(path))
            else:
                plan.append(Copy((f"{model_dir}/{path}/",), f"{container_dir}/{path}/"))

    walk(PurePosixPath("."))
    return plan


def resolve(model_dir: Path, checkpoint: str, include: Sequence[str] = (),
            exclude: Sequence[str] = ()) -> list[Entry]:
    """The listing, checked: raises RenderError when there is no model folder or no
    model_description.py in it, when model_exclude leaves it out, or when it matches the
    checkpoint itself."""
    if not model_dir.is_dir():
        raise RenderError(f"model folder {model_dir} does not exist: check the model_dir "
                          "setting")
    if not (model_dir / "model_description.py").is_file():
        raise RenderError(f"{model_dir} has no model_description.py: the model folder needs "
                          "it (and data_transform_description.py); check the model_dir setting")
    entries = listing(model_dir, checkpoint, include, exclude)
    names = {e.path for e in included(entries)}
    if "model_description.py" not in names:
        raise RenderError(f"{model_dir}/model_description.py would not go into the image: "
                          "check model_exclude")
    if _matches(checkpoint, exclude):
        raise RenderError(f"model_exclude matches the checkpoint {checkpoint}: the image needs "
                          "it; narrow the pattern")
    return entries


def link_problem(root: Path, model_dir: str, checkpoint: str) -> str | None:
    """Why the checkpoint cannot go into the image as it is, when a part of its path is a
    symbolic link: Docker copies the link, not the file (`check` says so before `render`)."""
    current = root
    for part in Path(model_dir, checkpoint).parts:
        current = current / part
        if current.is_symlink():
            return (f"{current.relative_to(root)} is a symbolic link, and Docker copies the "
                    "link, not the file it points to: copy the checkpoint into the model "
                    "folder (or hard-link it with ln without -s)")
    return None


def checkpoint_candidates(model_dir: Path) -> list[str]:
    """Files of the model folder (and one level below) that could be checkpoints, relative
    to it: everything but code, text and hidden files (a checkpoint may have any suffix, so
    the model step offers these to pick from)."""
    if not model_dir.is_dir():
        return []
    found = []
    for path in sorted(model_dir.glob("*")) + sorted(model_dir.glob("*/*")):
        relative = path.relative_to(model_dir)
        if (path.is_file() and path.suffix.lower() not in NOT_CHECKPOINTS
                and not any(part.startswith((".", "__")) for part in relative.parts)):
            found.append(relative.as_posix())
    return found


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def summary_lines(entries: Sequence[Entry], limit: int = 40) -> list[str]:
    """What goes in (path and size) and what is left out (path and why), for check and the
    review step."""
    ins = included(entries)
    outs = [e for e in entries if not e.included]
    total = sum(e.size for e in ins)
    lines = [f"{len(ins)} files, {human_size(total)} go into the image:"]
    lines += [f"  {e.path}  {human_size(e.size)}" for e in ins[:limit]]
    if len(ins) > limit:
        lines.append(f"  ... and {len(ins) - limit} more")
    if outs:
        lines.append(f"{len(outs)} left out:")
        lines += [f"  {e.path}: {e.left_out}" for e in outs[:limit]]
        if len(outs) > limit:
            lines.append(f"  ... and {len(outs) - limit} more")
    return lines
