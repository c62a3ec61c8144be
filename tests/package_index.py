"""A real package index on 127.0.0.1 for the wheelhouse tests: a PEP 503 folder of wheels and
an sdist that the tests build, served by `python -m http.server` (its directory listings are
the simple index's pages).

The packages are the cases a researcher's requirements.txt meets:
- wiz-arch 1.0: an architecture package that needs wiz-helper and declares torch;
- wiz-helper 1.0: a plain pure-Python dependency;
- wiz-sdist-only 0.5: only an sdist, pure Python;
- wiz-py312-only 1.0: a binary wheel for CPython 3.12 only;
- torch 99.0: a stand-in torch, so a resolver that does not keep the image's torch visibly
  downloads it (and the image's `import torch` would fail).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ARCH = '''
"""A stand-in for an architecture package (timm, efficientnet_pytorch)."""
import torch.nn as nn

from wiz_helper import WIDTH


def head(classes):
    return nn.Linear(WIDTH, classes)
'''


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build_wheel(folder: Path, name: str, version: str, files: Mapping[str, str],
                requires: Sequence[str] = (), tag: str = "py3-none-any") -> Path:
    """A wheel as build backends write it: the files, METADATA, WHEEL and RECORD."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    pure = "true" if tag.endswith("none-any") else "false"
    contents = {**files, f"{info}/METADATA": metadata,
                f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {pure}\n"
                f"Tag: {tag}\n"}
    record = "".join(f"{path},{_record_hash(text.encode())},{len(text.encode())}\n"
                     for path, text in contents.items()) + f"{info}/RECORD,,\n"
    target = folder / re.sub(r"[-_.]+", "-", name).lower()
    target.mkdir(parents=True, exist_ok=True)
    wheel = target / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**contents, f"{info}/RECORD": record}.items():
            archive.writestr(path, text)
    return wheel


def build_sdist(folder: Path, name: str, version: str, module: str, source: str) -> Path:
    """A setuptools sdist with one module (pyproject.toml, PKG-INFO, the module)."""
    dist = re.sub(r"[-_.]+", "_", name)
    root = f"{dist}-{version}"
    files = {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            f'[tool.setuptools]\npy-modules = ["{module}"]\n'),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{module}.py": source,
    }
    target = folder / re.sub(r"[-_.]+", "-", name).lower()
    target.mkdir(parents=True, exist_ok=True)
    sdist = target / f"{root}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(f"{root}/{path}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return sdist


def build_index(simple: Path) -> Path:
    build_wheel(simple, "wiz-helper", "1.0", {"wiz_helper/__init__.py": "WIDTH = 16\n"})
    build_wheel(simple, "wiz-arch", "1.0", {"wiz_arch/__init__.py": ARCH},
                requires=["wiz-helper>=1.0", "torch>=1.8"])
    build_sdist(simple, "wiz-sdist-only", "0.5", "wiz_sdist_only", "SCALE = 8.0\n")
    build_wheel(simple, "wiz-py312-only", "1.0", {"wiz_py312_only.py": "X = 1\n"},
                tag="cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
    build_wheel(simple, "torch", "99.0", {
        "torch/__init__.py": 'raise ImportError("a stand-in torch from the test index")\n'})
    return simple


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """`python -m http.server` on a free port of 127.0.0.1 over `folder`; yields the index
    URL (…/simple) and stops the server afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"port (\d+)", line)
        if match is None:
            raise RuntimeError(f"http.server did not start: {line!r}")
        yield f"http://127.0.0.1:{match.group(1)}/simple"
    finally:
        process.terminate()
        process.wait(timeout=10)


def pip_environment(index_url: str) -> dict[str, str]:
    """This process's environment with pip pointed at the test index only: no user or site
    configuration, no other index, no find-links."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=index_url,
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    return env
