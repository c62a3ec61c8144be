"""The challenge runner's limits, applied to the in-image smoke run, and the verdicts on them.

A submission that runs here but not on the runner wastes a scarce submission. The runner
profile (the answers' runner_* settings; the defaults are the ObjectNet runner: no network,
/input read-only, /output writable, 32 GB memory, 12 GB shared memory, GPUs when present) is
applied to the smoke container, together with the hardening a careful runner adds
(cap_drop ALL, no-new-privileges, a pids limit). Two strict passes follow: a read-only root
filesystem with a tmpfs /tmp, and a run as a non-root user. The run's peak memory and peak
/dev/shm are measured against the limits, and its time is extrapolated to the 50,273-image
test set against the profile's time limit, labelled with the hardware it was measured on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wizard.errors import WizardError
from wizard.validators import parse_size

if TYPE_CHECKING:
    from wizard.answers import Answers

FULL_TEST_SET = 50_273
PIDS_LIMIT = 4096
"""Enough for a DataLoader with dozens of workers and their threads; stops a fork bomb."""
NON_ROOT_USER = "1000:1000"
TIME_MARGIN = 1.5
"""An estimate must fit this many times over to be called "fits": a runner's GPU may be busy,
its disk slower, and the estimate comes from a few dozen images."""

Strictness = Literal["warn", "require", "skip"]


class RunnerLimitError(WizardError):
    """The image does not run within the runner profile's limits."""


def show_size(size: float) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size:.0f} B"


@dataclass(frozen=True)
class RunnerProfile:
    """The runner's limits, from the answers."""

    memory: str = "32g"
    shm: str = "12g"
    gpus: bool = True
    time_limit_hours: float | None = None
    user: str | None = None
    strict: Strictness = "warn"

    @classmethod
    def from_answers(cls, answers: Answers) -> RunnerProfile:
        return cls(memory=answers.runner_memory, shm=answers.runner_shm,
                   gpus=answers.runner_gpus, time_limit_hours=answers.runner_time_limit_hours,
                   user=answers.runner_user, strict=answers.runner_strict)

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)

    @property
    def shm_bytes(self) -> int:
        return parse_size(self.shm)

    def describe(self) -> str:
        limit = (f"{self.time_limit_hours:g} h time limit" if self.time_limit_hours
                 else "no time limit set")
        user = f"user {self.user}" if self.user else "the image's own user"
        return (f"{self.memory} memory, {self.shm} /dev/shm, "
                f"{'GPUs when present' if self.gpus else 'no GPU'}, {limit}, {user}, "
                "no network, /input read-only, cap_drop ALL, no-new-privileges, "
                f"pids limit {PIDS_LIMIT}")


@dataclass(frozen=True)
class Usage:
    """What the container used at its peak (None where it could not be measured)."""

    memory_peak: int | None
    shm_peak: int | None
    oom_killed: bool = False


def usage_lines(usage: Usage, profile: RunnerProfile) -> list[str]:
    """Peak memory and /dev/shm against the profile's limits."""
    out = []
    for what, peak, limit in (("memory", usage.memory_peak, profile.memory_bytes),
                              ("/dev/shm", usage.shm_peak, profile.shm_bytes)):
        if peak is None:
            out.append(f"peak {what}: not measured (the engine gave no figures)")
        else:
            out.append(f"peak {what}: {show_size(peak)} of the {show_size(limit)} limit "
                       f"({100.0 * peak / limit:.0f}%)")
    return out


@dataclass(frozen=True)
class TimeVerdict:
    """The full test set's estimated time against the profile's time limit."""

    verdict: Literal["fits", "tight", "does not fit", "no limit"]
    estimate_s: float
    limit_s: float | None
    hardware: str
    """What the estimate was measured on, e.g. "this machine's CPU (2 cores)"."""
    upper_bound: bool
    """True for a CPU figure: a GPU runner will be faster."""

    def line(self) -> str:
        estimate = duration(self.estimate_s)
        bound = (", an upper bound for a GPU runner" if self.upper_bound else "")
        where = f"measured on {self.hardware}{bound}"
        if self.limit_s is None:
            return (f"time: all {FULL_TEST_SET:,} images in about {estimate} ({where}); no "
                    "time limit set (the ObjectNet runner's was never published): set "
                    "runner_time_limit_hours to get a verdict")
        return (f"time: {self.verdict}: all {FULL_TEST_SET:,} images in about {estimate} "
                f"against the {duration(self.limit_s)} limit with a {TIME_MARGIN:g}x "
                f"margin ({where})")


def time_verdict(startup_s: float, img_per_s: float | None, profile: RunnerProfile,
                 hardware: str, upper_bound: bool) -> TimeVerdict:
    """Extrapolate to the test set: start-up plus every image at the measured steady rate."""
    estimate = startup_s + FULL_TEST_SET / img_per_s if img_per_s else math.inf
    limit = profile.time_limit_hours * 3600 if profile.time_limit_hours else None
    if limit is None:
        verdict = "no limit"
    elif estimate * TIME_MARGIN <= limit:
        verdict = "fits"
    elif estimate <= limit:
        verdict = "tight"
    else:
        verdict = "does not fit"
    return TimeVerdict(verdict, estimate, limit, hardware, upper_bound)  # type: ignore[arg-type]


def duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "an unknown time"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def oom_message(image: str, profile: RunnerProfile, usage: Usage) -> str:
    peak = f" (peak {show_size(usage.memory_peak)})" if usage.memory_peak else ""
    return (f"the image {image} was killed for using more than the runner's {profile.memory} "
            f"memory limit{peak}: lower batch_size or workers, or raise runner_memory if the "
            "challenge's runner allows more")
