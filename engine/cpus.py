"""How many CPUs this process may really use, and how many threads torch should run on them.

torch's own choice of intra-op threads can be wrong inside a container, both ways:

- too few: Debian's torch 1.13 (the test base image) starts with 1 thread on a 2-CPU host. With
  one thread, torch 1.13 also sends 1x1 convolutions of small batches to its im2col + BLAS path
  instead of oneDNN, so a ResNet-50 ran 2x slower than on 2 threads;
- too many: torch counts the CPUs in the affinity mask, which ignores a cgroup CPU quota
  (`docker run --cpus 4` on a 16-core machine), and 16 threads sharing 4 CPUs' worth of time
  stall each other at every parallel region.

Standard library only: engine.config uses it for the loader workers' default.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Mapping, Optional, Tuple

CGROUP = Path("/sys/fs/cgroup")

# Variables with which a user (or a launcher) already chose the thread count: left alone.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def affinity_cpus() -> int:
    """CPUs the scheduler lets this process run on (all of them where the platform can't say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_cpu_limit(root: Path = CGROUP) -> Optional[float]:
    """The CPU quota of this process's cgroup in CPUs (2.5 = `--cpus 2.5`), None when unlimited
    or unknown. Reads cgroup v2's cpu.max, else v1's cfs quota and period."""
    try:
        fields = (root / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max" and int(fields[1]) > 0:
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError):
        pass
    for v1 in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        try:
            quota = int((root / v1 / "cpu.cfs_quota_us").read_text())
            period = int((root / v1 / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None


def usable_cpus(root: Path = CGROUP) -> int:
    """CPUs' worth of time this process can have: its affinity, capped by its cgroup quota
    (rounded up: a quota of 2.5 CPUs keeps 3 threads busy)."""
    cpus = affinity_cpus()
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit - 1e-9)))
    return max(1, cpus)


def local_ranks(environ: Mapping[str, str] = os.environ) -> int:
    """Processes torchrun started on this machine (LOCAL_WORLD_SIZE), 1 outside torchrun."""
    with contextlib.suppress(ValueError):
        return max(1, int(environ.get("LOCAL_WORLD_SIZE", "1")))
    return 1


def intra_op_threads(torch_default: int, usable: int,
                     environ: Mapping[str, str] = os.environ) -> Tuple[int, str]:
    """(threads, why) for torch's intra-op pool.

    torch's default stands when the user set OMP_NUM_THREADS/MKL_NUM_THREADS, or when it lies
    between 2 and this process's share of the usable CPUs (torch picks physical cores over
    hyper-threads on big hosts, which is right). Otherwise the share: the usable CPUs divided
    among torchrun's local ranks (LOCAL_WORLD_SIZE), at least 1."""
    for name in THREAD_VARIABLES:
        if environ.get(name, "").strip():
            return torch_default, "%s is set" % name
    ranks = local_ranks(environ)
    share = max(1, usable // ranks)
    where = "%d usable CPUs" % usable + (" over %d local ranks" % ranks if ranks > 1 else "")
    if torch_default > share:
        return share, "torch's default %d is more than the %s" % (torch_default, where)
    if torch_default < 2 <= share:
        return share, "torch's default %d leaves most of the %s idle" % (torch_default, where)
    return torch_default, "torch's default, within the %s" % where
