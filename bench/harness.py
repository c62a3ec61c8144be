"""What every benchmark here shares: generated inputs, the pipelines under test, the two bounds
(decoding alone, the model alone) and a meter that also says how much of the machine other
processes took while each number was measured (the development machines are shared, so a
number taken while others were busy is flagged rather than silently trusted).
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _path in (str(REPO), str(REPO / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from engine import compat, devices, fastpath  # noqa: E402
from engine.config import Config  # noqa: E402
from engine.images import load_rgb  # noqa: E402
from engine.plugin import build_model, load_model_module, load_transform  # noqa: E402
from engine.predict import Predictor  # noqa: E402
from engine.run import Rates, Summary, run  # noqa: E402
from engine.scan import find_images  # noqa: E402
from wizard.samples import LARGE_SIZE, SAMPLE_SIZES, make_checkpoint, make_images  # noqa: E402

__all__ = ["LARGE_SIZE", "build_model", "load_transform"]  # for the scripts, after sys.path

TOLERANCE = 1e-5
"""Largest confidence difference that still counts as the same prediction."""


# --- measuring -----------------------------------------------------------------------------

def _busy_jiffies() -> int | None:
    """CPU time (in clock ticks) the whole machine spent busy, from /proc/stat."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclasses.dataclass
class Measure(Rates):
    """One timed piece of work; its rates are the engine's (engine.run.Rates)."""

    images: int
    wall_s: float
    cpu_s: float
    """CPU seconds this process and its finished children used."""
    others: float | None
    """Share of the machine's cores other processes kept busy meanwhile (0..1), if known."""
    startup_s: float = 0.0
    """Of wall_s, the part before images flow: model construction, checkpoint load, checks."""


class Meter:
    """`with Meter(images) as m: ...` then `m.result`."""

    def __init__(self, images: int) -> None:
        self.images = images
        self.result: Measure | None = None
        self.extra_cpu_s = 0.0
        """CPU time of processes that are not (yet) finished children of this one."""

    def __enter__(self) -> Meter:
        self.busy, self.cpu, self.started = _busy_jiffies(), _own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.started
        cpu = _own_cpu_s() - self.cpu + self.extra_cpu_s
        busy = _busy_jiffies()
        others = None
        if busy is not None and self.busy is not None and wall > 0:
            total = (busy - self.busy) / os.sysconf("SC_CLK_TCK")
            others = min(max((total - cpu) / (wall * (os.cpu_count() or 1)), 0.0), 1.0)
        self.result = Measure(self.images, wall, cpu, others)


def others_share(seconds: float = 2.0) -> float | None:
    """Share of the cores other processes used over the next `seconds` (we stay idle)."""
    before = _busy_jiffies()
    time.sleep(seconds)
    after = _busy_jiffies()
    if before is None or after is None:
        return None
    return (after - before) / os.sysconf("SC_CLK_TCK") / (seconds * (os.cpu_count() or 1))


def wait_for_quiet(threshold: float, timeout: float) -> None:
    """On a shared machine: wait (up to `timeout` s) until others use under `threshold` of
    the cores, so the next measurement is not mostly a measurement of them."""
    if threshold >= 1:
        return
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        share = others_share()
        if share is None or share < threshold:
            return


def cpu_pressure() -> str:
    """The kernel's 'some' CPU pressure over the last minute, when it is published."""
    try:
        with open("/proc/pressure/cpu") as handle:
            return handle.readline().split()[2].split("=")[1] + "%"
    except (OSError, IndexError):
        return "n/a"


def _poll(pid: int, peaks: dict, stop: threading.Event) -> None:
    """Poll a process's high-water mark (VmHWM, monotonic: the last read wins) and its
    private memory (RssAnon: heap and tensors, without the pages of shared libraries and
    mapped files, whose count varies from run to run with the code paths touched)."""
    path = "/proc/%d/status" % pid
    while not stop.is_set():
        try:
            with open(path) as handle:
                for line in handle:
                    key = line.split(":", 1)[0]
                    if key in ("VmHWM", "RssAnon"):
                        peaks[key] = max(peaks.get(key, 0.0), int(line.split()[1]) / 1024.0)
        except OSError:
            return
        stop.wait(0.05)


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Run `command` from the repository root; its wall time, output, exit status and peak
    memory: the largest of it and its children (getrusage of the reaped child), and, polled
    from /proc while it runs, its own high-water mark and private memory, in MB."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=str(REPO), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    peaks: dict = {}
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(child.pid, peaks, stop), daemon=True)
    poller.start()
    # Drain the pipes while it runs, then reap it with wait4 for its own resource usage.
    drained: dict = {}
    readers = [threading.Thread(target=lambda n=n, s=s: drained.__setitem__(n, s.read()))
               for n, s in (("out", child.stdout), ("err", child.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stop.set()
    for reader in readers:
        reader.join()
    return {"returncode": os.waitstatus_to_exitcode(status), "wall_s": wall,
            "out": drained.get("out", ""), "err": drained.get("err", ""),
            "any_peak_mb": usage.ru_maxrss / 1024.0, "main_peak_mb": peaks.get("VmHWM", 0.0),
            "anon_peak_mb": peaks.get("RssAnon", 0.0)}


# --- inputs --------------------------------------------------------------------------------

# zlib level for generated inputs: the pixels are the same at every level, and level 1
# writes several times faster than 6 (decoding costs about the same).
COMPRESS_LEVEL = 1


def _make_part(args: tuple) -> None:
    folder, count, seed, sizes, prefix = args
    make_images(Path(folder), count, seed=seed, sizes=sizes, prefix=prefix,
                compress_level=COMPRESS_LEVEL)


def ensure_images(folder: Path, count: int, sizes: Sequence[tuple[int, int]] = SAMPLE_SIZES,
                  seed: int = 1, procs: int | None = None) -> Path:
    """`count` ObjectNet-like PNGs in `folder`, generated in parallel unless already there."""
    if folder.is_dir() and len(list(folder.glob("*.png"))) == count:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    procs = max(1, min(procs or os.cpu_count() or 1, count))
    share = math.ceil(count / procs)
    parts = [(str(folder), min(share, count - i * share), seed * 1000 + i, tuple(sizes),
              "p%02d" % i) for i in range(procs) if count - i * share > 0]
    with get_context("fork").Pool(len(parts)) as pool:
        pool.map(_make_part, parts)
    return folder


def ensure_checkpoint(path: Path, model_dir: Path, model_class: str) -> Path:
    if not path.exists():
        make_checkpoint(path, model_dir, model_class, seed=0)
    return path


# --- the pipelines -------------------------------------------------------------------------

def time_seed(images: Path, output: Path, model_dir: Path, model_class: str, checkpoint: Path,
              workers: int | None = None) -> Measure:
    """The demo's pipeline end to end, model construction and checkpoint load included."""
    from seed_baseline import run_seed

    count = len(list(images.rglob("*.png")))
    # Exact like the engine's fp32: no TF32 (torch lets cuDNN use it by default).
    with Meter(count) as meter, compat.exact_float32():
        model = build_model(model_dir, model_class)
        model.load_state_dict(torch.load(str(checkpoint), map_location="cpu"))
        transform = load_transform(model_dir)
        startup = time.perf_counter() - meter.started
        run_seed(images, output, model, transform, workers=workers)
    del model
    meter.result.startup_s = startup
    return meter.result


def time_engine(images: Path, output: Path, model_dir: Path, model_class: str,
                checkpoint: Path, **settings: object) -> tuple[Measure, Summary]:
    """engine.run end to end (model construction, checkpoint load and start-up included)."""
    config = Config(images_dir=images, output_file=output, model_class=model_class,
                    checkpoint=checkpoint, model_dir=model_dir, overwrite=True, **settings)
    with Meter(0) as meter:
        summary = run(config)
    meter.result.images = summary.images
    meter.result.startup_s = summary.startup_s
    return meter.result, summary


def compare(reference_csv: Path, other_csv: Path) -> tuple[int, float]:
    """(rows whose five ids differ, largest confidence difference) between two predictions."""
    def rows(path: Path) -> dict:
        with open(path) as handle:
            return {r[0]: r[1:] for r in (line.strip().split(",") for line in handle)}

    reference, other = rows(reference_csv), rows(other_csv)
    if reference.keys() != other.keys():
        raise SystemExit("%s and %s hold different images" % (reference_csv, other_csv))
    differing, worst = 0, 0.0
    for name, a in reference.items():
        b = other[name]
        differing += a[0::2] != b[0::2]
        worst = max(worst, *(abs(float(x) - float(y)) for x, y in zip(a[1::2], b[1::2])))
    return differing, worst


# --- bounds --------------------------------------------------------------------------------

_DECODE_JOB: dict = {}


def _decode_chunk(paths: list[str]) -> tuple[int, float]:
    """(images done, CPU seconds used): a pool's workers are not yet the parent's finished
    children when the timing ends, so they report their CPU time themselves."""
    started = time.process_time()
    kind, transform, border = _DECODE_JOB["kind"], _DECODE_JOB["transform"], _DECODE_JOB["border"]
    for path in paths:
        if kind == "pil":  # the demo's way: Pillow, convert, crop, then Resize/CenterCrop
            image = Image.open(path).convert("RGB")
            width, height = image.size
            transform(image.crop((border, border, width - border, height - border)))
        else:  # the engine's loader workers: its decoder, then the geometric half
            transform(load_rgb(Path(path), border))
    return len(paths), time.process_time() - started


def decode_bound(images: Path, procs: int, kind: str, transform: Callable,
                 border: int = 2) -> Measure:
    """Decode + resize + crop alone in `procs` processes (no model, no transfer).

    kind "pil": Pillow with the transform's Resize/CenterCrop (the demo's decoding);
    kind "engine": the engine's decoder and loader-worker half of the transform.
    """
    standard = fastpath.split(transform)
    if standard is None:
        raise SystemExit("the decode bound needs the standard transform")
    geometry = standard.geometry if kind == "pil" else standard.pixels
    paths = [str(p) for p in find_images(images)]
    size = max(1, len(paths) // (procs * 8))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    _DECODE_JOB.update(kind=kind, transform=geometry, border=border)
    with get_context("fork").Pool(procs) as pool:
        pool.map(_decode_chunk, chunks[:procs])  # start-up and page cache, not timed
        with Meter(len(paths)) as meter:
            results = pool.map(_decode_chunk, chunks, chunksize=1)
            meter.extra_cpu_s = sum(cpu for _, cpu in results)
    assert sum(done for done, _ in results) == len(paths)
    return meter.result


def model_bound(model: torch.nn.Module, model_dir: Path, device: str, precision: str = "fp32",
                engine_style: bool = True, batch: int = 96, batches: int = 3,
                warmup: int = 1) -> Measure:
    """The forward pass alone on synthetic input already on the device.

    engine_style: the engine's Predictor (channels_last, CPU slices, autocast, top-5 on the
    device) on uint8 pixels normalised on the device; otherwise the demo's plain fp32 forward
    on a float batch in the default memory format. Measure the demo's way first: the engine's
    way converts `model` to channels_last in place.
    """
    placement = devices.Placement(torch.device(device), 1 if device.startswith("cuda") else 0)
    config = Config(images_dir=Path("."), output_file=Path("x"), model_class="x",
                    checkpoint=Path("x"), model_dir=model_dir, precision=precision,
                    gpus=placement.gpus)
    if engine_style:
        channels_last = devices.uses_channels_last(model, config)
        prepared = devices.prepare(model, config, placement)
        standard = fastpath.split(load_transform(model_dir))
        normaliser = standard.normaliser(placement.device, channels_last) if standard else None
        predictor = Predictor(prepared, config, placement, channels_last, normaliser)
        pixels = torch.randint(0, 256, (batch, 224, 224, 3), dtype=torch.uint8,
                               device=placement.device)

        def step() -> None:
            predictor.top5_tensors(pixels)
    else:
        plain = model.to(placement.device).eval()
        floats = torch.randn(batch, 3, 224, 224, device=placement.device)

        def step() -> None:
            with torch.no_grad():
                torch.softmax(plain(floats), dim=1).topk(5, dim=1)

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with compat.exact_float32():
        for _ in range(warmup):
            step()
        sync()
        with Meter(batch * batches) as meter:
            for _ in range(batches):
                step()
            sync()
    return meter.result


def build_on(model_dir: Path, model_class: str, device: str) -> torch.nn.Module:
    """The model built with its random initialisation directly on `device` (torch 2.0's
    device context): a GPU initialises ResNeXt-101 32x48d in a moment, the CPU in ~16 s."""
    load_model_module(model_dir)  # imported outside the context: module-level tensors stay
    if device.startswith("cuda") and hasattr(torch.device, "__enter__"):
        with torch.device(device):
            return build_model(model_dir, model_class)
    return build_model(model_dir, model_class).to(device)


# --- reporting -----------------------------------------------------------------------------

@dataclasses.dataclass
class Row:
    workload: str
    pipeline: str
    measures: list[Measure]
    baseline: Row | None = None
    note: str = ""
    worst: tuple[int, float] = (0, 0.0)
    """(rows whose ids differ, largest confidence difference) against the baseline's CSV."""
    end_to_end: bool = True
    """A whole run (with a start-up); False for the bounds, which have none."""

    @property
    def rate(self) -> float:
        return statistics.median(m.img_per_s for m in self.measures)

    @property
    def steady(self) -> float:
        return statistics.median(m.steady_img_per_s for m in self.measures)

    def spread(self) -> str:
        rates = sorted(m.img_per_s for m in self.measures)
        if len(rates) == 1:
            return ""
        return "%s-%s" % (rate_text(rates[0]), rate_text(rates[-1]))

    def ratio(self) -> str:
        return "%.2fx" % (self.rate / self.baseline.rate) if self.baseline else ""

    def steady_ratio(self) -> str:
        if not (self.baseline and self.end_to_end and self.baseline.end_to_end):
            return ""
        return "%.2fx" % (self.steady / self.baseline.steady)

    def others(self) -> str:
        shares = [m.others for m in self.measures if m.others is not None]
        return "%d%%" % round(100 * max(shares)) if shares else "n/a"


def rate_text(value: float) -> str:
    if value >= 100:
        return "%.0f" % value
    return "%.1f" % value if value >= 10 else "%.2f" % value


COLUMNS = ("workload", "pipeline", "img/s", "range", "ratio", "steady", "ratio ", "others",
           "predictions vs baseline")


def _cells(row: Row) -> list[str]:
    steady = rate_text(row.steady) if row.end_to_end else ""
    return [row.workload, row.pipeline, rate_text(row.rate), row.spread(), row.ratio(), steady,
            row.steady_ratio(), row.others(), row.note]


def print_table(title: str, rows: Sequence[Row]) -> None:
    """img/s: end to end, the median over repeats, 'range' their spread, 'ratio' against the
    row's baseline; 'steady': img/s after start-up (model construction, checkpoint load,
    checks), what a 50,273-image run sees; 'others': the largest share of the cores other
    processes used during any repeat (high = the number is pessimistic). A Rich table where
    Rich is installed, aligned text otherwise (lent GPU machines)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        cells = [list(COLUMNS)] + [_cells(row) for row in rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
        print(title)
        for line in cells:
            print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())
        return
    out = Table(title=title, title_justify="left")
    for name in COLUMNS:
        out.add_column(name, justify="right" if name in COLUMNS[2:8] else "left")
    for row in rows:
        out.add_row(*_cells(row))
    Console(width=max(160, Console().width)).print(out)


def row_dict(row: Row) -> dict:
    return {"workload": row.workload, "pipeline": row.pipeline, "img_per_s": row.rate,
            "steady_img_per_s": row.steady if row.end_to_end else None,
            "runs": [dataclasses.asdict(m) for m in row.measures], "ratio": row.ratio(),
            "steady_ratio": row.steady_ratio(), "note": row.note}


def same_note(differing: int, worst: float, rows: int, exact: bool = True) -> str:
    """How far a run's predictions are from the baseline's. Exact pipelines must be "same"."""
    detail = "%d/%d ids differ, max dconf %.1e" % (differing, rows, worst)
    if not exact:
        return detail
    return ("same: %s" if differing == 0 and worst <= TOLERANCE else "NOT THE SAME: %s") % detail
