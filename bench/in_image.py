"""The engine here and inside the test base image, on the same images and checkpoint, in one run.

    .venv/bin/python bench/in_image.py [--images 48] [--repeat 3] [--model resnet50]
        [--image objectnet-wizard-test/torch:bookworm] [--before IMAGE]

Rows (each run alternately, --repeat times; medians and spread):

- local: `python -m engine` here, on this venv's torch;
- in image: the same command inside IMAGE (its own Python and torch: Debian's 1.13 for the test
  image), with --network none and the engine and model mounted, as the smoke run starts it;
- in image, host torch: the same container with this venv's site-packages on PYTHONPATH, so
  the engine runs on the local torch inside the container: what is left between this row and
  "local" is the container, what is left between it and "in image" is the torch build;
- before (with --before IMAGE): IMAGE with OMP_NUM_THREADS=1, what the engine got before it
  chose its own thread count (torch 1.13's default there is 1).

"steady" is the rate the engine prints after start-up (the figure both smoke results show),
the one the 0.8x target is about; "ratio" columns are against the local row. Exit status 1
when the rows' predictions differ (ids, or confidences beyond float rounding).
"""

from __future__ import annotations

import argparse
import os
import re
import site
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import docker

import harness

RATE = re.compile(r"wrote \S+: (\d+) images, \d+ unreadable, ([\d.]+) s, [\d.]+ img/s "
                  r"\(([\d.]+) after start-up\)")
THREADS = re.compile(r"^(\d+ CPU threads? for the model .*)$", re.M)


def parse(log: str) -> tuple[harness.Measure, str]:
    """The engine's own summary: images, wall time and the after-start-up rate."""
    found = RATE.search(log)
    if found is None:
        raise SystemExit("the engine printed no summary:\n" + log[-3000:])
    images, wall, steady = int(found.group(1)), float(found.group(2)), float(found.group(3))
    startup = wall - images / steady if steady > 0 else wall
    threads = THREADS.search(log)
    return (harness.Measure(images, wall, 0.0, None, startup_s=startup),
            threads.group(1) if threads else "(the engine did not say)")


def engine_args(images: str, output: str, model: str, checkpoint: str, model_dir: str,
                batch: int) -> list[str]:
    return [images, output, model, checkpoint, "--model-dir", model_dir, "--batch_size",
            str(batch), "--overwrite"]


def run_local(work: Path, args: argparse.Namespace) -> tuple[harness.Measure, str]:
    command = [sys.executable, "-m", "engine", *engine_args(
        str(work / "images"), str(work / "local.csv"), args.model, str(work / "model.pth"),
        str(args.model_dir), args.batch_size)]
    done = subprocess.run(command, cwd=harness.REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    if done.returncode != 0:
        raise SystemExit("the local run failed:\n" + done.stderr[-3000:])
    return parse(done.stdout + done.stderr)


def run_in_image(client: docker.DockerClient, image: str, work: Path, args: argparse.Namespace,
                 output: str, environment: dict[str, str] | None = None,
                 host_torch: bool = False) -> tuple[harness.Measure, str]:
    volumes = {
        str(harness.REPO / "engine"): {"bind": "/opt/objectnet/engine", "mode": "ro"},
        str(args.model_dir.resolve()): {"bind": "/plugin", "mode": "ro"},
        str(work / "images"): {"bind": "/input", "mode": "ro"},
        str(work): {"bind": "/work", "mode": "rw"},
    }
    env = {"PYTHONDONTWRITEBYTECODE": "1", **(environment or {})}
    if host_torch:
        volumes[site.getsitepackages()[0]] = {"bind": "/hostsite", "mode": "ro"}
        env["PYTHONPATH"] = "/hostsite"
    container = client.containers.run(
        image, ["python3", "-m", "engine", *engine_args(
            "/input", "/work/" + output, args.model, "/work/model.pth", "/plugin",
            args.batch_size)],
        working_dir="/opt/objectnet", volumes=volumes, network_mode="none", detach=True,
        environment=env, shm_size="2g")
    try:
        status = container.wait(timeout=3600)["StatusCode"]
        log = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    if status != 0:
        raise SystemExit("the run in %s failed (exit %d):\n%s" % (image, status, log[-3000:]))
    return parse(log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--model-dir", type=Path, default=harness.REPO / "model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--image", default=os.environ.get("OBJECTNET_WIZARD_BASE_IMAGE",
                                                          "objectnet-wizard-test/torch:bookworm"))
    parser.add_argument("--before", default=None, help="an image to run with 1 thread, as "
                        "the engine ran before it chose its threads")
    parser.add_argument("--no-host-torch", action="store_true",
                        help="skip the row with this venv's torch inside the container")
    args = parser.parse_args()

    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="bench-in-image-"))
    work.chmod(0o777)
    harness.ensure_images(work / "images", args.images)
    harness.ensure_checkpoint(work / "model.pth", args.model_dir, args.model)

    local = harness.Row("%d sample-size PNGs" % args.images, "local, torch %s"
                        % harness.torch.__version__, [])
    rows = [local]
    plans = [(local, lambda: run_local(work, args), "local.csv")]
    image_row = harness.Row("", "in image %s" % args.image, [], baseline=local)
    rows.append(image_row)
    plans.append((image_row, lambda: run_in_image(client, args.image, work, args, "image.csv"),
                  "image.csv"))
    if not args.no_host_torch:
        host_row = harness.Row("", "in image, host torch %s" % harness.torch.__version__, [],
                               baseline=local)
        rows.append(host_row)
        plans.append((host_row, lambda: run_in_image(client, args.image, work, args,
                                                     "host-torch.csv", host_torch=True),
                      "host-torch.csv"))
    if args.before:
        before_row = harness.Row("", "before: %s, 1 thread" % args.before, [], baseline=local)
        rows.append(before_row)
        plans.append((before_row, lambda: run_in_image(client, args.before, work, args,
                                                       "before.csv",
                                                       {"OMP_NUM_THREADS": "1"}),
                      "before.csv"))
    threads: dict[str, str] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.repeat):
        for row, plan, _csv in plans:
            with harness.Meter(0) as meter:
                measure, threads[row.pipeline] = plan()
            measure.others = meter.result.others if meter.result else None
            row.measures.append(measure)
        load.append(os.getloadavg()[0])
    worst_ids, worst_conf = 0, 0.0
    for row, _plan, csv in plans[1:]:
        differing, worst = harness.compare(work / "local.csv", work / csv)
        row.note = harness.same_note(differing, worst, args.images)
        worst_ids, worst_conf = max(worst_ids, differing), max(worst_conf, worst)
    harness.print_table("%s on the CPU, %d cores here" % (args.model, os.cpu_count() or 1),
                        rows)
    for row in rows:
        print("%-45s %s" % (row.pipeline, threads.get(row.pipeline, "")))
    print("steady in image / steady local: %.2f (target >= 0.8)"
          % (image_row.steady / local.steady))
    print("load average (1 min) before and after each round: %s; 'others' is the share of "
          "the cores other processes kept busy during a row (container CPU counts as others)"
          % ", ".join("%.1f" % x for x in load))
    print("median wall s per row: %s" % ", ".join(
        "%.1f" % statistics.median(m.wall_s for m in row.measures) for row in rows))
    return 0 if worst_ids == 0 and worst_conf <= harness.TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
