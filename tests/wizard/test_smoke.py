"""wizard.agreement and wizard.smoke: the comparison rule on hand-made predictions, and the
local smoke run with the real engine on a tiny model (seconds on two cores)."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import make_project, tiny_answers

from engine.config import Config
from wizard.agreement import Tolerance, compare_predictions, read_predictions
from wizard.errors import SmokeError
from wizard.runner_profile import FULL_TEST_SET
from wizard.samples import generated_images, make_images
from wizard.smoke import LocalSmokeError, local_smoke


def write_csv(path: Path, rows: dict[str, list[tuple[int, float]]]) -> Path:
    lines = []
    for name, pairs in rows.items():
        fields = [name] + [f"{value}" for pair in pairs for value in pair]
        lines.append(",".join(fields))
    path.write_text("\n".join(lines) + "\n")
    return path


BASE = {
    "a.png": [(5, 0.60), (7, 0.20), (9, 0.10), (11, 0.05), (13, 0.02)],
    "b.png": [(1, 0.40), (2, 0.30), (3, 0.15), (4, 0.10), (6, 0.01)],
}


# ---- the comparison rule ---------------------------------------------------------------------


def test_identical_predictions_agree(tmp_path):
    local = write_csv(tmp_path / "local.csv", BASE)
    comparison = compare_predictions(local, local)
    assert comparison.ok
    assert (comparison.rows, comparison.top1_agree, comparison.top5_agree) == (2, 2, 2)
    assert comparison.ties == ()


def test_rounding_differences_agree(tmp_path):
    local = write_csv(tmp_path / "local.csv", BASE)
    nudged = {name: [(i, c * (1 + 1e-6)) for i, c in pairs] for name, pairs in BASE.items()}
    assert compare_predictions(local, write_csv(tmp_path / "image.csv", nudged)).ok


def test_tied_classes_may_swap(tmp_path):
    tied = {"a.png": [(5, 0.60), (7, 0.2), (9, 0.2), (11, 0.05), (13, 0.02)]}
    swapped = {"a.png": [(5, 0.60), (9, 0.2), (7, 0.2000001), (11, 0.05), (13, 0.02)]}
    comparison = compare_predictions(write_csv(tmp_path / "l.csv", tied),
                                     write_csv(tmp_path / "i.csv", swapped))
    assert comparison.ok
    assert comparison.ties == ("a.png",)
    assert comparison.top5_agree == 1


def test_rank_five_may_swap_with_the_unseen_sixth(tmp_path):
    other = {"a.png": [*BASE["a.png"][:4], (99, 0.02)]}
    comparison = compare_predictions(write_csv(tmp_path / "l.csv", {"a.png": BASE["a.png"]}),
                                     write_csv(tmp_path / "i.csv", other))
    assert comparison.ok and comparison.ties == ("a.png",)
    assert comparison.top5_agree == 0


def test_a_swap_without_a_tie_is_a_mismatch_naming_the_row(tmp_path):
    swapped = dict(BASE, **{"b.png": [(2, 0.40), (1, 0.30), (3, 0.15), (4, 0.10), (6, 0.01)]})
    comparison = compare_predictions(write_csv(tmp_path / "l.csv", BASE),
                                     write_csv(tmp_path / "i.csv", swapped))
    assert not comparison.ok
    (difference,) = comparison.mismatches
    assert (difference.name, difference.rank) == ("b.png", 1)
    assert comparison.problems() == ["b.png rank 1: id 1 (0.4) here but 2 (0.4) in the image"]
    assert comparison.top1_agree == 1 and comparison.top5_agree == 2


def test_a_different_confidence_is_a_mismatch(tmp_path):
    changed = dict(BASE, **{"a.png": [(5, 0.55), *BASE["a.png"][1:]]})
    comparison = compare_predictions(write_csv(tmp_path / "l.csv", BASE),
                                     write_csv(tmp_path / "i.csv", changed))
    assert [d.name for d in comparison.mismatches] == ["a.png"]
    assert "confidence 0.6 here but 0.55 in the image" in comparison.problems()[0]


def test_missing_and_extra_images_are_mismatches(tmp_path):
    image = {"b.png": BASE["b.png"], "c.png": BASE["a.png"]}
    comparison = compare_predictions(write_csv(tmp_path / "l.csv", BASE),
                                     write_csv(tmp_path / "i.csv", image))
    assert not comparison.ok
    assert comparison.missing == ("a.png",) and comparison.extra == ("c.png",)
    assert comparison.rows == 1


def test_the_tolerance_scales_with_precision(tmp_path):
    nudged = {name: [(i, c * 1.01) for i, c in pairs] for name, pairs in BASE.items()}
    local = write_csv(tmp_path / "l.csv", BASE)
    image = write_csv(tmp_path / "i.csv", nudged)
    assert not compare_predictions(local, image, "fp32").ok
    assert compare_predictions(local, image, "bf16").ok
    assert Tolerance(rel=0.0, abs=0.0).agree(0.5, 0.5)


def test_a_broken_file_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text("a.png,1,0.5\n")
    with pytest.raises(SmokeError, match="line 1 is not a predictions row"):
        read_predictions(broken)


# ---- local smoke -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    make_images(folder, 12, seed=5)
    return folder


def test_local_smoke_from_answers(project, images, tmp_path):
    progress = []
    result = local_smoke(tiny_answers(), images, tmp_path / "out",
                         lambda done, total: progress.append((done, total)),
                         project_root=project)
    assert result.validation["prediction_file_status"] == "VALIDATED"
    assert result.validation["images_scored"] == result.images == 12
    assert result.predictions == tmp_path / "out" / "predictions.csv"
    assert len(read_predictions(result.predictions)) == 12
    assert progress[-1] == (12, 12)
    assert result.steady_img_per_s > 0 and result.device == "cpu" and not result.generated
    assert result.estimate_full_s == pytest.approx(
        result.startup_s + FULL_TEST_SET / result.steady_img_per_s)
    text = "\n".join(result.lines())
    assert "in fp32 on this machine (cpu)" in text and "50,273" in text
    # Run again into the same folder: the smoke output is the wizard's own, so it is replaced.
    again = local_smoke(tiny_answers(), images, tmp_path / "out", project_root=project)
    assert compare_predictions(result.predictions, again.predictions).ok


def test_local_smoke_from_a_config_runs_its_images_folder(project, images, tmp_path):
    config = Config(images_dir=images, output_file=Path("ignored.csv"), model_class="tiny",
                    checkpoint=project / "model" / "tiny.pth", model_dir=project / "model",
                    workers=0, gpus=0)
    result = local_smoke(config, None, tmp_path / "out")
    assert result.images_dir == images and result.images == 12
    assert result.predictions == tmp_path / "out" / "predictions.csv"


def test_without_smoke_images_generated_ones_are_made_once(project, tmp_path):
    result = local_smoke(tiny_answers(), None, tmp_path / "out", project_root=project,
                         cache_dir=tmp_path / "cache", count=6)
    assert result.generated and result.images == 6
    assert result.images_dir == tmp_path / "cache" / "smoke-images-6-seed0"
    before = {p.name: p.stat().st_mtime_ns for p in result.images_dir.iterdir()}
    assert generated_images(tmp_path / "cache", 6) == result.images_dir
    assert {p.name: p.stat().st_mtime_ns for p in result.images_dir.iterdir()} == before
    # No half-made folder is left beside it.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["smoke-images-6-seed0"]
    # Readable by a runner that is not root (the strict pass runs as 1000:1000).
    assert result.images_dir.stat().st_mode & 0o777 == 0o755
    result.images_dir.chmod(0o700)  # as an older wizard left it
    generated_images(tmp_path / "cache", 6)
    assert result.images_dir.stat().st_mode & 0o777 == 0o755


def test_local_smoke_uses_the_answers_smoke_images(project, images, tmp_path):
    answers = tiny_answers(smoke_images=str(images))
    result = local_smoke(answers, None, tmp_path / "out", project_root=project)
    assert result.images_dir == images and result.images == 12


def test_an_engine_error_is_one_line(project, images, tmp_path):
    answers = tiny_answers(model_class="tiny_typo")
    with pytest.raises(LocalSmokeError) as caught:
        local_smoke(answers, images, tmp_path / "out", project_root=project)
    message = str(caught.value)
    assert message.startswith("the engine could not run the model here: ")
    assert "tiny_typo" in message and "\n" not in message


def test_a_missing_images_folder_is_one_line(project, tmp_path):
    with pytest.raises(LocalSmokeError, match=r"smoke images folder .* does not exist"):
        local_smoke(tiny_answers(), tmp_path / "nothing", tmp_path / "out",
                    project_root=project)


def test_a_model_that_fails_mid_run_is_one_line_naming_it(images, tmp_path):
    """A model that passes the start-up check (one stand-in image) and then raises on a real
    batch is the user's failure, told in one line like the engine's command line tells it,
    not an "unexpected RuntimeError" from the wizard."""
    project = make_project(tmp_path / "project")
    with (project / "model" / "model_description.py").open("a") as code:
        code.write("\n\nclass fails_later(tiny):\n"
                   "    def forward(self, x):\n"
                   "        if x.shape[0] > 1:\n"
                   "            raise RuntimeError('boom in the forward\\nsecond line')\n"
                   "        return super().forward(x)\n")
    answers = tiny_answers(model_class="fails_later", batch_size=4)
    with pytest.raises(LocalSmokeError) as caught:
        local_smoke(answers, images, tmp_path / "out", project_root=project)
    message = str(caught.value)
    assert message.startswith("the model failed during the local smoke run: ")
    assert "RuntimeError: boom in the forward" in message and "\n" not in message
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_a_run_that_predicted_nothing_is_not_a_pass(project, tmp_path):
    """Every image unreadable: the run wrote only -1 rows and checked nothing, yet the stage
    said ✓ (hostile testing, issue 12). One unreadable image among good ones stays a pass,
    named in the result's lines."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"not a jpeg")
    (broken / "b.png").write_bytes(b"")
    with pytest.raises(LocalSmokeError) as caught:
        local_smoke(tiny_answers(), broken, tmp_path / "out", project_root=project)
    message = str(caught.value)
    assert message.startswith("none of the 2 smoke images could be read (a.jpg: "), message
    assert "\n" not in message
    make_images(broken, 3, seed=2)
    result = local_smoke(tiny_answers(), broken, tmp_path / "out", project_root=project)
    assert result.images == 5 and len(result.unreadable) == 2
    assert any(line.startswith("unreadable: a.jpg: ") for line in result.lines())


def test_scores_that_are_not_finite_fail_the_run(images, tmp_path):
    """A model whose forward gives NaN (finite weights, so the start-up check on the meta
    device cannot see it) wrote -1 rows for every image and the stage said ✓; the image run
    refused the same model at start-up. Any image with NaN or Inf scores fails the run."""
    project = make_project(tmp_path / "project")
    with (project / "model" / "model_description.py").open("a") as code:
        code.write("\n\nclass gives_nan(tiny):\n"
                   "    def forward(self, x):\n"
                   "        return super().forward(x) * float('nan')\n")
    with pytest.raises(LocalSmokeError) as caught:
        local_smoke(tiny_answers(model_class="gives_nan"), images, tmp_path / "out",
                    project_root=project)
    message = str(caught.value)
    assert message.startswith("the model's scores are not finite (NaN or Inf) for 12 of 12 "
                              "images"), message
    assert "\n" not in message
