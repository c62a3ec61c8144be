"""`objectnet-wizard` end to end: the non-interactive path over the real core, real files,
and (marked docker) a real engine, base image and registry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from projects import make_answered_project
from support import REPO

from wizard.answers_file import load_answers
from wizard.dockerfile import render


def wizard(*args: object, cwd: Path = REPO, env: dict | None = None, timeout: float = 900
           ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wizard", *[str(a) for a in args]], cwd=str(cwd),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def check_rows(output: str) -> str:
    """`check`'s table, one line per finding ("mark │ check │ finding │ what to do"), with
    each cell's wrapped lines joined again: what a row says, whatever the terminal's width."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0] or cells[1] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return "\n".join(" │ ".join(cells) for cells in rows)


def test_render_writes_what_the_core_renders(project: Path) -> None:
    result = wizard("render", "--answers", project / "answers.toml")
    assert result.returncode == 0, result.stderr
    expected = render(load_answers(project / "answers.toml"), project)
    assert (project / "Dockerfile").read_text() == expected.dockerfile
    assert (project / ".dockerignore").read_text() == expected.dockerignore


def test_bad_answers_give_one_line_each_and_exit_2(project: Path) -> None:
    answers = project / "answers.toml"
    answers.write_text(answers.read_text().replace('"syn12345678"', '"12345"')
                       .replace("batch_size = 8", "batch_size = -3") + 'token = "abc"\n'
                       + "bach_size = 4\n")
    result = wizard("run", "--answers", answers, "--until", "render")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 4, result.stderr
    text = result.stderr
    assert "batch_size = -3" in text and "syn" in text and "SYNAPSE_AUTH_TOKEN" in text
    assert "did you mean" in text.lower() and "Traceback" not in text
    assert "abc" not in text, "a secret's value is never echoed"
    assert not (project / "Dockerfile").exists()


def test_missing_answers_file(tmp_path: Path) -> None:
    result = wizard("render", "--answers", tmp_path / "nope.toml")
    assert result.returncode == 2 and "nope.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reports_model_and_offline_findings(project: Path) -> None:
    description = project / "model" / "model_description.py"
    description.write_text(description.read_text() + "\nimport requests\n")
    result = wizard("check", "--answers", project / "answers.toml",
                    env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.returncode == 3, result.stderr
    rows = check_rows(result.stderr)
    assert "loads into tiny" in rows
    assert "imports requests" in rows
    assert "no Docker engine" in rows


@pytest.mark.docker
def test_check_with_only_warnings_is_ready_as_run_is(tmp_path: Path, base_image: str) -> None:
    """Model code that may download is a warning for `run` (its check stage goes on), so
    `check` must not call the environment not ready (exit 3) for it: it said so before the
    findings model made both read the same finding."""
    project = make_answered_project(tmp_path / "project", base_image=base_image)
    description = project / "model" / "model_description.py"
    description.write_text(description.read_text() + "\nimport requests\n")
    result = wizard("check", "--answers", project / "answers.toml")
    assert result.returncode == 0, result.stderr
    rows = check_rows(result.stderr)
    assert re.search(r"^! │ offline-ready │ model_description.py:\d+: imports requests", rows,
                     re.MULTILINE), rows
    assert re.search(r"^✓ │ Docker engine │ Docker ", rows, re.MULTILINE)
    assert re.search(r"^✓ │ torch \(local\) │ torch ", rows, re.MULTILINE)
    assert result.stderr.rstrip().endswith("ready")


@pytest.mark.parametrize("debug", [False, True])
def test_a_docker_failure_is_one_line_and_its_cause_shows_in_debug(project: Path,
                                                                    debug: bool) -> None:
    # requirements.txt makes the check stage ask the engine for the base image's Python.
    (project / "model" / "requirements.txt").write_text("timm==1.0.9\n")
    env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "OBJECTNET_WIZARD_DEBUG": ""}
    if debug:
        env["OBJECTNET_WIZARD_DEBUG"] = "1"
    result = wizard("run", "--answers", project / "answers.toml", "--until", "render", env=env)
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no Docker engine answers" in errors[0], result.stderr
    if debug:  # docker-py's own exception, chained under the one-line message
        assert "DockerException" in result.stderr, result.stderr
        assert "direct cause" in result.stderr, result.stderr
    else:
        assert "Traceback" not in result.stderr and "DockerException" not in result.stderr
    assert not (project / "Dockerfile").exists()


def test_until_smoke_runs_the_engine_here(project: Path) -> None:
    result = wizard("run", "--answers", project / "answers.toml", "--until", "smoke")
    assert result.returncode == 0, result.stderr
    assert "VALIDATED" in result.stderr and "50,273" in result.stderr
    assert (project / "Dockerfile").is_file()
    # Not a terminal (a CI log): a few progress lines, and each stage's elapsed time.
    progress = re.findall(r"^(\d+)/(\d+) images \(\d+ s\)$", result.stderr, re.MULTILINE)
    assert 2 <= len(progress) <= 5, result.stderr
    assert progress[-1][0] == progress[-1][1]
    assert re.search(r"^✓ smoke: .* \(\d+\.\d s\)$", result.stderr, re.MULTILINE | re.DOTALL)


def test_validate_and_init(tmp_path: Path) -> None:
    good = tmp_path / "p.csv"
    good.write_text("a.png," + ",".join(["1,0.5"] * 5) + "\n")
    result = wizard("validate", good)
    assert result.returncode == 0 and json.loads(result.stdout)["prediction_file_status"] \
        == "VALIDATED"
    good.write_text("a.png,999,0.5\n")
    assert wizard("validate", good).returncode == 1
    result = wizard("init", tmp_path / "answers.toml")
    assert result.returncode == 0
    assert "model_class" in (tmp_path / "answers.toml").read_text()
    assert wizard("init", tmp_path / "answers.toml").returncode == 2


def test_help_everywhere() -> None:
    for command in ([], ["run"], ["render"], ["check"], ["validate"], ["init"]):
        result = wizard(*command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout, command


@pytest.mark.docker
@pytest.mark.slow
def test_run_until_push_on_real_docker(tmp_path: Path, docker_client, base_image: str,
                                       auth_registry) -> None:
    # A repository of its own: the registry is shared, and the upload is sized from what it
    # already holds.
    repository = f"small-model-{time.time_ns()}"
    project = make_answered_project(tmp_path / "project", base_image=base_image,
                                   registry=auth_registry.host, synapse_project_id="syn12345678",
                                   repository=repository)
    refused = wizard("run", "--answers", project / "answers.toml", "--until", "push",
                     "--username", auth_registry.user,
                     env={"SYNAPSE_AUTH_TOKEN": "wrong-token"})
    assert refused.returncode == 1, refused.stderr
    assert "wrong-token" not in refused.stderr + refused.stdout
    assert "login" in refused.stderr.lower()

    result = wizard("run", "--answers", project / "answers.toml", "--until", "push",
                    "--username", auth_registry.user,
                    env={"SYNAPSE_AUTH_TOKEN": auth_registry.password})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "agreement with the local run: top-1 48/48" in result.stderr
    record = json.loads((project / "answers.submission.json").read_text())
    entry = record["submissions"][-1]
    assert entry["pinned_reference"].startswith(
        f"{auth_registry.host}/syn12345678/{repository}@")
    assert auth_registry.password not in (project / "answers.submission.json").read_text()
    assert entry["torch_version"].startswith("1.13")
    # Before the push, the upload was sized; after it, the image came back by digest and
    # passed its smoke run again; the receipt is in the record and on screen.
    assert re.search(r"upload: all \d+ layers, 1\.\d GiB uncompressed .*; "
                     + re.escape(f"{auth_registry.host}/syn12345678/{repository}")
                     + " does not exist yet", result.stderr)
    upload = entry["extra"]["upload"]
    assert upload["predicted_layers"] == upload["layers"]
    assert upload["pushed_layers"] + upload["mounted_layers"] == upload["predicted_layers"]
    assert f"the push sent {upload['pushed_layers']} layer" in result.stderr
    assert "building for linux/amd64" in result.stderr
    verification = entry["verification"]
    assert verification["pulled"] == entry["pinned_reference"]
    assert verification["validator"] == "VALIDATED"
    assert verification["agreement_with_local_run"] == {"top1": "48/48", "top5": "48/48",
                                                         "ok": True}
    assert 0 < verification["memory_peak_bytes"] < 32 * 1024 ** 3
    assert verification["shm_peak_bytes"] is not None
    assert verification["time_verdict"] == "no limit"
    assert "this machine's CPU" in verification["time_measured_on"]
    assert f"submit: {entry['pinned_reference']}" in result.stderr
    assert "read-only root filesystem: works" in result.stderr
    assert "non-root user 1000:1000: works" in result.stderr
    # What was pushed is what the challenge would pull: by digest.
    docker_client.login(auth_registry.user, auth_registry.password,
                        registry=auth_registry.host)
    pulled = docker_client.images.pull(entry["pinned_reference"])
    assert pulled.labels["objectnet.model.class"] == "tiny"


def test_smoke_reports_how_much_bf16_changes_predictions(project: Path) -> None:
    answers = project / "answers.toml"
    answers.write_text(answers.read_text().replace('precision = "fp32"', 'precision = "bf16"'))
    result = wizard("run", "--answers", answers, "--until", "smoke")
    assert result.returncode == 0, result.stderr
    assert "compared fp32 with bf16 on 48 of 48 images" in result.stderr
    assert "top-1 agreement:" in result.stderr and "top-5 agreement:" in result.stderr


def test_a_key_mismatch_is_a_model_problem_everywhere(project: Path) -> None:
    """Issue 10: check said "environment not ready" (3) for a checkpoint that does not fit,
    and run's check stage passed it, failing only at the smoke run."""
    from support import save_checkpoint

    save_checkpoint(project / "model", "tiny10", project / "model" / "tiny.pth")
    checked = wizard("check", "--answers", project / "answers.toml")
    assert checked.returncode == 2, checked.stderr
    assert "fc.weight [10, 16] vs [1000, 16]" in check_rows(checked.stderr)
    result = wizard("run", "--answers", project / "answers.toml", "--until", "smoke")
    assert result.returncode == 2, result.stderr
    assert "does not fit model class tiny: keys 2 with another shape" in result.stderr
    assert "Local smoke run" not in result.stderr
    assert not (project / "Dockerfile").exists()


def test_init_starts_from_what_the_model_folder_holds(project: Path) -> None:
    description = project / "model" / "model_description.py"
    description.write_text("import torch.nn as nn\nfrom torchvision.models import resnet18\n\n\n"
                           "class mine(nn.Module):\n    pass\n")
    result = wizard("init", project / "fresh.toml", cwd=project)
    assert result.returncode == 0, result.stderr
    text = (project / "fresh.toml").read_text()
    assert 'model_class = "mine"' in text and 'checkpoint = "tiny.pth"' in text
    assert "model_class = 'mine': the one class in model_description.py" in result.stderr
    from wizard import base_images

    assert f'base_image = "{base_images.suggest(torch.__version__).ref}"' in text
    (project / "model" / "other.pt").write_bytes(b"x")
    result = wizard("init", project / "second.toml", cwd=project)
    assert "checkpoint: 2 candidates (other.pt, tiny.pth): pick one" in result.stderr
    assert 'checkpoint = "resnet50.pth"' in (project / "second.toml").read_text()
