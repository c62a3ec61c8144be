"""The engine's progress lines in a log: a few by default (the challenge keeps only the last
lines), one per batch when OBJECTNET_ENGINE_PROGRESS=batch asks (the wizard's in-image smoke
run follows them), and each one readable back as (done, total)."""

from __future__ import annotations

import io

from engine.report import PROGRESS_ENV, make_reporter, progress_from_line


def _lines(environ: dict[str, str], batches: list[int], total: int) -> list[str]:
    stream = io.StringIO()
    reporter = make_reporter(stream, environ)
    for done in [0, *batches]:
        reporter.progress(done, total)
    return stream.getvalue().splitlines()


def test_by_default_a_log_gets_the_quarter_milestones_only() -> None:
    lines = _lines({}, list(range(4, 41, 4)), 40)
    assert [progress_from_line(line) for line in lines] == [(12, 40), (20, 40), (32, 40)]


def test_asked_for_it_a_log_gets_a_line_per_batch() -> None:
    lines = _lines({PROGRESS_ENV: "batch"}, [16, 32, 40], 40)
    assert lines[0] == "0/40 images (0%)"
    assert lines[1].startswith("16/40 images (40%), ") and lines[1].endswith(" img/s")
    assert [progress_from_line(line) for line in lines] == [(0, 40), (16, 40), (32, 40),
                                                             (40, 40)]


def test_other_lines_are_not_progress() -> None:
    for line in ("predicting 40 images on cpu (batch 16, 1 loader workers, fp32)",
                 "wrote /output/predictions.csv: 40 images, 0 unreadable, 3.0 s",
                 "unreadable: 12/40 images (30%).png: truncated"):
        assert progress_from_line(line) is None
