"""bench/speed.py sized for a lent GPU machine (one H100, 16 cores): one command, no installs.

    python3 bench/gpu.py [--compile] [--json $OUT/gpu.json]

It needs only what such a machine has (Python with torch, torchvision, Pillow and numpy;
Rich and pyspng are used when present), generates its own inputs (5,000 sample-size and 480
2048x1536 ObjectNet-like PNGs at zlib level 1, random-weight checkpoints; about 8.5 GB under
/tmp, and the seed's loader can hold about 3 GB in /dev/shm), and keeps to a 270-second
budget that starts once the inputs are ready: the rows that check the issue's targets run
first (ResNet-50 end to end exact and opt-ins, with --compile right after them, the large
PNGs, ResNeXt-101 32x48d bf16, built once on the GPU and loaded without initialisation by the
engine), then the decode and model bounds; what no longer fits is skipped and said so. Rows
are printed as they are measured, so a cut-off run still reports what it did. Exact rows (the
seed's and the engine's) are true fp32: TF32 off, so both must give the same predictions.

The prepared command for a lent machine (a limit that leaves time for one rerun):

    set -o pipefail; df -h /tmp /dev/shm; nvidia-smi -L;
    PYTHONUNBUFFERED=1 python3 bench/gpu.py 2>&1 | tee $OUT/gpu.log
"""

from __future__ import annotations

import importlib.util
import os
import sys


def _check_stack() -> None:
    missing = [name for name in ("torch", "torchvision", "PIL", "numpy")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit("bench/gpu.py needs %s on this machine (it installs nothing)"
                         % ", ".join(missing))


def main(argv=None) -> int:
    _check_stack()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: running the GPU preset on the CPU would take hours; use "
              "bench/speed.py", file=sys.stderr)
        return 2
    import speed

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--json" not in argv and os.environ.get("OUT"):
        argv += ["--json", os.path.join(os.environ["OUT"], "gpu.json")]
    return speed.main(argv, preset="gpu")


if __name__ == "__main__":
    raise SystemExit(main())
