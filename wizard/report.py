"""A report of the local smoke run on labelled images: a folder with report.html, PNG plots
(matplotlib, a wizard-side extra) and report.json holding every number the page shows.

It shows per-class top-1 accuracy for the classes present, for each conversion (modes 1 and 2
side by side for a model with 1,000 ImageNet outputs, mode 0 alone for one that gives
ObjectNet ids; the engine counts both conversions' hits per class in the same forward pass),
the conversions' overall scores side by side, a reliability diagram (top-1 confidence against
accuracy), the time split (start-up, decoding, model), and the estimate for the 50,273-image
test set with its spread, taken from the rates of the run's batches rather than from one
figure.
"""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wizard.agreement import read_predictions
from wizard.errors import WizardError
from wizard.runner_profile import FULL_TEST_SET, duration

RELIABILITY_BINS = 10
PLOTS = ("per_class.png", "modes.png", "reliability.png", "time.png", "estimate.png")


class ReportError(WizardError):
    """The report cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class BatchClock:
    """(seconds since the run started, images done) at the end of each batch."""

    marks: tuple[tuple[float, int], ...]

    def rates(self) -> list[float]:
        """Images per second of each batch after the first (the first includes the loader's
        start)."""
        out = []
        for (t0, d0), (t1, d1) in zip(self.marks, self.marks[1:], strict=False):
            if t1 > t0 and d1 > d0:
                out.append((d1 - d0) / (t1 - t0))
        return out[1:] if len(out) > 2 else out


def estimate(startup_s: float, rates: Sequence[float]) -> dict[str, float | None]:
    """The test set's time at the median batch rate, with the range the slowest and fastest
    tenth of batches give (None where there are too few batches for a spread)."""
    if not rates:
        return {"median_s": None, "low_s": None, "high_s": None, "batches": 0}
    ordered = sorted(rates)
    median = statistics.median(ordered)
    slow = ordered[int(0.1 * (len(ordered) - 1))]
    fast = ordered[round(0.9 * (len(ordered) - 1))]
    return {"median_s": startup_s + FULL_TEST_SET / median,
            "low_s": startup_s + FULL_TEST_SET / fast if len(ordered) > 1 else None,
            "high_s": startup_s + FULL_TEST_SET / slow if len(ordered) > 1 else None,
            "batches": len(ordered)}


NO_LABELS = ("the report scores the model on labelled images: set smoke_images to a folder in "
             "ObjectNet's layout (<class folder>/<file>.png) or with an answers.json")


def labels_of(folder: Path) -> dict[str, int]:
    """The labels the images in `folder` carry; ReportError when they carry none, or mix
    ObjectNet's class folders with others."""
    from engine.labels import LabelsError, find_labels

    try:
        labels = find_labels(folder)
    except LabelsError as error:
        raise ReportError(str(error)) from error
    if not labels:
        raise ReportError(f"the smoke images carry no labels: {NO_LABELS}")
    return labels


def build_data(smoke: Any, labels: Mapping[str, int], clock: BatchClock) -> dict[str, Any]:
    """Every number of the report, from a LocalSmokeResult on labelled images."""
    from engine.mapping import objectnet_labels

    if smoke.scores is None:
        raise ReportError(f"the smoke images carry no labels: {NO_LABELS}")
    names = objectnet_labels()
    rows = read_predictions(smoke.predictions)
    bins = [[0, 0, 0.0] for _ in range(RELIABILITY_BINS)]  # images, correct, confidence sum
    for name, truth in labels.items():
        ids, confidences = rows.get(name, ([-1] * 5, [0.0] * 5))
        correct = ids[0] == truth
        confidence = min(max(confidences[0], 0.0), 1.0)
        slot = bins[min(int(confidence * RELIABILITY_BINS), RELIABILITY_BINS - 1)]
        slot[0] += 1
        slot[1] += correct
        slot[2] += confidence
    scores = smoke.scores.as_dict()
    return {
        "images": smoke.images,
        "labelled_images": scores["labelled_images"],
        "device": smoke.device,
        "written_mode": scores["written_mode"],
        "best_mode": scores["best_mode"],
        "modes": scores["modes"],
        "per_class": [{"id": c["id"], "label": names[c["id"]], "images": c["images"],
                       "top1_accuracy": c["top1_accuracy"]} for c in scores["per_class"]],
        "reliability": [{"bin": f"{i / RELIABILITY_BINS:.1f}-{(i + 1) / RELIABILITY_BINS:.1f}",
                         "images": n, "accuracy": 100.0 * hits / n if n else None,
                         "mean_confidence": total / n if n else None}
                        for i, (n, hits, total) in enumerate(bins)],
        "time": dict(smoke.timing),
        "estimate": estimate(smoke.startup_s, clock.rates()),
    }


def _plots(data: Mapping[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    def save(figure: Any, name: str) -> None:
        figure.tight_layout()
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)

    classes = data["per_class"]
    modes = sorted(data["modes"])
    figure, axes = plt.subplots(figsize=(8, max(2.5, 0.3 * len(modes) * len(classes) + 1)))
    height = 0.8 / len(modes)
    for number, mode in enumerate(modes):
        # Class 0 at the top, each mode's bar in the same place within its class's slot.
        bars = axes.barh([-i - number * height for i in range(len(classes))],
                         [c["top1_accuracy"][mode] for c in classes], height,
                         label=f"mode {mode}")
        axes.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8)  # 0% shows too
    axes.set_yticks([-i - (len(modes) - 1) * height / 2 for i in range(len(classes))],
                    [c["label"] for c in classes])
    axes.set_xlim(0, 110)
    axes.set_xlabel("top-1 accuracy, %")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_title("Per class, for the classes present")
    save(figure, "per_class.png")

    figure, axes = plt.subplots(figsize=(6, 3.5))
    width = 0.35
    for offset, key, title in ((-width / 2, "accuracy", "top-1"),
                               (width / 2, "top5_accuracy", "top-5")):
        axes.bar([i + offset for i in range(len(modes))],
                 [data["modes"][m][key] for m in modes], width, label=title)
    axes.set_xticks(range(len(modes)), [f"mode {m}" for m in modes])
    axes.set_ylabel("accuracy, %")
    axes.set_ylim(0, 100)
    axes.legend()
    axes.set_title("Conversions from the same forward pass")
    save(figure, "modes.png")

    filled = [b for b in data["reliability"] if b["images"]]
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot([0, 1], [0, 100], linestyle="--", color="grey", label="calibrated")
    axes.plot([b["mean_confidence"] for b in filled], [b["accuracy"] for b in filled],
              marker="o", label="this model")
    axes.set_xlabel("top-1 confidence")
    axes.set_ylabel("top-1 accuracy, %")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 100)
    axes.legend()
    axes.set_title("Reliability")
    save(figure, "reliability.png")

    parts = [("start-up", data["time"]["startup_s"]), ("decoding (all workers)",
             data["time"]["decode_s"]), ("model", data["time"]["model_s"])]
    figure, axes = plt.subplots(figsize=(6, 2.5))
    axes.barh([p for p, _ in parts], [s for _, s in parts])
    axes.set_xlabel("seconds")
    axes.set_title(f"Where the time went ({data['device']})")
    save(figure, "time.png")

    est = data["estimate"]
    figure, axes = plt.subplots(figsize=(6, 2.5))
    if est["median_s"] is not None:
        hours = est["median_s"] / 3600
        low = (est["low_s"] or est["median_s"]) / 3600
        high = (est["high_s"] or est["median_s"]) / 3600
        axes.errorbar([hours], [0], xerr=[[hours - low], [high - hours]], fmt="o", capsize=8)
    axes.set_yticks([])
    axes.set_xlabel(f"hours for {FULL_TEST_SET:,} images on {data['device']}")
    axes.set_title("Full test set estimate (spread across batches)")
    save(figure, "estimate.png")


def _cell(key: str, value: Any, digits: int = 1) -> str:
    text = "n/a" if value is None else (f"{value:.{digits}f}" if isinstance(value, float)
                                        else str(value))
    return f'<td data-key="{html.escape(key)}">{html.escape(text)}</td>'


def _html(data: Mapping[str, Any]) -> str:
    modes = "".join(
        f"<tr><th>mode {m}</th>{_cell(f'modes.{m}.accuracy', v['accuracy'])}"
        f"{_cell(f'modes.{m}.top5_accuracy', v['top5_accuracy'])}</tr>"
        for m, v in sorted(data["modes"].items()))
    class_modes = sorted(data["modes"])
    classes = "".join(
        f"<tr><th>{html.escape(c['label'])}</th>"
        + _cell(f"per_class.{c['id']}.images", c["images"])
        + "".join(_cell(f"per_class.{c['id']}.top1_accuracy.{m}", c["top1_accuracy"][m])
                  for m in class_modes) + "</tr>"
        for c in data["per_class"])
    class_heads = "".join(f"<th>mode {m} top-1 %</th>" for m in class_modes)
    est = data["estimate"]
    best = (f"mode {data['best_mode']} scores better: set convert_outputs_mode = "
            f"{data['best_mode']}" if data["best_mode"] is not None
            else "the conversions score the same on these images")
    spread = (f"{duration(est['low_s'])} to {duration(est['high_s'])}"
              if est["low_s"] is not None else "no spread (too few batches)")
    images = "".join(f'<figure><img src="{name}" alt="{name}"></figure>' for name in PLOTS)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>objectnet-wizard report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td,th{{padding:.2em .8em;text-align:right}} th{{text-align:left}}
figure{{display:inline-block;margin:.5em}} img{{max-width:100%}}</style></head>
<body>
<h1>Smoke run on {data['labelled_images']} labelled images</h1>
<p>{html.escape(best)}; predictions.csv holds mode {data['written_mode']}.</p>
<h2>Conversions</h2>
<table><tr><th></th><th>top-1 %</th><th>top-5 %</th></tr>{modes}</table>
<h2>Time</h2>
<table>
<tr><th>start-up, s</th>{_cell('time.startup_s', data['time']['startup_s'])}</tr>
<tr><th>decoding (all workers), s</th>{_cell('time.decode_s', data['time']['decode_s'])}</tr>
<tr><th>model, s</th>{_cell('time.model_s', data['time']['model_s'])}</tr>
<tr><th>{FULL_TEST_SET:,} images, s (median batch rate)</th>
{_cell('estimate.median_s', est['median_s'], 0)}</tr>
<tr><th>range</th><td>{html.escape(spread)}</td></tr>
</table>
<p>Measured on {html.escape(str(data['device']))}: a CPU figure is an upper bound for a GPU
runner.</p>
<h2>Per class</h2>
<p>Top-1 accuracy of each class present, for every conversion, from the same forward pass.</p>
<table><tr><th>class</th><th>images</th>{class_heads}</tr>{classes}</table>
<h2>Plots</h2>
{images}
</body></html>
"""


def write_report(folder: Path, data: Mapping[str, Any]) -> Path:
    """Write report.json, the plots and report.html into `folder`; returns report.html."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ReportError("the report's plots need matplotlib: pip install "
                          "'objectnet-wizard[report]'") from error
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    _plots(data, folder)
    page = folder / "report.html"
    page.write_text(_html(data), encoding="utf-8")
    return page
