"""The wizard's smoke stage reports the accuracy of both conversions when its images carry
labels, in the CLI as in the TUI (both show LocalSmokeResult.lines())."""

from __future__ import annotations

from pathlib import Path

from projects import make_answered_project
from test_wizard_cli import wizard

from engine.mapping import objectnet_folders
from engine.validate import validate_file
from wizard.samples import make_images


def test_smoke_stage_shows_the_score_of_both_conversions(tmp_path: Path) -> None:
    project = make_answered_project(tmp_path / "project", smoke_images="labelled")
    folders = objectnet_folders()
    answers = {}
    for number, folder in enumerate(("alarm_clock", "banana", "chair")):
        for path in make_images(project / "labelled" / folder, 3, seed=number,
                                prefix=f"{folder}-"):
            answers[path.name] = folders.index(folder)
    result = wizard("run", "--answers", project / "answers.toml", "--until", "smoke")
    assert result.returncode == 0, result.stderr
    scored = validate_file(project / ".objectnet-wizard" / "smoke-local" / "predictions.csv",
                           answers)
    line = next(line for line in result.stderr.splitlines() if "score on 9 labelled" in line)
    assert "(ObjectNet class folders)" in line
    # The answers write mode 2; the smoke line's mode-2 figures are the scorer's.
    assert (f"mode 2 (ImageNet scores collapsed onto ObjectNet) top-1 "
            f"{scored['accuracy']:.1f}%, top-5 {scored['top5_accuracy']:.1f}%") in line
    assert "mode 1 (ImageNet top-5 mapped, as the demo did) top-1" in line
    assert ("scores better: it is picked by convert_outputs_mode" in result.stderr
            or "score the same on these images" in result.stderr)
