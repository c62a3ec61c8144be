"""Engine vs the demo's pipeline on the same generated images and checkpoint, in one run.

    .venv/bin/python bench/engine_vs_seed.py [--images 192] [--model resnet50] [--repeat 1]

Prints img/s of each (end to end: model construction, checkpoint load and start-up included),
the ratio, and whether the engine's mode-1 rows match the baseline's (ids identical,
confidences within 1e-5). Exit status 1 if they do not match. With --repeat N the two run
alternately N times; the table shows medians and the spread (the machine may be shared).
For the full picture (opt-ins, decode and model bounds, large images) see bench/speed.py.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

import harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=192)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--model-dir", type=Path, default=harness.REPO / "model")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="keep inputs here (reused)")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-"))
    images = harness.ensure_images(work / "images", args.images)
    checkpoint = harness.ensure_checkpoint(work / (args.model + ".pth"), args.model_dir,
                                           args.model)
    seed_csv, engine_csv = work / "seed.csv", work / "engine.csv"
    seed_row = harness.Row("%d sample-size PNGs" % args.images, "seed-faithful baseline", [])
    engine_row = harness.Row("", "engine, fp32 (exact)", [], baseline=seed_row)
    worst_differing, worst_conf = 0, 0.0
    for _ in range(args.repeat):
        seed_row.measures.append(harness.time_seed(images, seed_csv, args.model_dir, args.model,
                                                   checkpoint))
        measure, _summary = harness.time_engine(images, engine_csv, args.model_dir, args.model,
                                                checkpoint)
        engine_row.measures.append(measure)
        differing, worst = harness.compare(seed_csv, engine_csv)
        worst_differing, worst_conf = max(worst_differing, differing), max(worst_conf, worst)
    engine_row.note = harness.same_note(worst_differing, worst_conf, args.images)
    title = "%s on %s, torch %s" % (args.model, "GPU" if torch.cuda.is_available() else "CPU",
                                    torch.__version__)
    harness.print_table(title, [seed_row, engine_row])
    same = worst_differing == 0 and worst_conf <= harness.TOLERANCE
    print("mode-1 rows: %d with different ids, largest confidence difference %.2e (%s)"
          % (worst_differing, worst_conf, "same predictions" if same else "NOT THE SAME"))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
