"""The engine against the demo's pipeline and against the machine's bounds, in one run.

    .venv/bin/python bench/speed.py [--repeat 3] [--compile] [--images N] [--large N]

On generated ObjectNet-like PNGs of the usual sizes and of 2048x1536, it measures end to end
(model construction, checkpoint load and start-up included): the seed-faithful baseline, the
engine exact (fp32), the engine with each opt-in (--precision bf16, fp16 on GPUs, --compile
with --compile); then the decode bound (decode + Resize/CenterCrop alone in one process per
core, Pillow as the demo did, and the engine's decoder) and the model bound (the forward pass
alone on synthetic input already on the device, the demo's way and the engine's). Ratios are
against the baseline measured in the same run. The 'others' column is the largest share of the
cores that other processes used during a measurement: on a shared machine read those rows as
pessimistic. bench/gpu.py runs the same on a GPU machine with its own sizes and time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

import harness  # first: it puts the repository on sys.path
from harness import LARGE_SIZE, build_model, load_transform

PRESETS = {
    # 2-core development machines: a few minutes per repeat.
    "cpu": {"images": 192, "large": 48, "model_batch": 48, "model_batches": 1,
            "model_warmup": 1, "precisions": ["bf16"], "extra_models": [], "deadline": 0,
            "big_model_batches": 1, "large_precisions": ["bf16"], "quiet_below": 0.15,
            "targets": {"exact": 1.4, "bf16": 3.0, "shared_bound": 0.95}},
    # A lent H100 machine with 16 cores: everything in under 5 minutes.
    "gpu": {"images": 5000, "large": 480, "model_batch": 96, "model_batches": 20,
            "model_warmup": 3, "precisions": ["bf16", "fp16"],
            "extra_models": ["resnext101_32x48d_wsl"], "deadline": 270,
            "big_model_batches": 4, "large_precisions": ["bf16"], "quiet_below": 1.0,
            "targets": {"exact": 7.0, "exact_img_s": 1400, "large_img_s": 100,
                        "resnext_bf16_img_s": 650, "decode_bound": 0.90}},
}


class Budget:
    """Wall-clock budget: optional measurements are skipped once it runs short."""

    def __init__(self, seconds: float) -> None:
        self.started = time.perf_counter()
        self.seconds = seconds

    def left(self) -> float:
        if not self.seconds:
            return float("inf")
        return self.seconds - (time.perf_counter() - self.started)

    def allows(self, needed: float, what: str) -> bool:
        if self.left() >= needed:
            return True
        print("skipped (time budget): %s" % what, flush=True)
        return False


def parse_args(argv, preset: str) -> argparse.Namespace:
    settings = PRESETS[preset]
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=settings["images"],
                        help="sample-size PNGs (default %(default)s)")
    parser.add_argument("--large", type=int, default=settings["large"],
                        help="2048x1536 PNGs (default %(default)s; 0 = skip)")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--model-dir", type=Path, default=harness.REPO / "model")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate the end-to-end runs this many times (median, spread)")
    parser.add_argument("--compile", action="store_true",
                        help="add engine rows with --compile (slow to start on CPUs)")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1,
                        help="processes for the decode bound (default: the core count)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep generated inputs here and reuse them")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--quiet-below", type=float, default=settings["quiet_below"],
                        help="before each end-to-end run, wait until other processes use less "
                        "than this share of the cores (default %(default)s; 1 = never wait)")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="longest wait for that, in seconds (default %(default)s)")
    parser.add_argument("--deadline", type=float, default=settings["deadline"],
                        help="seconds after which optional rows are skipped (0 = none)")
    return parser.parse_args(argv)


def _log(text: str) -> None:
    print(time.strftime("%H:%M:%S ") + text, flush=True)


def _engine_row(rows, label, workload, pipeline, baseline, reference_csv, work, images,
                model_dir, model, checkpoint, **settings):
    """Measure one engine configuration (appending to an existing row on repeats)."""
    csv = work / ("engine-%s.csv" % label)
    measure, summary = harness.time_engine(images, csv, model_dir, model, checkpoint, **settings)
    row = rows.get(label)
    if row is None:
        row = rows[label] = harness.Row(workload, pipeline, [], baseline=baseline)
    row.measures.append(measure)
    differing, worst = harness.compare(reference_csv, csv)
    row.worst = (max(row.worst[0], differing), max(row.worst[1], worst))
    exact = settings.get("precision", "fp32") == "fp32" and not settings.get("compile")
    row.note = harness.same_note(row.worst[0], row.worst[1], summary.images, exact)
    if settings.get("compile"):
        row.note += "; start-up %.0f s (compiling)" % summary.startup_s
    _log("%s / %s: %.2f img/s (others %s)" % (workload, pipeline, measure.img_per_s,
                                              harness.Row("", "", [measure]).others()))
    return row


def end_to_end(args, settings, budget, work, workload, images, checkpoint, precisions):
    """Seed, engine exact and engine opt-ins on one image set, alternated `--repeat` times."""
    rows: dict = {}
    seed_csv = work / "seed.csv"
    for repeat in range(args.repeat):
        if repeat and not budget.allows(60, "repeat %d of %s" % (repeat + 1, workload)):
            break
        harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
        seed = rows.get("seed")
        measure = harness.time_seed(images, seed_csv, args.model_dir, args.model, checkpoint)
        if seed is None:
            seed = rows["seed"] = harness.Row(workload, "seed-faithful baseline (fp32)", [])
        seed.measures.append(measure)
        _log("%s / seed: %.2f img/s" % (workload, measure.img_per_s))
        harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
        _engine_row(rows, "fp32", "", "engine exact (fp32)", seed, seed_csv, work, images,
                    args.model_dir, args.model, checkpoint)
        for precision in precisions:
            if precision == "fp16" and not torch.cuda.is_available():
                continue
            if budget.allows(20, "engine %s on %s" % (precision, workload)):
                harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
                _engine_row(rows, precision, "", "engine --precision %s" % precision, seed,
                            seed_csv, work, images, args.model_dir, args.model, checkpoint,
                            precision=precision)
    return list(rows.values())


def compile_rows(args, budget, work, workload, images, checkpoint, seed_row):
    """The engine with --compile (fp32 and bf16): start-up includes compiling, so the note
    gives the rate after start-up too, which is what a 50,000-image run sees."""
    rows: dict = {}
    for precision in ("fp32", "bf16"):
        if budget.allows(150, "engine %s --compile" % precision):
            harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
            _engine_row(rows, precision + "-compile", workload,
                        "engine --precision %s --compile" % precision, seed_row,
                        work / "seed.csv", work, images, args.model_dir, args.model,
                        checkpoint, precision=precision, compile=True)
    return list(rows.values())


def bounds(args, settings, budget, workload_images, device):
    rows = []
    transform = load_transform(args.model_dir)
    for workload, images in workload_images:
        for kind, label in (("pil", "decode bound, Pillow (demo)"),
                            ("engine", "decode bound, engine decoder")):
            if not budget.allows(20, "%s on %s" % (label, workload)):
                continue
            harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
            measure = harness.decode_bound(images, args.procs, kind, transform)
            rows.append(harness.Row(workload, "%s, %d procs" % (label, args.procs),
                                    [measure], end_to_end=False))
            _log("%s / %s: %.1f img/s" % (workload, label, measure.img_per_s))
    model = build_model(args.model_dir, args.model)
    rows.extend(model_bounds(args, settings, budget, model, args.model, device,
                             ["fp32"] + settings["precisions"]))
    return rows


def model_bounds(args, settings, budget, model, name, device, precisions, engine_fp32=True,
                 batches=None):
    """The forward pass alone: the demo's fp32 way, then the engine's in each precision."""
    rows = []
    common = {"batch": settings["model_batch"], "batches": batches or settings["model_batches"],
              "warmup": min(settings["model_warmup"], batches or settings["model_warmup"])}
    harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
    measure = harness.model_bound(model, args.model_dir, device, "fp32", engine_style=False,
                                  **common)
    rows.append(harness.Row("model alone", "%s fp32, demo's way (batch %d)"
                            % (name, common["batch"]), [measure], end_to_end=False))
    _log("model bound %s fp32 plain: %.1f img/s" % (name, measure.img_per_s))
    for precision in precisions:
        if precision == "fp16" and not device.startswith("cuda"):
            continue
        if precision == "fp32" and not engine_fp32:
            continue
        if not budget.allows(15, "model bound %s %s" % (name, precision)):
            continue
        harness.wait_for_quiet(args.quiet_below, args.quiet_wait)
        measure = harness.model_bound(model, args.model_dir, device, precision,
                                      engine_style=True, **common)
        rows.append(harness.Row("", "%s %s, engine's way" % (name, precision), [measure],
                                baseline=rows[0], end_to_end=False))
        _log("model bound %s %s engine: %.1f img/s" % (name, precision, measure.img_per_s))
    return rows


def extra_model(args, settings, budget, work, images, device, name):
    """A big model (the demo's ResNeXt-101 32x48d): its forward bounds and the engine's rate."""
    if not budget.allows(90, "model %s" % name):
        return []
    _log("building %s on %s" % (name, device))
    model = harness.build_on(args.model_dir, name, device)  # once, initialised on the device
    checkpoint = work / (name + ".pth")
    if not checkpoint.exists():
        torch.save(model.state_dict(), str(checkpoint))
    rows = model_bounds(args, settings, budget, model, name, device, ["bf16"],
                        engine_fp32=False, batches=settings["big_model_batches"])
    del model
    if budget.allows(60, "engine %s bf16 end to end" % name):
        measure, summary = harness.time_engine(images, work / "engine-big.csv", args.model_dir,
                                               name, checkpoint, precision="bf16")
        row = harness.Row("%d sample-size PNGs" % summary.images,
                          "engine %s --precision bf16" % name, [measure])
        row.note = "start-up %.0f s (build, load %.1f GB)" % (
            summary.startup_s, checkpoint.stat().st_size / 1e9)
        rows.append(row)
        _log("%s: %.1f img/s, %.1f after start-up" % (name, measure.img_per_s,
                                                      summary.steady_img_per_s))
    return rows


def check_targets(settings, sample_rows, large_rows, extra_rows, bound_rows=()) -> list:
    """One line per target of the issue, on the rate after start-up (what a 50,273-image run
    sees; the end-to-end rate of a few thousand images is mostly start-up on a GPU)."""
    targets = settings["targets"]
    lines = []
    exact_row = {row.pipeline: row for row in sample_rows}.get("engine exact (fp32)")
    decode = next((row for row in bound_rows if "engine decoder" in row.pipeline), None)
    model = next((row for row in bound_rows if row.pipeline.endswith("fp32, engine's way")),
                 None)
    if exact_row and decode and "decode_bound" in targets:
        # A GPU machine: decoding on the cores is the bound, the model runs elsewhere.
        share = exact_row.steady / decode.rate
        lines.append("exact: %.0f img/s after start-up = %.0f%% of the measured decode bound "
                     "(%.0f img/s, engine decoder; target >= %.0f%%): %s"
                     % (exact_row.steady, 100 * share, decode.rate,
                        100 * targets["decode_bound"],
                        "met" if share >= targets["decode_bound"] else "NOT met"))
    if exact_row and decode and model and "shared_bound" in targets:
        # The CPU: decoding and the model share the cores, so their times add up per image.
        bound = 1.0 / (1.0 / decode.rate + 1.0 / model.rate)
        share = exact_row.steady / bound
        lines.append("exact: %.1f img/s after start-up = %.0f%% of the shared-core bound "
                     "1/(1/decode + 1/model) = %.1f img/s (decode %.1f, model alone %.1f; "
                     "target >= %.0f%%): %s"
                     % (exact_row.steady, 100 * share, bound, decode.rate, model.rate,
                        100 * targets["shared_bound"],
                        "met" if share >= targets["shared_bound"] else "NOT met"))

    def verdict(value: float, target: float) -> str:
        return "met" if value >= target else "NOT met"

    by = {row.pipeline: row for row in sample_rows}
    seed = by.get("seed-faithful baseline (fp32)")
    exact = by.get("engine exact (fp32)")
    bf16 = by.get("engine --precision bf16")
    for name, row, key in (("exact", exact, "exact"), ("bf16", bf16, "bf16")):
        if seed and row and key in targets:
            ratio, steady = row.rate / seed.rate, row.steady / seed.steady
            lines.append("%s vs baseline: %.2fx after start-up, %.2fx end to end (target >= "
                         "%.1fx): %s" % (name, steady, ratio, targets[key],
                                         verdict(steady, targets[key])))
    if "exact_img_s" in targets and exact:
        lines.append("exact: %.0f img/s after start-up, %.0f end to end (target >= %d): %s"
                     % (exact.steady, exact.rate, targets["exact_img_s"],
                        verdict(exact.steady, targets["exact_img_s"])))
    large = {row.pipeline: row for row in large_rows}.get("engine exact (fp32)")
    if "large_img_s" in targets and large:
        lines.append("large PNGs, exact: %.0f img/s after start-up, %.0f end to end (target "
                     ">= %d): %s" % (large.steady, large.rate, targets["large_img_s"],
                                     verdict(large.steady, targets["large_img_s"])))
    for row in extra_rows:
        if row.end_to_end and "resnext_bf16_img_s" in targets:
            lines.append("%s: %.0f img/s after start-up (target >= %d): %s"
                         % (row.pipeline, row.steady, targets["resnext_bf16_img_s"],
                            verdict(row.steady, targets["resnext_bf16_img_s"])))
    return lines


def main(argv=None, preset: str | None = None) -> int:
    preset = preset or ("gpu" if torch.cuda.is_available() else "cpu")
    settings = PRESETS[preset]
    args = parse_args(argv, preset)
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    device_name = torch.cuda.get_device_name(0) if device != "cpu" else "CPU"
    from engine import images as engine_images

    header = ("%s, %d cores, torch %s, pyspng %s, %s" % (
        device_name, os.cpu_count() or 1, torch.__version__,
        "yes" if engine_images.pyspng is not None else "no (Pillow decodes)", args.model))
    _log(header)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-speed-"))
    sample_name = "%d sample-size PNGs" % args.images
    large_name = "%d 2048x1536 PNGs" % args.large
    _log("generating inputs in %s" % work)
    sample = harness.ensure_images(work / "sample", args.images, procs=args.procs)
    large = (harness.ensure_images(work / "large", args.large, sizes=(LARGE_SIZE,), seed=2,
                                   procs=args.procs) if args.large else None)
    checkpoint = harness.ensure_checkpoint(work / (args.model + ".pth"), args.model_dir,
                                           args.model)
    _log("inputs ready")
    budget = Budget(args.deadline)  # the budget is for measuring, not for writing inputs

    # The rows that check the targets first, then the bounds, then the slow opt-in.
    sample_rows = end_to_end(args, settings, budget, work, sample_name, sample, checkpoint,
                             settings["precisions"])
    if args.compile:  # right after: they need 150 s each, and last they never fitted
        sample_rows += compile_rows(args, budget, work, sample_name, sample, checkpoint,
                                    sample_rows[0])
    large_rows = []
    if large is not None and budget.allows(60, "large PNGs"):
        (work / "large-run").mkdir(exist_ok=True)
        large_rows = end_to_end(args, settings, budget, work / "large-run", large_name, large,
                                checkpoint, settings["large_precisions"])
    extra_rows = []
    for name in settings["extra_models"]:
        extra_rows += extra_model(args, settings, budget, work, sample, device, name)
    workloads = [(sample_name, sample)] + ([(large_name, large)] if large is not None else [])
    bound_rows = bounds(args, settings, budget, workloads, device)
    rows = sample_rows + large_rows + bound_rows + extra_rows
    harness.print_table("%s (%s); img/s end to end unless marked" % (header, preset), rows)
    print("CPU pressure (some, last minute): %s" % harness.cpu_pressure())
    for line in check_targets(settings, sample_rows, large_rows, extra_rows, bound_rows):
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"header": header, "preset": preset,
                                         "rows": [harness.row_dict(r) for r in rows]},
                                        indent=1))
    _log("done in %.0f s" % (time.perf_counter() - budget.started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
