"""Start-up and peak memory with a big model: the demo's construct-then-load against the
engine, the demo's way (--plain-load) and without the wasted initialisation, in one run.

    .venv/bin/python bench/startup.py [--model resnext101_32x16d] [--images 2] [--work DIR]

Writes a plug-in folder with ResNeXt-101 32x16d (194 M parameters, a 0.78 GB checkpoint; or
32x48d with --model resnext101_32x48d, 3.3 GB), a random-weight checkpoint (reused with
--work) and a few sample-size PNGs. Every measurement is a fresh process, so its peak memory
is its own, and the three alternate --repeat times:

- seed: the demo's construction, then torch.load + load_state_dict, timed inside the process
  (interpreter and torch import excluded), and the process's peak memory;
- engine --plain-load and engine: the engine's command line on --images PNGs, with the
  start-up its summary prints (from run()'s start to the first batch: model, checkpoint,
  preflight), the whole process's wall time, and its peak memory.

The target: the engine's start-up at most 0.6x the seed's construct-then-load. Peak memory:
VmHWM of the process (all resident pages, the mapped checkpoint's included) and the peak of
its private memory (RssAnon: heap and tensors; a mapped checkpoint's pages are not private).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness  # first: it puts the repository on sys.path

TARGET = 0.6

MODELS = '''
from torchvision.models.resnet import Bottleneck, ResNet


class resnext101_32x16d(ResNet):
    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=16)


class resnext101_32x48d(ResNet):
    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=48)
'''

SEED = '''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import torch
from engine.plugin import build_model
started = time.perf_counter()
model = build_model(__import__("pathlib").Path(sys.argv[2]), sys.argv[3])
built = time.perf_counter()
model.load_state_dict(torch.load(sys.argv[4], map_location="cpu"))
model.eval()
print(json.dumps({"build_s": built - started, "startup_s": time.perf_counter() - started}))
'''

STARTUP = re.compile(r"start-up ([0-9.]+) s")


def measure_seed(plugin: Path, model: str, checkpoint: Path) -> dict:
    result = harness.run_measured([sys.executable, "-c", SEED, str(harness.REPO), str(plugin),
                                   model, str(checkpoint)])
    if result["returncode"] != 0:
        raise SystemExit("the seed's load failed: %s" % result["err"][-2000:])
    result.update(json.loads(result["out"].strip().splitlines()[-1]))
    return result


def measure_engine(plugin: Path, model: str, checkpoint: Path, images: Path, output: Path,
                   *extra: str) -> dict:
    command = [sys.executable, "-m", "engine", str(images), str(output), model,
               str(checkpoint), "--model-dir", str(plugin), "--overwrite", "--workers", "1",
               *extra]
    result = harness.run_measured(command)
    found = STARTUP.findall(result["err"])
    if result["returncode"] != 0 or not found:
        raise SystemExit("the engine failed (%d): %s" % (result["returncode"],
                                                         result["err"][-2000:]))
    result["startup_s"] = float(found[-1])
    result["said"] = [line for line in result["err"].splitlines() if "initialisation" in line]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnext101_32x16d",
                        choices=("resnext101_32x16d", "resnext101_32x48d"))
    parser.add_argument("--images", type=int, default=2, help="PNGs per engine run")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep inputs here (reused)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-startup-"))
    plugin = work / "plugin"
    plugin.mkdir(parents=True, exist_ok=True)
    (plugin / "model_description.py").write_text(MODELS.lstrip())
    (plugin / "data_transform_description.py").write_text(
        (harness.REPO / "model" / "data_transform_description.py").read_text())
    started = time.perf_counter()
    checkpoint = harness.ensure_checkpoint(work / (args.model + ".pth"), plugin, args.model)
    images = harness.ensure_images(work / "images", args.images, procs=1)
    print("inputs ready in %.0f s (%s, checkpoint %.2f GB); others used %s of the cores "
          "just before the runs, CPU pressure %s" % (
              time.perf_counter() - started, args.model, checkpoint.stat().st_size / 1e9,
              _share(harness.others_share()), harness.cpu_pressure()), flush=True)
    runs: dict = {"seed": [], "plain": [], "engine": []}
    for repeat in range(args.repeat):
        runs["seed"].append(measure_seed(plugin, args.model, checkpoint))
        runs["plain"].append(measure_engine(plugin, args.model, checkpoint, images,
                                            work / "plain.csv", "--plain-load"))
        runs["engine"].append(measure_engine(plugin, args.model, checkpoint, images,
                                             work / "engine.csv"))
        print("repeat %d: seed %.1f s, engine --plain-load %.1f s, engine %.1f s (start-up)"
              % (repeat + 1, runs["seed"][-1]["startup_s"], runs["plain"][-1]["startup_s"],
                 runs["engine"][-1]["startup_s"]), flush=True)
    same = (work / "plain.csv").read_text() == (work / "engine.csv").read_text()
    rows = []
    seed = statistics.median(r["startup_s"] for r in runs["seed"])
    for key, label in (("seed", "seed: construct, then load (in-process)"),
                       ("plain", "engine --plain-load: start-up in its summary"),
                       ("engine", "engine: start-up in its summary")):
        startup = statistics.median(r["startup_s"] for r in runs[key])
        rows.append([label, "%.1f" % startup, "%.2fx" % (startup / seed),
                     "%.1f" % statistics.median(r["wall_s"] for r in runs[key]),
                     "%.0f" % max(r["main_peak_mb"] for r in runs[key]),
                     "%.0f" % max(r["anon_peak_mb"] for r in runs[key])])
    headers = ["what", "start-up s", "vs seed", "process wall s", "peak RSS MB",
               "peak private MB"]
    print("start-up and peak memory, %s, median of %d (ratios against the seed in this run)"
          % (args.model, args.repeat))
    widths = [max(len(str(line[i])) for line in [headers, *rows]) for i in range(len(headers))]
    for line in [headers, *rows]:
        print("  ".join(str(text).rjust(width) if i else str(text).ljust(width)
                        for i, (text, width) in enumerate(zip(line, widths))))
    engine = statistics.median(r["startup_s"] for r in runs["engine"])
    said = runs["engine"][-1]["said"]
    print("engine start-up %.2fx the seed's construct-then-load (target <= %.1fx): %s"
          % (engine / seed, TARGET, "met" if engine / seed <= TARGET else "NOT met"))
    print("predictions of --plain-load and the default: %s" % ("identical" if same
                                                              else "DIFFERENT"))
    if said:
        print("the engine fell back: %s" % said[0])
    print("others used %s of the cores after the runs; CPU pressure (some, last minute) %s"
          % (_share(harness.others_share()), harness.cpu_pressure()))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1, default=str))
    return 0 if same else 1


def _share(value: float | None) -> str:
    return "n/a" if value is None else "%d%%" % round(100 * value)


if __name__ == "__main__":
    raise SystemExit(main())
