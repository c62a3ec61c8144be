"""The engine's command line end to end: real models, real images, the real CSV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from PIL import Image
from support import REPO, engine_command, read_rows, run_engine, save_checkpoint

from engine import mapping
from engine.plugin import build_model, load_transform
from engine.validate import validate_file
from wizard.samples import make_images


def demo_math(plugin_dir: Path, class_name: str, checkpoint: Path, folder: Path):
    """The ObjectNet demo's pipeline, written out directly: PIL, convert("RGB"), crop 2 px,
    transform, fp32 forward, softmax, top-5, then ImageNet -> ObjectNet id or -1."""
    index = {int(k): v for k, v in mapping.imagenet_to_objectnet().items()}
    model = build_model(plugin_dir, class_name)
    model.load_state_dict(torch.load(str(checkpoint), weights_only=True))
    model.eval()
    transform = load_transform(plugin_dir)
    rows = {}
    for path in sorted(folder.rglob("*.png")):
        image = Image.open(path).convert("RGB")
        width, height = image.size
        tensor = transform(image.crop((2, 2, width - 2, height - 2))).unsqueeze(0)
        with torch.no_grad():
            probabilities = torch.softmax(model(tensor), dim=1)
        confidences, ids = probabilities.topk(5)
        rows[path.name] = ([index.get(i, -1) for i in ids[0].tolist()], confidences[0].tolist())
    return rows


def parse(path: Path):
    rows = {}
    for fields in read_rows(path):
        assert len(fields) == 11, fields
        rows[fields[0]] = ([int(x) for x in fields[1::2]], [float(x) for x in fields[2::2]])
    return rows


def test_mode_1_rows_equal_the_demo_math(plugin_dir: Path, images: Path, tmp_path: Path) -> None:
    checkpoint = save_checkpoint(plugin_dir, "resnet18", tmp_path / "r18.pth", seed=7)
    out = tmp_path / "predictions.csv"
    result = run_engine(images, out, "resnet18", checkpoint, "--model-dir", plugin_dir,
                        "--workers", "2", "--batch_size", "5")
    assert result.returncode == 0, result.stderr
    got = parse(out)
    expected = demo_math(plugin_dir, "resnet18", checkpoint, images)
    assert list(got) == sorted(expected)
    for name, (ids, confidences) in expected.items():
        assert got[name][0] == ids, name
        assert got[name][1] == pytest.approx(confidences, abs=1e-5), name
    assert validate_file(out)["prediction_file_status"] == "VALIDATED"
    assert f"wrote {out}: 12 images, 0 unreadable" in result.stderr


def test_mode_2_gives_five_distinct_real_ids(plugin_dir, images, tiny_checkpoint, tmp_path):
    out = tmp_path / "p.csv"
    result = run_engine(images, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                        "--convert_outputs_mode", "2", "--workers", "0")
    assert result.returncode == 0, result.stderr
    for ids, confidences in parse(out).values():
        assert len(set(ids)) == 5 and all(0 <= i <= 312 for i in ids)
        assert confidences == sorted(confidences, reverse=True)


def test_mode_0_writes_the_models_own_ids(plugin_dir, images, tmp_path):
    checkpoint = save_checkpoint(plugin_dir, "tiny313", tmp_path / "t.pth")
    out = tmp_path / "p.csv"
    result = run_engine(images, out, "tiny313", checkpoint, "--model-dir", plugin_dir,
                        "--convert_outputs_mode", "0", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert all(len(set(ids)) == 5 for ids, _ in parse(out).values())


def test_softmax_off_writes_raw_scores(plugin_dir, images, tiny_checkpoint, tmp_path):
    on, off = tmp_path / "on.csv", tmp_path / "off.csv"
    common = ("tiny", tiny_checkpoint, "--model-dir", plugin_dir, "--workers", "0")
    assert run_engine(images, on, *common, "--softmax", "True").returncode == 0
    assert run_engine(images, off, *common, "--softmax", "False").returncode == 0
    with_softmax, without = parse(on), parse(off)
    assert with_softmax.keys() == without.keys()
    assert all(0 < c <= 1 for _, cs in with_softmax.values() for c in cs)
    # Softmax is monotonic: the same ranking, but raw scores are not probabilities.
    assert all(with_softmax[n][0] == without[n][0] for n in without)
    assert any(c > 1 or c < 0 for _, cs in without.values() for c in cs)


def test_unreadable_images_get_rows_and_exit_3(plugin_dir, tiny_checkpoint, tmp_path):
    folder = tmp_path / "in"
    good = make_images(folder, 4, seed=5)
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("not a picture")
    (folder / "truncated.png").write_bytes(good[0].read_bytes()[:700])
    Image.new("RGB", (3, 3)).save(folder / "tiny.png")
    Image.new("1", (10000, 9000)).save(folder / "huge.png")
    out = tmp_path / "p.csv"
    result = run_engine(folder, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                        "--workers", "2", "--batch_size", "3")
    assert result.returncode == 3, result.stderr
    rows = parse(out)
    assert len(rows) == 9 and list(rows) == sorted(rows)
    bad = ["empty.png", "huge.png", "text.jpg", "tiny.png", "truncated.png"]
    for name in bad:
        assert rows[name] == ([-1] * 5, [0.0] * 5)
        assert f"unreadable: {name}" in result.stderr
    assert all(ids != [-1] * 5 or cs != [0.0] * 5 for n, (ids, cs) in rows.items()
               if n not in bad)
    assert "5 unreadable" in result.stderr and "Traceback" not in result.stderr
    assert validate_file(out)["prediction_file_status"] == "VALIDATED"


@pytest.mark.parametrize(
    "setup, args, message",
    [
        ("dupes", (), "occur more than once"),
        ("empty", (), "no images in"),
        ("exists", (), "already exists: pass --overwrite"),
        ("none", ("--model-dir", "/nonexistent"), "model folder /nonexistent does not exist"),
        ("313", ("--convert_outputs_mode", "1", "--class", "tiny313"), "needs 1000 outputs"),
        ("none", ("--class", "nosuch"), "is not defined in"),
        ("none", ("--gpus", "3"), "--gpus 3 asked for more GPUs than are visible"),
        ("none", ("--precision", "fp16"), "fp16 needs a GPU"),
    ],
)
def test_configuration_errors_exit_2_before_reading_images(
        plugin_dir, images, tiny_checkpoint, tmp_path, setup, args, message):
    folder, out = images, tmp_path / "p.csv"
    if setup == "dupes":
        folder = tmp_path / "dupes"
        make_images(folder / "a", 1, seed=9)
        make_images(folder / "b", 1, seed=9)
    elif setup == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif setup == "exists":
        out.write_text("keep me\n")
    elif setup == "313":
        tiny_checkpoint = save_checkpoint(plugin_dir, "tiny313", tmp_path / "313.pth")
    args = list(args)
    model_class = "tiny"
    if "--class" in args:
        model_class = args[args.index("--class") + 1]
        del args[args.index("--class"):args.index("--class") + 2]
    if "--model-dir" not in args:
        args += ["--model-dir", plugin_dir]
    result = run_engine(folder, out, model_class, tiny_checkpoint, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    if setup == "exists":
        assert out.read_text() == "keep me\n"
    else:
        assert not out.exists()


def test_overwrite_replaces_an_existing_file(plugin_dir, images, tiny_checkpoint, tmp_path):
    out = tmp_path / "p.csv"
    out.write_text("old\n")
    result = run_engine(images, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                        "--workers", "0", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert len(read_rows(out)) == 12


def test_help_lists_every_option_with_its_default() -> None:
    result = subprocess.run(engine_command("--help"), cwd=str(REPO), capture_output=True,
                            text=True)
    assert result.returncode == 0
    for option in ("--workers", "--gpus", "--batch_size", "--softmax", "--convert_outputs_mode",
                   "--model-dir", "--border", "--overwrite", "--trust-checkpoint",
                   "--precision", "--compile"):
        assert option in result.stdout
    for default in ("default: 96", "default: true", "default: 2", "default: model",
                    "the CPU count", "all visible"):
        assert default in result.stdout
    assert "exit codes" in result.stdout


@pytest.mark.parametrize("word, value", [("False", False), ("no", False), ("0", False),
                                         ("TRUE", True), ("yes", True), ("1", True)])
def test_softmax_flag_parses_words(word: str, value: bool) -> None:
    from engine.cli import config_from_args

    assert config_from_args(["i", "o", "m", "c", "--softmax", word]).softmax is value


def test_sigkill_leaves_no_predictions_file(plugin_dir, tmp_path):
    folder = tmp_path / "many"
    make_images(folder, 60, seed=11)
    checkpoint = save_checkpoint(plugin_dir, "resnet18", tmp_path / "r18.pth")
    out = tmp_path / "out" / "predictions.csv"
    process = subprocess.Popen(
        engine_command(folder, out, "resnet18", checkpoint, "--model-dir", plugin_dir,
                       "--workers", "1", "--batch_size", "2"),
        cwd=str(REPO), stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stderr is not None
    # Kill it mid-run: after the first rows are written, well before the last.
    for line in process.stderr:
        if "images (" in line:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_torchrun_two_ranks_write_the_same_csv(plugin_dir, images, tiny_checkpoint, tmp_path):
    single, sharded = tmp_path / "single.csv", tmp_path / "sharded.csv"
    common = ("tiny", tiny_checkpoint, "--model-dir", plugin_dir, "--workers", "1", "--gpus", "0",
              "--batch_size", "4")
    assert run_engine(images, single, *common).returncode == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [engine_command()[0], "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "engine",
               *[str(a) for a in (images, sharded, *common)]]
    result = subprocess.run(command, cwd=str(REPO), capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = parse(single), parse(sharded)
    assert list(a) == list(b)
    for name in a:
        assert a[name][0] == b[name][0]
        assert a[name][1] == pytest.approx(b[name][1], abs=1e-6)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_validate_cli_reports_the_scorers_keys(plugin_dir, images, tiny_checkpoint, tmp_path):
    out = tmp_path / "p.csv"
    assert run_engine(images, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                      "--workers", "0").returncode == 0
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({name: 1 for name in parse(out)}))
    result = subprocess.run(
        [engine_command()[0], "-m", "engine.validate", str(out), "--answers", str(answers)],
        capture_output=True, text=True, cwd=str(REPO))
    report = json.loads(result.stdout)
    assert report["prediction_file_status"] == "VALIDATED"
    assert report["images_scored"] == report["total_images"] == 12


def test_a_failure_mid_run_is_one_line_and_leaves_no_file(plugin_dir, images, tiny_checkpoint,
                                                          tmp_path):
    out = tmp_path / "p.csv"
    result = run_engine(images, out, "batch_breaker", tiny_checkpoint, "--model-dir",
                        plugin_dir, "--workers", "0", "--batch_size", "4")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the run failed while predicting (RuntimeError: CUDA out of")
    assert "lower --batch_size" in last and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
