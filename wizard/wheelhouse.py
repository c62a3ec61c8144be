"""The model's pip requirements, resolved on this machine and built offline.

Image builds get no network (on these machines, and on many challenge build hosts), so
`model/requirements.txt` is resolved here into a wheelhouse for the *base image's* Python and
platform, and the image installs it with `pip install --no-index --require-hashes` in a layer
of its own before the code.

The trap is what the image already has. Many model packages declare `Requires-Dist: torch`;
a plain `pip download` for the image's platform then fetches another torch, triton and the
CUDA wheels: gigabytes the image already holds, in another version. So the resolver runs
against a stand-in of the image's installed packages (the image's own distribution list,
read once with no network and cached per image id): pip sees them as installed and keeps
them, and only what is missing is downloaded, with `--no-deps`. A requirement that would
replace a package of the image with another version is refused; `torch` and `torchvision`
in requirements.txt are left out with a warning, because they come from the base image.

The local smoke run uses the same requirements at the same versions, resolved the same way
against this machine's Python and installed into a private folder put on `sys.path` for the
run, never into the wizard's own environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wizard.errors import WizardError

if TYPE_CHECKING:
    from wizard.docker_client import DockerClient

REQUIREMENTS = "requirements.txt"
LOCK = "requirements.lock"
WHEELHOUSE = "wheelhouse"
"""The image's wheelhouse, under the work folder (.objectnet-wizard/), inside the build
context."""
USER_WHEELS = "wheels"
"""A folder of wheels in the project root, used as --find-links: where a user without
network puts the wheels `check` names."""
FROM_BASE_IMAGE = frozenset({"torch", "torchvision"})
PIP_TIMEOUT_S = 900

PROBE = r"""
import json, sys
try:
    from importlib import metadata
except ImportError:
    metadata = None
packages = {}
if metadata is not None:
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name] = dist.version
tags = []
try:
    from pip._vendor.packaging import tags as _tags
    tags = [str(t) for t in _tags.sys_tags()]
except Exception:
    pass
print(json.dumps({"python": "%d.%d" % sys.version_info[:2],
                  "implementation": sys.implementation.name, "tags": tags,
                  "packages": packages}))
"""
"""Run in the image (and here) with python3: the Python version, the wheel tags it accepts
and its installed distributions. Python 3.8+ only (old base images)."""

# Put the stand-in's dist-info folders and pip itself, and nothing else, on sys.path: pip then
# sees exactly the target's packages as installed.
RUNNER = ("import sys; sys.path[:0] = sys.argv[1:3]; del sys.argv[1:3]; "
          "from pip._internal.cli.main import main; sys.exit(main())")

_NO_MATCH = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)")


class WheelhouseError(WizardError):
    """The requirements cannot be turned into a complete wheelhouse; the message says why
    and what to do."""


@dataclass(frozen=True)
class PythonEnv:
    """A Python that will import the model: its version, the wheel tags it accepts and what
    is installed in it (canonical name -> version)."""

    label: str
    python: str
    implementation: str
    tags: tuple[str, ...]
    packages: dict[str, str]

    @property
    def platforms(self) -> list[str]:
        return _unique(t.split("-")[2] for t in self.tags) or ["manylinux2014_x86_64", "any"]

    @property
    def abis(self) -> list[str]:
        return _unique(t.split("-")[1] for t in self.tags) or ["none"]

    def target_options(self) -> list[str]:
        """pip's options to pick wheels for this Python rather than the running one."""
        impl = {"cpython": "cp", "pypy": "pp"}.get(self.implementation, self.implementation)
        options = ["--python-version", self.python, "--implementation", impl]
        for abi in self.abis:
            options += ["--abi", abi]
        for platform in self.platforms:
            options += ["--platform", platform]
        return options

    def describe(self) -> str:
        return f"{self.label} (Python {self.python})"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def parse_probe(text: str, label: str) -> PythonEnv:
    """The PROBE's last JSON line as a PythonEnv."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            packages = {str(canonicalize_name(k)): str(v) for k, v in data["packages"].items()}
            return PythonEnv(label, data["python"], data["implementation"],
                             tuple(data["tags"]), packages)
    raise WheelhouseError(f"could not read the Python of {label}: no answer from python3")


def host_env(python: str | None = None) -> PythonEnv:
    """This machine's Python (the one the local smoke run imports the model with)."""
    done = subprocess.run([python or sys.executable, "-c", PROBE], capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise WheelhouseError(f"could not read this machine's Python: {_last_line(done.stderr)}")
    return parse_probe(done.stdout, "this machine")


def image_env(docker: DockerClient, image: str, cache_dir: Path) -> PythonEnv:
    """The base image's Python, read once with no network and cached per image id."""
    image_id = docker.image_info(image).id
    cache = cache_dir / "python-env" / (image_id.replace(":", "-") + ".json")
    label = f"the base image {image}"
    if cache.is_file():
        return parse_probe(cache.read_text(encoding="utf-8"), label)
    run = docker.run_command(image, ["python3", "-c", PROBE], timeout_s=300, tail_lines=20)
    if run.exit_code != 0:
        raise WheelhouseError(f"could not read the Python of {image} (python3 exited "
                              f"{run.exit_code}: {_last_line(run.logs_tail)}): the base image "
                              "needs python3")
    env = parse_probe(run.logs_tail, label)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"python": env.python, "implementation": env.implementation,
                                 "tags": list(env.tags), "packages": env.packages}),
                     encoding="utf-8")
    return env


# ---- requirements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirements:
    """requirements.txt read: the lines pip resolves, and warnings about what was left out."""

    lines: tuple[str, ...]
    warnings: tuple[str, ...]


def read_requirements(path: Path, provided: PythonEnv) -> Requirements:
    """The requirements, without torch/torchvision (from the base image, with a warning)."""
    label = path.as_posix()
    lines: list[str] = []
    warnings: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("-"):
            raise WheelhouseError(f"{label} line {number}: pip options ({text.split()[0]}) are "
                                  "not supported here: list one package per line; put extra "
                                  f"wheels into the project's {USER_WHEELS}/ folder")
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise WheelhouseError(f"{label} line {number}: {text!r} is not a requirement "
                                  f"({error}): write e.g. timm==1.0.9") from error
        if requirement.url:
            raise WheelhouseError(f"{label} line {number}: {requirement.name} @ URL is not "
                                  "supported: build needs no network; put the wheel into "
                                  f"the project's {USER_WHEELS}/ folder and list the name")
        name = canonicalize_name(requirement.name)
        if name in FROM_BASE_IMAGE:
            have = provided.packages.get(name)
            fits = have is not None and _satisfies(requirement, have)
            warnings.append(
                f"{label} line {number}: {text} left out: {requirement.name} comes from the base "
                f"image ({provided.label} has {have or 'none'}), and a second copy would add "
                "gigabytes and a CUDA mismatch"
                + ("" if fits or not requirement.specifier else
                   f"; that version does not satisfy {requirement.specifier}: pick a base "
                   "image with a matching torch"))
            continue
        lines.append(text)
    return Requirements(tuple(lines), tuple(warnings))


def _satisfies(requirement: Requirement, version: str) -> bool:
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


# ---- pip --------------------------------------------------------------------------------------


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1]


def _pip_env() -> dict[str, str]:
    """The user's pip configuration (index, proxy, certificates) applies; constraints meant
    for this machine's environment do not, and pip never asks questions."""
    env = dict(os.environ)
    env["PIP_CONSTRAINT"] = ""
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_BREAK_SYSTEM_PACKAGES"] = "1"
    return env


def _pip(args: Sequence[str], *, standin: tuple[Path, Path] | None = None
         ) -> subprocess.CompletedProcess[str]:
    if standin is None:
        command = [sys.executable, "-m", "pip", *args]
    else:
        command = [sys.executable, "-S", "-c", RUNNER, str(standin[0]), str(standin[1]), *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, env=_pip_env(),
                              timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise WheelhouseError(f"pip took longer than {PIP_TIMEOUT_S} s (pip {args[0]}): is the "
                              "package index reachable?") from error


def _standin(env: PythonEnv, scratch: Path) -> tuple[Path, Path]:
    """A folder of bare dist-info records, one per package `env` has, and a folder holding
    only pip: the resolver's view of `env`'s installed packages."""
    key = hashlib.sha256(json.dumps(env.packages, sort_keys=True).encode()).hexdigest()[:16]
    site = scratch / f"standin-{key}"
    if not site.is_dir():
        building = scratch / f".standin-{key}-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        for name, version in env.packages.items():
            record = building / f"{name.replace('-', '_')}-{version}.dist-info"
            record.mkdir()
            (record / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
        building.rename(site)
    import pip

    pip_only = scratch / "pip-only"
    pip_only.mkdir(parents=True, exist_ok=True)
    link = pip_only / "pip"
    if not link.exists():
        link.symlink_to(Path(pip.__file__).resolve().parent, target_is_directory=True)
    return site, pip_only


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def _find_links(folders: Iterable[Path]) -> list[str]:
    options: list[str] = []
    for folder in folders:
        if folder.is_dir():
            options += ["--find-links", str(folder)]
    return options


def resolve(lines: Sequence[str], env: PythonEnv, scratch: Path, *,
            find_links: Sequence[Path] = (), constraints: Sequence[Pin] = ()) -> list[Pin]:
    """What pip would install into `env` for these requirements, `env`'s packages kept.
    Requirements whose only distribution is a pure-Python sdist are built into wheels here
    (into scratch/built, added to the find-links) and resolved again."""
    scratch.mkdir(parents=True, exist_ok=True)
    built = scratch / "built"
    requirements = scratch / "requirements.in"
    requirements.write_text("\n".join(lines) + "\n", encoding="utf-8")
    extra: list[str] = []
    if constraints:
        path = scratch / "constraints.txt"
        path.write_text("\n".join(str(p) for p in constraints) + "\n", encoding="utf-8")
        extra = ["--constraint", str(path)]
    standin = _standin(env, scratch)
    tried: set[str] = set()
    while True:
        report = scratch / "report.json"
        report.unlink(missing_ok=True)
        command = ["install", "--dry-run", "--report", str(report), "--only-binary", ":all:",
                   *env.target_options(), *_find_links([*find_links, built]), *extra, "-r",
                   str(requirements)]
        done = _pip(command, standin=standin)
        if done.returncode == 0:
            break
        # pip names an unreachable index only at debug level: ask again, verbosely.
        output = _pip([*command, "-vv"], standin=standin)
        missing = _NO_MATCH.search(done.stderr)
        if missing is None or missing.group(1) in tried or _unreachable(output.stdout
                                                                        + output.stderr):
            raise WheelhouseError(_resolve_failure(env, output.stdout + output.stderr,
                                                   missing))
        tried.add(missing.group(1))
        _build_pure_wheel(missing.group(1), env, built, find_links)
    installs = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    pins = sorted((Pin(canonicalize_name(item["metadata"]["name"]),
                       item["metadata"]["version"]) for item in installs),
                  key=lambda pin: pin.name)
    replaced = [p for p in pins if p.name in env.packages]
    if replaced:
        raise WheelhouseError(
            "the requirements would replace what " + env.describe() + " provides: " + ", ".join(
                f"{p.name} {env.packages[p.name]} with {p.version}" for p in replaced)
            + ": loosen the pins in requirements.txt, or pick a base image with those versions")
    return pins


_UNREACHABLE = ("Could not fetch URL", "NewConnectionError", "Max retries",
                "Name or service not known", "Temporary failure in name resolution",
                "Connection refused", "ConnectTimeoutError", "ProxyError")


def _unreachable(output: str) -> bool:
    return any(word in output for word in _UNREACHABLE)


def _resolve_failure(env: PythonEnv, stderr: str, missing: re.Match[str] | None) -> str:
    if _unreachable(stderr):
        return (f"cannot reach the package index ({_last_line(stderr)}): on a machine with "
                f"network run `pip download --only-binary :all: --no-deps "
                f"{' '.join(env.target_options()[:4])} --platform {env.platforms[0]} -d wheels "
                "-r requirements.txt` for each requirement and its dependencies, and put the "
                f"wheels into the project's {USER_WHEELS}/ folder")
    if missing is not None:
        return (f"{missing.group(1)} has no wheel for {env.describe()} on "
                f"{env.platforms[0]} on the package index, and no pure-Python sdist to build "
                "one: pick a version that has such a wheel, or put one into the project's "
                f"{USER_WHEELS}/ folder")
    return f"pip cannot resolve the requirements for {env.describe()}: {_last_line(stderr)}"


def _build_pure_wheel(requirement: str, env: PythonEnv, built: Path,
                      find_links: Sequence[Path]) -> None:
    """An sdist built into a wheel here; only a pure-Python wheel suits another Python."""
    import importlib.util

    isolation = [] if importlib.util.find_spec("setuptools") is None else [
        "--no-build-isolation"]
    scratch = built.parent / "building"
    shutil.rmtree(scratch, ignore_errors=True)
    done = _pip(["wheel", "--no-deps", "--no-binary", requirement, *isolation,
                 *_find_links(find_links), "--wheel-dir", str(scratch), requirement])
    wheels = sorted(scratch.glob("*.whl")) if done.returncode == 0 else []
    if not wheels:
        raise WheelhouseError(
            f"{requirement} has no wheel for {env.describe()} on {env.platforms[0]}, and no "
            f"sdist that builds here ({_last_line(done.stderr)}): pick a version that has such "
            f"a wheel, or put one into the project's {USER_WHEELS}/ folder")
    wheel = wheels[0]
    if not wheel.name.endswith("-none-any.whl"):
        raise WheelhouseError(
            f"{requirement} has no wheel for {env.describe()}, and its sdist builds a wheel "
            f"for this machine only ({wheel.name}, native code): build one for the image's "
            f"Python and platform and put it into the project's {USER_WHEELS}/ folder")
    built.mkdir(parents=True, exist_ok=True)
    shutil.move(str(wheel), built / wheel.name)
    shutil.rmtree(scratch, ignore_errors=True)


# ---- wheelhouse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    file: str
    sha256: str
    size: int

    def lock_line(self) -> str:
        return f"{self.name}=={self.version} --hash=sha256:{self.sha256}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(pins: Sequence[Pin], env: PythonEnv, dest: Path, find_links: Sequence[Path]
              ) -> list[Wheel]:
    """Exactly the pinned wheels for `env`, in a fresh `dest` (replaced whole at the end)."""
    fresh = dest.with_name(dest.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    if pins:
        done = _pip(["download", "--no-deps", "--only-binary", ":all:", *env.target_options(),
                     *_find_links(find_links), "--dest", str(fresh), *map(str, pins)])
        if done.returncode != 0:
            shutil.rmtree(fresh, ignore_errors=True)
            raise WheelhouseError(f"could not download the wheels for {env.describe()}: "
                                  f"{_last_line(done.stderr)}")
    by_name: dict[str, Path] = {}
    for wheel in fresh.glob("*.whl"):
        by_name[str(canonicalize_name(wheel.name.split("-", 1)[0]))] = wheel
    wheels = []
    for pin in pins:
        path = by_name.get(pin.name)
        if path is None:
            raise WheelhouseError(f"pip did not download {pin} for {env.describe()}")
        wheels.append(Wheel(pin.name, pin.version, path.name, _sha256(path),
                            path.stat().st_size))
    shutil.rmtree(dest, ignore_errors=True)
    fresh.rename(dest)
    return wheels


def _key(lines: Sequence[str], env: PythonEnv, find_links: Sequence[Path]) -> str:
    """What the wheelhouse depends on: a change in any of it resolves again."""
    listing = sorted(str(p) for folder in find_links if folder.is_dir()
                     for p in folder.glob("*"))
    blob = json.dumps([list(lines), env.python, env.implementation, list(env.tags),
                       env.packages, listing], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_lock(folder: Path, key: str) -> list[Wheel] | None:
    """The wheels of a complete, current wheelhouse, or None."""
    lock = folder / LOCK
    try:
        text = lock.read_text(encoding="utf-8")
    except OSError:
        return None
    if f"# key: {key}" not in text.splitlines():
        return None
    wheels = []
    for line in text.splitlines():
        if line.startswith("# wheel: "):
            data = json.loads(line.removeprefix("# wheel: "))
            wheel = Wheel(**data)
            path = folder / wheel.file
            if not path.is_file() or path.stat().st_size != wheel.size:
                return None
            wheels.append(wheel)
    return wheels


def _write_lock(folder: Path, key: str, env: PythonEnv, wheels: Sequence[Wheel]) -> None:
    lines = [f"# Generated by objectnet-wizard for {env.describe()}: installed with",
             "# pip install --no-index --no-deps --require-hashes -r requirements.lock",
             f"# key: {key}"]
    lines += ["# wheel: " + json.dumps(w.__dict__, sort_keys=True) for w in wheels]
    lines += [w.lock_line() for w in wheels]
    (folder / LOCK).write_text("\n".join(lines) + "\n", encoding="utf-8")


def wheelhouse(lines: Sequence[str], env: PythonEnv, folder: Path, scratch: Path,
               find_links: Sequence[Path] = (), constraints: Sequence[Pin] = ()
               ) -> tuple[list[Wheel], bool]:
    """A complete wheelhouse for `env` in `folder` with its hash-pinned requirements.lock;
    (wheels, reused) where `reused` says a current one was there (no pip, no network)."""
    key = _key([*lines, *map(str, constraints)], env, find_links)
    current = _read_lock(folder, key)
    if current is not None:
        return current, True
    pins = resolve(lines, env, scratch, find_links=find_links, constraints=constraints)
    links = [*find_links, scratch / "built"]
    wheels = _download(pins, env, folder, links)
    _write_lock(folder, key, env, wheels)
    return wheels, False


def activate(site: Path) -> None:
    """Put a private install on sys.path (once) for imports in this process; DataLoader
    workers inherit it."""
    import importlib

    entry = str(site)
    if entry not in sys.path:
        sys.path.insert(0, entry)
        importlib.invalidate_caches()


def lock_path(work: Path) -> Path:
    return work / WHEELHOUSE / LOCK


def has_lock(work: Path) -> bool:
    return lock_path(work).is_file()


def pinned(work: Path) -> list[str]:
    """The wheelhouse's `name==version --hash=sha256:...` lines, for the submission record."""
    try:
        text = lock_path(work).read_text(encoding="utf-8")
    except OSError:
        return []
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def install_target(wheels: Sequence[Wheel], folder: Path, target: Path) -> Path:
    """The wheels installed into `target` (a private folder, never an environment), once per
    set of wheels."""
    key = hashlib.sha256("".join(w.sha256 for w in wheels).encode()).hexdigest()[:16]
    site = target / key
    if site.is_dir():
        return site
    fresh = target / f".{key}-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    done = _pip(["install", "--no-index", "--no-deps", "--target", str(fresh), "--quiet",
                 *[str(folder / w.file) for w in wheels]])
    if done.returncode != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        raise WheelhouseError(f"could not install the requirements into {target}: "
                              f"{_last_line(done.stderr)}")
    fresh.rename(site)
    return site


@dataclass(frozen=True)
class Dependencies:
    """The requirements as prepared for the image and for the local run."""

    requirements: Path
    image_wheels: tuple[Wheel, ...]
    local_site: Path | None
    warnings: tuple[str, ...] = ()
    reused: bool = False
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(w.size for w in self.image_wheels)

    def lines(self) -> list[str]:
        from wizard.model_folder import human_size

        if not self.image_wheels:
            head = "the base image already provides every requirement: no wheels to install"
        else:
            head = (f"wheelhouse: {len(self.image_wheels)} wheels, {human_size(self.size)} "
                    f"({'unchanged' if self.reused else 'resolved now'}), hashes pinned: "
                    + ", ".join(f"{w.name} {w.version}" for w in self.image_wheels))
        return [head, *self.notes]


def prepare(requirements: Path, image: PythonEnv, local: PythonEnv | None, work: Path,
            project_root: Path) -> Dependencies:
    """The image's wheelhouse (work/wheelhouse, hash-pinned) and, when `local` is given, the
    same versions installed for the local run into work/local-site/. Reuses both when nothing
    they depend on changed, so a code-only change needs no network."""
    read = read_requirements(requirements, image)
    links = [project_root / USER_WHEELS]
    folder = work / WHEELHOUSE
    wheels, reused = wheelhouse(read.lines, image, folder, work / "pip" / "image", links)
    notes: list[str] = []
    site = None
    if local is not None:
        pins = [Pin(w.name, w.version) for w in wheels]
        try:
            local_wheels, _ = wheelhouse(read.lines, local, work / "local-wheels",
                                         work / "pip" / "local", [*links, folder],
                                         constraints=pins)
        except WheelhouseError as error:
            raise WheelhouseError(
                f"the requirements resolve for {image.describe()} but not for the local smoke "
                f"run on {local.describe()}: {error}") from error
        differ = sorted({str(Pin(w.name, w.version)) for w in local_wheels}
                        - {str(p) for p in pins})
        if differ:
            notes.append("the local run also installs " + ", ".join(differ) + ", which "
                         f"{image.label} already has in its own version")
        if local_wheels:
            site = install_target(local_wheels, work / "local-wheels", work / "local-site")
    return Dependencies(requirements, tuple(wheels), site, read.warnings, reused, tuple(notes))
