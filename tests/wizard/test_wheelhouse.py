"""model/requirements.txt resolved against what the image already has, into a hash-pinned
wheelhouse, and installed privately for the local run; against a real index on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wizard import wheelhouse
from wizard.wheelhouse import Pin, PythonEnv, WheelhouseError


@pytest.fixture(scope="module")
def here() -> PythonEnv:
    return wheelhouse.host_env()


def without(env: PythonEnv, *names: str) -> PythonEnv:
    return dataclasses.replace(env, packages={k: v for k, v in env.packages.items()
                                              if k not in names})


def freeze() -> str:
    return subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], check=True,
                          capture_output=True, text=True).stdout


def test_what_the_environment_has_is_kept_and_only_the_rest_resolved(
        tmp_path: Path, pip_index: str, here: PythonEnv) -> None:
    assert "torch" in here.packages
    pins = wheelhouse.resolve(["wiz-arch"], here, tmp_path / "a")
    assert sorted(map(str, pins)) == ["wiz-arch==1.0", "wiz-helper==1.0"]
    # The control: without torch among the installed packages, the index's stand-in torch
    # is what a resolver would fetch, so the case above really kept the environment's.
    pins = wheelhouse.resolve(["wiz-arch"], without(here, "torch"), tmp_path / "b")
    assert "torch==99.0" in map(str, pins)


def test_a_pure_sdist_is_built_into_a_wheel(tmp_path: Path, pip_index: str,
                                             here: PythonEnv) -> None:
    assert wheelhouse.resolve(["wiz-sdist-only"], here, tmp_path) == [
        Pin("wiz-sdist-only", "0.5")]
    built = list((tmp_path / "built").glob("*.whl"))
    assert [w.name for w in built] == ["wiz_sdist_only-0.5-py3-none-any.whl"]


def test_a_wheel_for_another_python_only_is_named(tmp_path: Path, pip_index: str,
                                                  here: PythonEnv) -> None:
    with pytest.raises(WheelhouseError, match=r"wiz-py312-only has no wheel for this machine "
                       rf"\(Python {here.python}\)"):
        wheelhouse.resolve(["wiz-py312-only"], here, tmp_path)


def test_a_wheel_for_the_image_but_not_for_here_is_said(tmp_path: Path, pip_index: str,
                                                        here: PythonEnv) -> None:
    if here.python == "3.12":
        pytest.skip("this machine runs the Python the wheel is for")
    image = PythonEnv("the base image py312", "3.12", "cpython",
                      ("cp312-cp312-manylinux_2_17_x86_64", "py3-none-any"), here.packages)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("wiz-py312-only\n")
    with pytest.raises(WheelhouseError) as caught:
        wheelhouse.prepare(requirements, image, here, tmp_path / "work", tmp_path)
    message = str(caught.value)
    assert message.startswith("the requirements resolve for the base image py312 (Python "
                              "3.12) but not for the local smoke run on this machine")
    assert (tmp_path / "work" / "wheelhouse" / "wiz_py312_only-1.0-cp312-cp312-manylinux_2_17"
            "_x86_64.manylinux2014_x86_64.whl").is_file()


def test_replacing_a_package_of_the_image_is_refused(tmp_path: Path, pip_index: str,
                                                     here: PythonEnv) -> None:
    image = dataclasses.replace(here, label="the base image x",
                                packages={**here.packages, "wiz-helper": "0.9"})
    with pytest.raises(WheelhouseError, match=r"would replace what the base image x \(Python "
                       r"[0-9.]+\) provides: wiz-helper 0.9 with 1.0"):
        wheelhouse.resolve(["wiz-helper>=1.0"], image, tmp_path)


def test_torch_in_requirements_is_left_out_with_a_warning(tmp_path: Path,
                                                          here: PythonEnv) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# the model\nwiz-arch  # architecture\ntorch>=99\ntorchvision\n")
    read = wheelhouse.read_requirements(requirements, here)
    assert read.lines == ("wiz-arch",)
    assert len(read.warnings) == 2
    assert "line 3: torch>=99 left out: torch comes from the base image" in read.warnings[0]
    assert "does not satisfy >=99: pick a base image with a matching torch" in read.warnings[0]
    assert "line 4: torchvision left out" in read.warnings[1]


@pytest.mark.parametrize(("line", "expected"), [
    ("-e .", "pip options (-e) are not supported here"),
    ("wiz @ https://example.org/wiz.whl", "wiz @ URL is not supported"),
    ("wiz-arch ===", "is not a requirement"),
])
def test_requirements_pip_cannot_build_offline_get_one_line(tmp_path: Path, here: PythonEnv,
                                                            line: str, expected: str) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(line + "\n")
    with pytest.raises(WheelhouseError, match=re.escape(expected)) as caught:
        wheelhouse.read_requirements(requirements, here)
    assert str(caught.value).startswith(f"{requirements.as_posix()} line 1: ")


def test_prepare_pins_hashes_installs_privately_and_reuses_offline(
        tmp_path: Path, pip_index: str, here: PythonEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("wiz-arch\nwiz-sdist-only\ntorch\n")
    before = freeze()
    work = tmp_path / "work"
    deps = wheelhouse.prepare(requirements, here, here, work, tmp_path)
    assert freeze() == before
    assert [(w.name, w.version) for w in deps.image_wheels] == [
        ("wiz-arch", "1.0"), ("wiz-helper", "1.0"), ("wiz-sdist-only", "0.5")]
    lock = (work / "wheelhouse" / "requirements.lock").read_text()
    for wheel in deps.image_wheels:
        assert wheel.lock_line() in lock.splitlines()
        with zipfile.ZipFile(work / "wheelhouse" / wheel.file) as archive:
            assert archive.testzip() is None
    assert sorted(p.name for p in (work / "wheelhouse").iterdir()) == sorted(
        [w.file for w in deps.image_wheels] + ["requirements.lock"])
    assert deps.warnings and "torch left out" in deps.warnings[0]
    assert deps.local_site is not None
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import wiz_arch, "
         "wiz_sdist_only; print(wiz_arch.head(3).out_features, wiz_sdist_only.SCALE)",
         str(deps.local_site)], capture_output=True, text=True, check=True)
    assert probe.stdout.split() == ["3", "8.0"]
    assert "wiz-arch" not in freeze()
    # Nothing changed: no pip, no index (a dead one here), the same wheelhouse.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    again = wheelhouse.prepare(requirements, here, here, work, tmp_path)
    assert again.reused and again.image_wheels == deps.image_wheels
    assert again.local_site == deps.local_site


def test_no_index_says_what_to_download_and_where(tmp_path: Path, pip_index: str,
                                                  here: PythonEnv,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(WheelhouseError) as caught:
        wheelhouse.resolve(["wiz-arch"], here, tmp_path)
    message = str(caught.value)
    assert message.startswith("cannot reach the package index")
    assert f"pip download --only-binary :all: --no-deps --python-version {here.python}" \
        in message
    assert "put the wheels into the project's wheels/ folder" in message
