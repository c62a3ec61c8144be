"""The whole way from a project folder to a pushed image, on the real engine, base image and
registry: render the Dockerfile from answers, build it, run it as the challenge does, compare
it with the local run, rebuild after a checkpoint change, push, pull back by digest, and keep
the submission record.

One image is built per module and shared (building is cheap, but pushing its 1.3 GB base
layer to a fresh registry takes about a minute, once). The model is tiny, with a 64-pixel
transform, so a container run takes seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from projects import make_project, tiny_answers

from engine.validate import validate_file
from wizard import docker_events, docker_ops
from wizard.answers import Answers
from wizard.checkpoint_info import sha256_file
from wizard.docker_events import BuildCached, BuildResult, BuildStep
from wizard.docker_ops import DockerOps
from wizard.dockerfile import render, write
from wizard.samples import make_checkpoint, make_images
from wizard.smoke import (
    ContainerFailedError,
    LocalSmokeResult,
    PredictionsMismatchError,
    image_smoke,
    local_smoke,
)
from wizard.submission import (
    SubmissionError,
    read_submissions,
    record_for,
    submission_path,
    write_submission,
)

SMOKE_IMAGES = 24
# The rendered Dockerfile's steps: FROM, WORKDIR, 2 x ENV, COPY engine, COPY model code,
# COPY checkpoint, 6 x LABEL, ENTRYPOINT.
STEPS = 14
CHECKPOINT_STEP = 7


@dataclass
class Built:
    ops: DockerOps
    project: Path
    answers: Answers
    reference: str
    result: BuildResult
    events: list
    images: Path
    local: LocalSmokeResult
    tags: list[str]


def build_project(ops: DockerOps, project: Path, answers: Answers, events: list) -> BuildResult:
    write(render(answers, project), project, force=True)
    return ops.build(project, "Dockerfile", answers.image_reference(), events.append)


@pytest.fixture(scope="module")
def built(docker_client, base_image, registry, tmp_path_factory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("e2e")
    project = make_project(root / "project", seed=1)
    answers = tiny_answers(base_image=base_image, registry=registry,
                           tag=f"e2e-{os.getpid()}-{int(time.time())}")
    ops = docker_ops.connect()
    events: list = []
    result = build_project(ops, project, answers, events)
    images = root / "images"
    make_images(images, SMOKE_IMAGES, seed=5)
    local = local_smoke(answers, images, root / "local", project_root=project)
    state = Built(ops, project, answers, answers.image_reference(), result, events, images,
                  local, [answers.image_reference()])
    yield state
    for tag in state.tags:
        # Removing one tag may already have removed the image behind another.
        with contextlib.suppress(Exception):
            docker_client.api.remove_image(tag)
    ops.close()


@pytest.mark.docker
def test_build_from_the_rendered_dockerfile(built):
    result = built.result
    steps = [e for e in built.events if isinstance(e, BuildStep)]
    assert [s.number for s in steps] == list(range(1, STEPS + 1))
    assert steps[0].instruction == f"FROM {built.answers.base_image}"
    assert steps[CHECKPOINT_STEP - 1].instruction.startswith('COPY ["model/tiny.pth"')
    assert result.steps == STEPS
    # WORKDIR and the three COPYs; ENV, LABEL and ENTRYPOINT add no filesystem layer.
    assert result.new_layers == 4
    # engine/ and a tiny model: the image is its base plus well under a megabyte.
    assert 0 < result.size_over_base < 1_000_000
    labels = built.ops.image_info(built.reference).labels
    assert labels["objectnet.model.checkpoint.sha256"] == sha256_file(
        built.project / "model" / "tiny.pth")


@pytest.mark.docker
def test_the_image_runs_like_the_challenge_runs_it(built, tmp_path):
    run = built.ops.run_smoke_container(built.reference, built.images, tmp_path)
    assert run.exit_code == 0, run.logs_tail
    assert "wrote /output/predictions.csv: 24 images" in run.logs_tail
    verdict = validate_file(tmp_path / "predictions.csv")
    assert verdict["prediction_file_status"] == "VALIDATED"
    assert verdict["images_scored"] == SMOKE_IMAGES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]


@pytest.mark.docker
def test_the_image_agrees_with_the_local_run(built, tmp_path):
    result = image_smoke(built.ops, built.reference, built.images, tmp_path,
                         built.local.predictions)
    comparison = result.comparison
    assert comparison.ok and comparison.rows == SMOKE_IMAGES
    assert comparison.top1_agree == SMOKE_IMAGES and comparison.top5_agree == SMOKE_IMAGES
    assert result.validation["prediction_file_status"] == "VALIDATED"
    assert result.img_per_s and result.img_per_s > 0
    assert "top-1 24/24, top-5 24/24" in "\n".join(result.lines())


@pytest.mark.docker
def test_an_image_with_another_model_is_caught(built, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(built.project, other)
    make_checkpoint(other / "model" / "tiny.pth", other / "model", "tiny", seed=2)
    local = local_smoke(built.answers, built.images, tmp_path / "local", project_root=other)
    with pytest.raises(PredictionsMismatchError) as caught:
        image_smoke(built.ops, built.reference, built.images, tmp_path / "image",
                    local.predictions)
    comparison = caught.value.comparison
    assert len(comparison.mismatches) >= SMOKE_IMAGES // 2
    assert comparison.mismatches[0].name in str(caught.value)


@pytest.mark.docker
def test_a_failing_container_shows_its_last_lines(built, tmp_path):
    with pytest.raises(ContainerFailedError) as caught:
        image_smoke(built.ops, built.reference, built.images, tmp_path,
                    built.local.predictions, extra_args=["--batch_size", "0"])
    assert caught.value.exit_code == 2
    assert "batch_size" in str(caught.value)


@pytest.mark.docker
def test_a_checkpoint_change_rebuilds_only_the_last_layer(built, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(built.project, project)
    # A seed no earlier run used, so the checkpoint layer cannot come from the cache.
    make_checkpoint(project / "model" / "tiny.pth", project / "model", "tiny",
                    seed=int(time.time() * 1000) % 2**31)
    answers = built.answers.model_copy(update={"tag": built.answers.tag + "-ckpt2"})
    events: list = []
    result = build_project(built.ops, project, answers, events)
    built.tags.append(answers.image_reference())
    cached = [e.number for e in events if isinstance(e, BuildCached)]
    assert cached == list(range(2, CHECKPOINT_STEP))
    assert result.cached_steps == CHECKPOINT_STEP - 2
    first = built.result.layer_ids
    assert result.layer_ids[:-1] == first[:-1]
    assert result.layer_ids[-1] != first[-1]
    assert result.size_over_base == pytest.approx(built.result.size_over_base, abs=1024)


@pytest.mark.docker
def test_push_pull_by_digest_and_record_the_submission(built, registry, tmp_path):
    events: list = []
    digest = built.ops.push(built.reference, events.append)
    assert digest.startswith("sha256:")
    assert any(isinstance(e, docker_events.PushProgress) for e in events)
    repository = built.reference.rsplit(":", 1)[0]
    pinned = f"{repository}@{digest}"
    assert pinned in built.ops.image_info(built.reference).repo_digests
    # The registry itself serves that manifest.
    path = repository.split("/", 1)[1]
    request = urllib.request.Request(
        f"http://{registry}/v2/{path}/manifests/{digest}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Docker-Content-Digest"] == digest
    pulled = built.ops.pull_by_digest(pinned)
    assert pulled.id == built.result.image_id

    torch_version = built.ops.torch_version(built.reference)
    assert torch_version.startswith("1.13")
    answers_file = tmp_path / "answers.toml"
    record = record_for(built.answers, built.project, digest, torch_version=torch_version,
                        image_id=pulled.id)
    written = write_submission(record, answers_file)
    assert written == tmp_path / "answers.submission.json"
    data = json.loads(written.read_text())
    (entry,) = data["submissions"]
    assert entry["pinned_reference"] == pinned and entry["digest"] == digest
    assert entry["image_reference"] == built.reference
    assert entry["torch_version"] == torch_version
    assert entry["checkpoint_sha256"] == sha256_file(built.project / "model" / "tiny.pth")
    assert entry["settings"]["convert_outputs_mode"] == 2


# ---- the submission record on its own ---------------------------------------------------------


DIGEST = "sha256:" + "ab" * 32


def test_records_append_oldest_first_and_hold_no_secret(tmp_path):
    project = tmp_path / "project"
    (project / "model").mkdir(parents=True)
    (project / "model" / "tiny.pth").write_bytes(b"weights")
    answers = tiny_answers()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = record_for(answers, project, DIGEST, torch_version="2.3.1", now=when)
    assert first.created == "2026-01-02T03:04:05+00:00"
    assert first.pinned_reference == f"127.0.0.1:5000/syn123/wizard-e2e@{DIGEST}"
    assert first.checkpoint_sha256 == sha256_file(project / "model" / "tiny.pth")
    assert "smoke_images" not in first.settings
    second = record_for(answers.model_copy(update={"tag": "v2"}), project, DIGEST,
                        torch_version="2.3.1", now=when)
    path = write_submission(first, tmp_path / "answers.toml")
    write_submission(second, tmp_path / "answers.toml")
    assert [r.image_reference.rsplit(":", 1)[1] for r in read_submissions(path)] == ["v1", "v2"]
    text = path.read_text().lower()
    for word in ("token", "password", "secret", "auth"):
        assert word not in text


def test_record_refuses_a_bad_digest_and_a_corrupt_file(tmp_path):
    project = tmp_path
    (project / "model").mkdir()
    (project / "model" / "tiny.pth").write_bytes(b"weights")
    with pytest.raises(SubmissionError, match="not an image digest"):
        record_for(tiny_answers(), project, "sha256:short", torch_version=None)
    answers_file = tmp_path / "answers.toml"
    submission_path(answers_file).write_text("{not json")
    record = record_for(tiny_answers(), project, DIGEST, torch_version=None)
    with pytest.raises(SubmissionError, match="move it away"):
        write_submission(record, answers_file)
    assert submission_path(answers_file).read_text() == "{not json"
