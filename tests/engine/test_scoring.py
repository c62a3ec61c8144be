"""Scoring from ObjectNet's folder layout, and both conversions from one forward pass.

The labelled folder is built here from generated images: each image goes into the ObjectNet
class folder of the id the model's mode-2 top-1 gives it (two thirds of them) or of another
id (the rest), so the scores are known without trusting the code under test, and differ
between the conversions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, read_rows, run_engine

from engine.labels import folder_ids
from engine.mapping import objectnet_folders
from engine.validate import validate_file
from wizard.samples import make_images

COUNT = 12


def validate_cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.validate", *map(str, args)],
                          cwd=str(REPO), capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def labelled(plugin_dir: Path, tiny_checkpoint: Path, tmp_path_factory) -> dict:
    """An ObjectNet-layout folder, the same labels as an answers JSON, and the mode-2 CSV."""
    root = tmp_path_factory.mktemp("labelled")
    flat = root / "flat"
    make_images(flat, COUNT, seed=7)
    mode2 = root / "mode2.csv"
    result = run_engine(flat, mode2, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                        "--workers", "0", "--convert_outputs_mode", "2")
    assert result.returncode == 0, result.stderr
    folders = objectnet_folders()
    answers = {}
    for number, row in enumerate(read_rows(mode2)):
        top1 = int(row[1])
        answers[row[0]] = top1 if number % 3 else (top1 + 1) % len(folders)
    images = root / "objectnet-1.0" / "images"
    for name, answer in answers.items():
        (images / folders[answer]).mkdir(parents=True, exist_ok=True)
        shutil.copy(flat / name, images / folders[answer] / name)
    answers_file = root / "answers.json"
    answers_file.write_text(json.dumps(answers), encoding="utf-8")
    expected_top1 = 100.0 * sum(1 for number in range(COUNT) if number % 3) / COUNT
    return {"images": images, "answers": answers_file, "mode2": mode2, "flat": flat,
            "expected_mode2_top1": expected_top1}


def test_folders_and_answers_json_score_the_same(labelled):
    by_folders = validate_cli(labelled["mode2"], "--images-dir", labelled["images"])
    by_answers = validate_cli(labelled["mode2"], "--answers", labelled["answers"])
    assert by_folders.returncode == by_answers.returncode == 0, by_folders.stderr
    folders_json, answers_json = json.loads(by_folders.stdout), json.loads(by_answers.stdout)
    assert folders_json == answers_json
    assert folders_json["prediction_file_status"] == "VALIDATED"
    assert folders_json["accuracy"] == pytest.approx(labelled["expected_mode2_top1"])
    assert folders_json["total_images"] == COUNT


def test_a_folder_that_is_not_objectnet_is_named(labelled, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(labelled["images"], images)
    stray = images / "holiday_photos"
    stray.mkdir()
    shutil.copy(next(labelled["flat"].glob("*.png")), stray / "extra.png")
    result = validate_cli(labelled["mode2"], "--images-dir", images)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(stray) in result.stderr and "not an ObjectNet class folder" in result.stderr


def test_an_image_outside_the_class_folders_is_named(labelled, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(labelled["images"], images)
    shutil.copy(next(labelled["flat"].glob("*.png")), images / "loose.png")
    result = validate_cli(labelled["mode2"], "--images-dir", images)
    assert result.returncode == 2
    assert "loose.png is not inside a class folder" in result.stderr


def test_folder_table_has_every_objectnet_folder():
    ids = folder_ids()
    assert len(ids) == 313
    assert ids["air_freshener"] == 0


@pytest.mark.parametrize("labels", ["folders", "answers.json"])
def test_score_reports_both_conversions_from_one_pass(labelled, plugin_dir, tiny_checkpoint,
                                                      tmp_path, labels):
    """--score's figures for modes 1 and 2 equal the scorer's on each mode's own CSV."""
    if labels == "folders":
        images = labelled["images"]
    else:
        images = tmp_path / "flat"
        shutil.copytree(labelled["flat"], images)
        shutil.copy(labelled["answers"], images / "answers.json")
    scored = {}
    for mode in (1, 2):
        out = tmp_path / f"mode{mode}.csv"
        result = run_engine(images, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                            "--workers", "0", "--convert_outputs_mode", mode, "--score")
        assert result.returncode == 0, result.stderr
        scored[mode] = (validate_file(out, labelled["answers"]), result.stderr)
    for mode in (1, 2):
        log = scored[mode][1]
        line = next(line for line in log.splitlines() if line.startswith("score on"))
        assert f"score on {COUNT} labelled images" in line
        for other in (1, 2):
            truth = scored[other][0]
            assert (f"mode {other} ({_name(other)}) top-1 {truth['accuracy']:.1f}%, "
                    f"top-5 {truth['top5_accuracy']:.1f}%") in line
    assert scored[2][0]["accuracy"] > scored[1][0]["accuracy"]
    assert ("mode 2 scores better: it is picked by convert_outputs_mode = 2 in the wizard's "
            "answers (engine: --convert_outputs_mode 2); predictions.csv holds mode 1"
            ) in scored[1][1]


def test_score_without_labels_says_so_once(plugin_dir, tiny_checkpoint, images, tmp_path):
    result = run_engine(images, tmp_path / "p.csv", "tiny", tiny_checkpoint, "--model-dir",
                        plugin_dir, "--workers", "0", "--score")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("the images carry no labels") == 1
    assert "score on" not in result.stderr


def _name(mode: int) -> str:
    from engine.scores import MODE_NAMES

    return MODE_NAMES[mode]


def test_per_class_hits_of_both_conversions_from_one_pass_and_across_ranks():
    """The tally's per-class top-1 hits for modes 1 and 2 equal a count over each mode's own
    top-1, and two ranks' counts merge into the one-rank count."""
    import torch

    from engine.mapping import convert_top5, imagenet_to_objectnet
    from engine.scores import Tally, merge_counts

    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(40, 1000, generator=generator).softmax(dim=1)
    mapped = sorted(imagenet_to_objectnet())
    for row in range(0, 40, 4):  # some images whose ImageNet top-1 has an ObjectNet class
        scores[row, mapped[row]] = 1.0
    top1 = {mode: convert_top5(scores, mode)[0][:, 0].tolist() for mode in (1, 2)}
    labels = [top1[1][i] if i % 4 == 0 else top1[2][i] if i % 4 == 1 else (i * 7) % 313
              for i in range(40)]
    labels[-1] = -2  # unlabelled: in no class, in no total
    expected: dict = {}
    for mode in (1, 2):
        for i, label in enumerate(labels):
            if label >= 0:
                counts = expected.setdefault(label, {"1": 0, "2": 0, "images": 0})
                counts[str(mode)] += top1[mode][i] == label
                counts["images"] += mode == 1

    whole = Tally(labels, "test", written_mode=2)
    whole.add(torch.arange(40), scores)
    per_class = whole.scores().per_class()
    assert {c["id"]: {**c["top1_hits"], "images": c["images"]} for c in per_class} == expected
    assert sum(c["top1_hits"]["1"] for c in per_class) == whole.scores().modes[0].top1 > 0
    assert sum(c["top1_hits"]["2"] for c in per_class) == whole.scores().modes[1].top1 > \
        whole.scores().modes[0].top1

    ranks = []
    for rank in (0, 1):
        part = Tally(labels[rank::2], "test", written_mode=2)
        for start in range(0, 20, 8):  # batches of one rank's images
            index = torch.arange(start, min(start + 8, 20))
            part.add(index, scores[rank::2][index])
        ranks.append(part.counts())
    assert merge_counts(ranks) == whole.counts()
