"""The report in a real headless browser (Debian's chromium): every image loads, and every
number on the page equals the one in report.json."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from docker_env import require_docker
from projects import make_answered_project
from test_wizard_cli import wizard

from wizard.report import PLOTS, BatchClock, estimate
from wizard.samples import make_images

PROBE = """
<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: [...document.images].map(i => [i.getAttribute("src"),
                                           i.complete && i.naturalWidth > 0]),
    cells: Object.fromEntries([...document.querySelectorAll("[data-key]")]
                              .map(e => [e.dataset.key, e.textContent])),
  });
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium is not installed: run `scripts/test-env up` as root"
        if require_docker():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def lookup(data: dict, key: str):
    value = data
    for part in key.split("."):
        if isinstance(value, list):
            value = next(item for item in value if str(item["id"]) == part)
        else:
            value = value[part]
    return value


def test_report_in_a_real_browser(tmp_path: Path) -> None:
    browser = chromium()
    project = make_answered_project(tmp_path / "project", smoke_images="labelled")
    for number, folder in enumerate(("alarm_clock", "banana", "chair")):
        make_images(project / "labelled" / folder, 4, seed=number, prefix=f"{folder}-")
    out = tmp_path / "report"
    result = wizard("report", "--answers", project / "answers.toml", "--out", out)
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "report.json").read_text())
    assert data["labelled_images"] == 12
    assert [c["label"] for c in data["per_class"]] == ["Alarm clock", "Banana", "Chair"]
    assert set(data["modes"]) == {"1", "2"}

    probe = out / "probe.html"
    probe.write_text((out / "report.html").read_text().replace("</body>", PROBE + "</body>"))
    dumped = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
         probe.as_uri()], capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.DOTALL)
    assert found, dumped.stdout[-2000:]
    seen = json.loads(html.unescape(found.group(1)))

    assert sorted(src for src, _ in seen["images"]) == sorted(PLOTS)
    assert all(loaded for _, loaded in seen["images"]), seen["images"]
    cells = seen["cells"]
    assert len(cells) == 2 * 2 + 2 * 3 + 4
    for key, text in cells.items():
        value = lookup(data, key)
        if isinstance(value, int):
            assert int(text) == value, key
        else:
            digits = 0 if key == "estimate.median_s" else 1
            assert float(text) == pytest.approx(round(value, digits)), key


def test_estimate_spread_comes_from_the_batches():
    clock = BatchClock(((0.0, 0), (1.0, 8), (2.0, 16), (3.0, 24), (5.0, 32), (6.0, 40)))
    assert clock.rates() == [8.0, 8.0, 4.0, 8.0]
    figures = estimate(10.0, clock.rates())
    assert figures["median_s"] == pytest.approx(10.0 + 50_273 / 8.0)
    assert figures["high_s"] == pytest.approx(10.0 + 50_273 / 4.0)
    assert figures["low_s"] == pytest.approx(10.0 + 50_273 / 8.0)
    assert estimate(1.0, [])["median_s"] is None
