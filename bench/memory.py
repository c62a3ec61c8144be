"""Peak memory of an engine run does not grow with the number of images.

    .venv/bin/python bench/memory.py [--small 1000] [--large 20000] [--work DIR]

Runs the engine's real command line (`python -m engine`, a child process) on 1,000 and on
20,000 tiny generated PNGs with a tiny model (so 20,000 images take a minute or two on 2
cores), and reports each run's peak resident memory: the largest of the engine process and
its loader workers (getrusage of the finished child), and, polled from /proc while it runs,
the engine process's own high-water mark and its private memory (heap and tensors). Rows are
streamed to the CSV, so the peak RSS and the private memory must grow by at most 50 MB from
the small run to the large one; exit status 1 if they do not. (The engine process's own mark
is shown but not judged: the pages of shared libraries it happens to touch vary by ~100 MB
from run to run.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import harness  # first: it puts the repository on sys.path

LIMIT_MB = 50.0
TINY_SIZE = (40, 30)

MODEL = '''
import torch.nn as nn


class tiny(nn.Module):
    """A few thousand weights and the 1000 ImageNet outputs: the model costs nothing here."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, 1000)

    def forward(self, x):
        return self.fc(self.features(x))
'''

TRANSFORM = '''
import torchvision.transforms as transforms


class data_transform:
    def getTransform(self):
        return transforms.Compose([
            transforms.Resize(32), transforms.CenterCrop(32), transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ])
'''


def measure(images: Path, plugin: Path, checkpoint: Path, output: Path,
            workers: int) -> dict:
    command = [sys.executable, "-m", "engine", str(images), str(output), "tiny",
               str(checkpoint), "--model-dir", str(plugin), "--overwrite", "--workers",
               str(workers)]
    result = harness.run_measured(command)
    if result["returncode"] != 0:
        raise SystemExit("engine failed (%d): %s" % (result["returncode"], result["err"]))
    with open(output) as handle:
        rows = sum(1 for _ in handle)
    return {"images": rows, "wall_s": result["wall_s"], "any_peak_mb": result["any_peak_mb"],
            "main_peak_mb": result["main_peak_mb"], "anon_peak_mb": result["anon_peak_mb"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", type=Path, default=None, help="keep inputs here (reused)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    plugin = work / "plugin"
    plugin.mkdir(parents=True, exist_ok=True)
    (plugin / "model_description.py").write_text(MODEL.lstrip())
    (plugin / "data_transform_description.py").write_text(TRANSFORM.lstrip())
    checkpoint = harness.ensure_checkpoint(work / "tiny.pth", plugin, "tiny")
    results = []
    for count in (args.small, args.large):
        folder = harness.ensure_images(work / ("images-%d" % count), count, sizes=(TINY_SIZE,),
                                       seed=count)
        result = measure(folder, plugin, checkpoint, work / ("p-%d.csv" % count), args.workers)
        results.append(result)
        print("%d images: %.1f s, peak RSS %.1f MB (engine process %.1f MB, of it private "
              "%.1f MB)" % (result["images"], result["wall_s"], result["any_peak_mb"],
                            result["main_peak_mb"], result["anon_peak_mb"]), flush=True)
    keys = ("any_peak_mb", "main_peak_mb", "anon_peak_mb")
    growth = {key: results[1][key] - results[0][key] for key in keys}
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        Console = None
    headers = ("images", "seconds", "img/s", "peak RSS MB", "engine process MB",
               "its private MB")
    cells = [[str(r["images"]), "%.1f" % r["wall_s"], "%.0f" % (r["images"] / r["wall_s"])]
             + ["%.1f" % r[key] for key in keys] for r in results]
    cells.append(["growth", "", ""] + ["%+.1f" % growth[key] for key in keys])
    title = ("peak memory, tiny model, %dx%d PNGs, %d loader workers (peak RSS: the largest "
             "engine process, from getrusage)" % (*TINY_SIZE, args.workers))
    if Console is not None:
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header, justify="right")
        for line in cells:
            table.add_row(*line)
        Console().print(table)
    else:
        print(title)
        for line in [list(headers), *cells]:
            print("  ".join(text.rjust(18) for text in line))
    growth.pop("main_peak_mb")  # shared-library pages make it vary by ~100 MB between runs
    flat = max(growth.values()) <= LIMIT_MB
    print("peak memory %s: %+.1f MB from %d to %d images (limit +%.0f MB; peak RSS and "
          "private memory)"
          % ("flat" if flat else "GROWS", max(growth.values()), results[0]["images"],
             results[1]["images"], LIMIT_MB))
    return 0 if flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
