"""The predictions validator on real files written here, with the scorer's rules."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.mapping import convert_top5
from engine.validate import load_answers, validate_file, validate_rows

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = {"prediction_file_status", "prediction_file_errors", "accuracy", "top5_accuracy",
        "images_scored", "total_images"}
ANSWERS = {"0a.png": 10, "0b.png": 20, "0c.png": 30, "0d.png": 40}


def row(name, ids, confs=(0.5, 0.2, 0.1, 0.1, 0.1)):
    fields = [name]
    for i, c in zip(ids, confs, strict=True):
        fields += [str(i), str(c)]
    return fields


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


GOOD = [
    row("0a.png", [10, 1, 2, 3, 4]),  # top-1
    row("0b.png", [1, 2, 20, -1, -1]),  # top-5 only
    row("0c.png", [1, 2, 3, 4, 5]),  # wrong
]  # 0d.png missing: counts as wrong


@pytest.fixture
def answers_file(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(ANSWERS), encoding="utf-8")
    return path


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "engine.validate", *map(str, args)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_scores_a_good_file_in_percent(tmp_path, answers_file):
    result = validate_file(write_csv(tmp_path / "p.csv", GOOD), answers_file)
    assert result == {
        "prediction_file_status": "VALIDATED",
        "prediction_file_errors": [],
        "accuracy": 25.0,
        "top5_accuracy": 50.0,
        "images_scored": 3,
        "total_images": 4,
    }


def test_without_answers_checks_format_only(tmp_path):
    result = validate_file(write_csv(tmp_path / "p.csv", GOOD))
    assert result["prediction_file_status"] == "VALIDATED"
    assert result["accuracy"] is None and result["top5_accuracy"] is None
    assert result["total_images"] == result["images_scored"] == 3


def test_answers_may_be_a_dict_and_rows_may_hold_numbers():
    rows = [["0a.png", 10, 0.9, 1, 0.05, 2, 0.03, -1, 0.01, -1, 0]]
    result = validate_rows(rows, ANSWERS)
    assert result["prediction_file_status"] == "VALIDATED"
    assert result["accuracy"] == 25.0


def test_scorer_leniencies_are_kept(tmp_path, answers_file):
    # An empty id counts as -1 and a leading directory is dropped, as in the scorer.
    rows = [["images/0a.png", "10", "0.9", "", "0.1", " 3", "0.0", "-1", "0", "4", "1e-3"]]
    result = validate_file(write_csv(tmp_path / "p.csv", rows), answers_file)
    assert result["prediction_file_status"] == "VALIDATED", result
    assert result["accuracy"] == 25.0


@pytest.mark.parametrize(("rows", "expected"), [
    ([GOOD[0][:-1]], "line 1: has 10 fields, expected 11"),
    ([[*GOOD[0], "x"]], "line 1: has 12 fields, expected 11"),
    ([GOOD[0], row("0b.png", [1, "3.0", 2, 3, 4])], "line 2: id 2 is '3.0', not an integer"),
    ([row("0a.png", ["cat", 1, 2, 3, 4])], "line 1: id 1 is 'cat', not an integer"),
    ([row("0a.png", [1, 2, 3, 4, 313])], "line 1: id 5 is 313, outside -1..312"),
    ([row("0a.png", [-2, 2, 3, 4, 5])], "line 1: id 1 is -2, outside -1..312"),
    ([row("0a.png", [1, 2, 3, 4, 5], [0.5, "high", 0, 0, 0])],
     "line 1: confidence 2 is 'high', not a finite number"),
    ([row("0a.png", [1, 2, 3, 4, 5], [0.5, "nan", 0, 0, 0])],
     "line 1: confidence 2 is 'nan', not a finite number"),
    ([GOOD[0], GOOD[1], GOOD[0]], "line 3: image '0a.png' repeats line 1"),
    ([GOOD[0], ["sub/0a.png", *GOOD[0][1:]]], "line 2: image '0a.png' repeats line 1"),
    ([GOOD[0], row("zz.png", [1, 2, 3, 4, 5])], "line 2: image 'zz.png' is not in the answers"),
    ([["filename", "id1", "conf1"], GOOD[0]], "line 1: looks like a header row"),
    ([GOOD[0], [], GOOD[1]], "line 2: empty line"),
    ([], "line 1: file is empty"),
])
def test_bad_files_are_invalid_with_the_line_named(tmp_path, answers_file, rows, expected):
    result = validate_file(write_csv(tmp_path / "p.csv", rows), answers_file)
    assert result["prediction_file_status"] == "INVALID"
    assert result["accuracy"] is None and result["top5_accuracy"] is None
    assert any(e.startswith(expected) for e in result["prediction_file_errors"]), result


def test_byte_order_mark_is_reported(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("\ufeff" + ",".join(GOOD[0]) + "\n", encoding="utf-8")
    errors = validate_file(path)["prediction_file_errors"]
    assert errors and "byte-order mark" in errors[0]


def test_non_utf8_file_is_invalid(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(",".join(GOOD[0]).encode() + b"\n\xff\xfe,1,0\n")
    result = validate_file(path)
    assert result["prediction_file_status"] == "INVALID"
    assert "not UTF-8" in result["prediction_file_errors"][-1]


def test_every_problem_is_listed_up_to_a_cap(tmp_path):
    rows = [row(f"{i}.png", [999, 1, 2, 3, 4]) for i in range(30)]
    errors = validate_file(write_csv(tmp_path / "p.csv", rows))["prediction_file_errors"]
    assert len(errors) == 21
    assert errors[0].startswith("line 1: id 1 is 999")
    assert errors[19].startswith("line 20: ")
    assert errors[20] == "... and 10 more errors"


def test_engine_output_of_every_mode_validates(tmp_path):
    # What the engine writes: names, then convert_top5's ids and confidences interleaved.
    names = list(ANSWERS)
    probs = torch.randn(len(names), 1000, generator=torch.Generator().manual_seed(3))
    for mode, scores in ((0, probs[:, :313]), (1, probs.softmax(1)), (2, probs.softmax(1))):
        ids, confs = convert_top5(scores, mode)
        rows = [[name, *(v for pair in zip(i, c, strict=True) for v in pair)]
                for name, i, c in zip(names, ids.tolist(), confs.tolist(), strict=True)]
        result = validate_file(write_csv(tmp_path / f"m{mode}.csv", rows), ANSWERS)
        assert result["prediction_file_status"] == "VALIDATED", (mode, result)
        assert result["images_scored"] == result["total_images"] == 4


@pytest.mark.parametrize("content", ["[1, 2]", '{"a.png": "3"}', '{"a.png": true}', "{}",
                                     "{not json"])
def test_unusable_answers_raise_one_line_value_error(tmp_path, content):
    path = tmp_path / "answers.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="answers file") as info:
        load_answers(path)
    assert "\n" not in str(info.value)


def test_missing_predictions_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        validate_file(tmp_path / "absent.csv")


def test_cli_prints_the_scorer_keys_and_exits_by_status(tmp_path, answers_file):
    good = run_cli(write_csv(tmp_path / "good.csv", GOOD), "--answers", answers_file)
    assert good.returncode == 0, good.stderr
    assert set(json.loads(good.stdout)) == KEYS
    assert json.loads(good.stdout)["top5_accuracy"] == 50.0

    bad = run_cli(write_csv(tmp_path / "bad.csv", [GOOD[0], GOOD[0]]), "-a", answers_file)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["prediction_file_status"] == "INVALID"


@pytest.mark.parametrize("args", [["absent.csv"], ["good.csv", "--answers", "absent.json"],
                                  ["."], []])
def test_cli_exits_2_on_unusable_arguments(tmp_path, args):
    write_csv(tmp_path / "good.csv", GOOD)
    done = subprocess.run([sys.executable, "-m", "engine.validate", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error" in done.stderr and "Traceback" not in done.stderr
