"""Start-up and peak memory with a big model: the demo's construct-then-load against the
engine, the demo's way (--plain-load) and without the wasted initialisation, in one run.

    .venv/bin/python bench/startup.py [--model resnext101_32x16d] [--images 2] [--work DIR]

Writes a plug-in folder with ResNeXt-101 32x16d (194 M parameters, a 0.78 GB checkpoint; or
32x48d with --model resnext101_32x48d, 3.3 GB), a random-weight checkpoint (reused with
--work) and a few sample-size PNGs. Every measurement is a fresh process, so its peak memory
is its own, and the three alternate --repeat times:

- seed: the demo's construction, then torch.load + load_state_dict, timed inside the process
  (interpreter and torch import excluded);
- engine --plain-load and engine: the engine's command line (engine.cli.main) on --images
  PNGs, with the start-up its summary prints (from run()'s start to the first batch: model,
  checkpoint, preflight) and the whole process's wall time.

Each process runs under bench/phases.py, which reads /proc/self/status and smaps after every
phase (torch imported, model built, checkpoint read, weights in, prepared, first batch).

The targets: the engine's start-up at most 0.6x the seed's construct-then-load; half the
memory the start-up adds. Memory is reported three ways, with ratios against the seed in the
same run: peak RSS (VmHWM: every resident page), the part of it added after torch was
imported (the model, the checkpoint, the first batch: what loading costs), and peak private
memory (RssAnon: heap and tensors). A memory-mapped checkpoint's pages that the model reads
in place are resident but file-backed and clean (the kernel can drop them and read them again
from the file): they count in peak RSS and are shown separately, per phase and at the end.
Memory does not depend on what else runs on the machine; start-up times do (the CPU share
others used is printed before and after).
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
from phases import CODE_IMPORTED

TARGET = 0.6
MEMORY_TARGET = 0.55
"""Half, and the few tens of MB one weight's copy needs while its source is resident."""

MODELS = '''
from torchvision.models.resnet import Bottleneck, ResNet


class resnext101_32x16d(ResNet):
    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=16)


class resnext101_32x48d(ResNet):
    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=48)
'''

PHASES = Path(__file__).resolve().parent / "phases.py"
STARTUP = re.compile(r"start-up ([0-9.]+) s")


FORMATS = ("zip", "legacy", "safetensors")


def in_format(checkpoint: Path, kind: str) -> Path:
    """`checkpoint` (torch.save's zip) saved again in `kind`, beside it (reused)."""
    if kind == "zip":
        return checkpoint
    target = checkpoint.with_suffix(".safetensors" if kind == "safetensors" else ".legacy.pth")
    if not target.exists():
        import torch

        state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        if kind == "safetensors":
            from safetensors.torch import save_file

            save_file(state, str(target))
        else:
            torch.save(state, str(target), _use_new_zipfile_serialization=False)
    return target


def _probed(arguments: list, json_path: Path) -> dict:
    """Run bench/phases.py (a fresh process) and add its phase snapshots to the result."""
    result = harness.run_measured([sys.executable, str(PHASES), str(json_path), *arguments])
    if json_path.exists():
        result.update(json.loads(json_path.read_text()))
        json_path.unlink()
    return result


def measure_seed(plugin: Path, model: str, checkpoint: Path, work: Path) -> dict:
    result = _probed(["seed", str(plugin), model, str(checkpoint)], work / "seed.json")
    if result["returncode"] != 0 or "phases" not in result:
        raise SystemExit("the seed's load failed: %s" % result["err"][-2000:])
    return result


def measure_engine(plugin: Path, model: str, checkpoint: Path, images: Path, output: Path,
                   *extra: str) -> dict:
    command = ["engine", str(checkpoint), str(images), str(output), model, str(checkpoint),
               "--model-dir", str(plugin), "--overwrite", "--workers", "1", *extra]
    result = _probed(command, output.with_suffix(".json"))
    found = STARTUP.findall(result["err"])
    if result["returncode"] != 0 or not found or "phases" not in result:
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
    parser.add_argument("--format", choices=FORMATS, default="zip",
                        help="checkpoint file format: torch.save's zip (default), its legacy "
                        "pickle (no mmap), safetensors")
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
    checkpoint = in_format(checkpoint, args.format)
    images = harness.ensure_images(work / "images", args.images, procs=1)
    print("inputs ready in %.0f s (%s, %s checkpoint %.2f GB); others used %s of the cores "
          "just before the runs, CPU pressure %s" % (
              time.perf_counter() - started, args.model, args.format,
              checkpoint.stat().st_size / 1e9,
              _share(harness.others_share()), harness.cpu_pressure()), flush=True)
    runs: dict = {"seed": [], "plain": [], "engine": []}
    for repeat in range(args.repeat):
        runs["seed"].append(measure_seed(plugin, args.model, checkpoint, work))
        runs["plain"].append(measure_engine(plugin, args.model, checkpoint, images,
                                            work / "plain.csv", "--plain-load"))
        runs["engine"].append(measure_engine(plugin, args.model, checkpoint, images,
                                             work / "engine.csv"))
        print("repeat %d: seed %.1f s, engine --plain-load %.1f s, engine %.1f s (start-up)"
              % (repeat + 1, runs["seed"][-1]["startup_s"], runs["plain"][-1]["startup_s"],
                 runs["engine"][-1]["startup_s"]), flush=True)
    same = (work / "plain.csv").read_text() == (work / "engine.csv").read_text()
    seed = statistics.median(r["startup_s"] for r in runs["seed"])
    rows = []
    for key, label in LABELS:
        startup = statistics.median(r["startup_s"] for r in runs[key])
        rows.append([label, "%.1f" % startup, "%.2fx" % (startup / seed),
                     "%.1f" % statistics.median(r["wall_s"] for r in runs[key])])
    print()
    print("start-up, %s, median of %d (ratios against the seed in this run)"
          % (args.model, args.repeat))
    _table(["what", "start-up s", "vs seed", "process wall s"], rows)
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
    print()
    report_memory(runs, args.model, checkpoint.stat().st_size / MB)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1, default=str))
    return 0 if same else 1


LABELS = (("seed", "seed: construct, then load"),
          ("plain", "engine --plain-load"),
          ("engine", "engine"))
MB = 1024.0 * 1024.0


def memory_figures(run: dict) -> dict:
    """One process's figures in MB: peak RSS (VmHWM); what loading added to it (VmHWM less
    the resident set when the model's code was imported and no weight existed yet); peak
    private memory (RssAnon, polled every 50 ms and read at each phase); the checkpoint
    file's own resident pages at the end (first batch done) and at most; what the first batch
    added to the peak (the engine only: the seed runs none)."""
    phases = run["phases"]
    named = {p["phase"]: p for p in phases}
    peak = max(p["VmHWM"] for p in phases)
    end = named.get("first batch predicted", named.get("checkpoint dict dropped", phases[-1]))
    loaded = named.get("prepared (eval, channels_last)", end)["VmHWM"]
    batch = end["VmHWM"] - loaded if "first batch predicted" in named else 0.0
    return {"peak": peak, "added": loaded - named[CODE_IMPORTED]["VmRSS"],
            "private": max([run["anon_peak_mb"]] + [p["RssAnon"] for p in phases]),
            "mapped_end": end["checkpoint"], "mapped_max": max(p["checkpoint"] for p in phases),
            "batch": batch, "base": named[CODE_IMPORTED]["VmRSS"]}


def report_memory(runs: dict, model: str, checkpoint_mb: float) -> None:
    figures = {key: [memory_figures(r) for r in runs[key]] for key, _ in LABELS}
    worst = {key: {name: max(f[name] for f in found) for name in found[0]}
             for key, found in figures.items()}
    seed, engine = worst["seed"], worst["engine"]
    rows = []
    for key, label in LABELS:
        mine = worst[key]
        rows.append([label,
                     "%.0f" % mine["peak"], "%.2fx" % (mine["peak"] / seed["peak"]),
                     "%.0f" % mine["added"], "%.2fx" % (mine["added"] / seed["added"]),
                     "%.0f" % mine["private"], "%.2fx" % (mine["private"] / seed["private"]),
                     "%.0f" % mine["mapped_end"]])
    print("peak memory during start-up, %s, checkpoint %.0f MB; the highest of %d runs each, "
          "ratios against the seed in this run" % (model, checkpoint_mb, len(runs["seed"])))
    _table(["what", "peak RSS MB", "vs seed", "added by loading MB", "vs seed",
            "peak private MB", "vs seed", "checkpoint pages in RSS MB"], rows)
    print("- peak RSS: VmHWM, every resident page, file-backed ones included; the engine's "
          "includes its first batch of 2 images (+%.0f MB), the seed runs none.\n"
          "- added by loading: VmHWM when the model is ready (engine: prepared, before the "
          "first batch) less the resident set once the model's code was imported, before any "
          "weight existed (interpreter, torch, torchvision: %.0f MB in the seed, %.0f MB in "
          "the engine, which also imported its own modules). The halving target is about this "
          "figure: the seed holds two copies of the weights (its random initialisation and "
          "the checkpoint it read), the engine one.\n"
          "- peak private: RssAnon, heap and tensors; no file-backed page.\n"
          "- checkpoint pages in RSS: the mapped checkpoint's pages resident when start-up "
          "ends (at most %.0f MB at any phase): the weights the model reads in place from "
          "the file (on the CPU, channels_last copies nearly all of them, and each copied "
          "weight gives its pages back). They count in peak RSS, not in private memory: "
          "file-backed and clean, the kernel can drop them under pressure and read them "
          "again, and the page cache keeps them for the next start."
          % (engine["batch"], seed["base"], engine["base"], engine["mapped_max"]))
    halved = engine["added"] / seed["added"]
    print("engine against the seed: added by loading %.2fx (%.0f against %.0f MB; target "
          "<= %.2fx: %s), peak RSS %.2fx, peak private %.2fx"
          % (halved, engine["added"], seed["added"], MEMORY_TARGET,
             "met" if halved <= MEMORY_TARGET else "NOT met", engine["peak"] / seed["peak"],
             engine["private"] / seed["private"]))
    for key, label in LABELS:
        print()
        print("phases of %s (the last run; MB; VmHWM is the peak so far)" % label)
        _table(["phase", "VmHWM", "VmRSS", "RssAnon", "RssFile", "of it checkpoint"],
               [[p["phase"]] + ["%.0f" % p[name] for name in ("VmHWM", "VmRSS", "RssAnon",
                                                              "RssFile", "checkpoint")]
                for p in runs[key][-1]["phases"]])


def _table(headers: list, rows: list) -> None:
    widths = [max(len(str(line[i])) for line in [headers, *rows]) for i in range(len(headers))]
    for line in [headers, *rows]:
        print("  ".join(str(text).rjust(width) if i else str(text).ljust(width)
                        for i, (text, width) in enumerate(zip(line, widths))))


def _share(value: float | None) -> str:
    return "n/a" if value is None else "%d%%" % round(100 * value)


if __name__ == "__main__":
    raise SystemExit(main())
