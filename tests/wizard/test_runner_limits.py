"""The runner's limits applied to the in-image smoke run, on the real engine and base image:
hardening, peak memory and /dev/shm, the time verdict, a run killed for memory, and the
strict passes (read-only root filesystem, non-root user)."""

from __future__ import annotations

import pytest
from test_image_e2e import SMOKE_IMAGES, built  # noqa: F401  (the module's built image)

from wizard.runner_profile import RunnerLimitError, RunnerProfile, time_verdict
from wizard.smoke import image_smoke, strict_passes


@pytest.mark.docker
def test_the_image_runs_under_the_profile_and_reports_its_peaks(built, tmp_path):  # noqa: F811
    profile = RunnerProfile(memory="2g", shm="1g", time_limit_hours=1000.0)
    result = image_smoke(built.ops, built.reference, built.images, tmp_path,
                         built.local.predictions, profile=profile)
    assert result.comparison.ok and result.comparison.rows == SMOKE_IMAGES
    usage = result.usage
    assert usage.memory_peak is not None and 0 < usage.memory_peak < 2 * 1024 ** 3
    assert usage.shm_peak is not None and 0 <= usage.shm_peak < 1024 ** 3
    assert not usage.oom_killed
    text = "\n".join(result.lines())
    assert "peak memory: " in text and "of the 2.0 GiB limit" in text
    assert "peak /dev/shm: " in text and "of the 1.0 GiB limit" in text
    verdict = result.time
    assert verdict is not None and verdict.verdict == "fits"
    assert verdict.upper_bound and "this machine's CPU" in verdict.hardware
    assert "time: fits: all 50,273 images" in text and "an upper bound for a GPU runner" in text
    assert "cap_drop ALL, no-new-privileges" in text


def test_the_time_verdict_judges_the_estimate_against_the_limit():
    def judge(hours):
        profile = RunnerProfile(time_limit_hours=hours)
        return time_verdict(10.0, 10.0, profile, "an A100", upper_bound=False)

    estimate = 10.0 + 50_273 / 10.0
    assert judge(None).verdict == "no limit"
    assert "never published" in judge(None).line()
    assert judge(estimate * 2 / 3600).verdict == "fits"
    assert judge(estimate * 1.2 / 3600).verdict == "tight"
    assert judge(estimate * 0.5 / 3600).verdict == "does not fit"
    assert "measured on an A100" in judge(1.0).line()


@pytest.mark.docker
def test_a_run_over_a_small_memory_limit_is_named_not_hung(built, tmp_path):  # noqa: F811
    profile = RunnerProfile(memory="48m", shm="64m")
    with pytest.raises(RunnerLimitError) as caught:
        image_smoke(built.ops, built.reference, built.images, tmp_path,
                    built.local.predictions, profile=profile, timeout_s=300)
    message = str(caught.value)
    assert "killed for using more than the runner's 48m memory limit" in message
    assert "lower batch_size or workers" in message and "\n" not in message


@pytest.mark.docker
def test_strict_passes_run_read_only_and_as_a_non_root_user(built, tmp_path):  # noqa: F811
    passes = strict_passes(built.ops, built.reference, built.images, tmp_path, RunnerProfile())
    assert [p.name for p in passes] == ["read-only root filesystem", "non-root user 1000:1000"]
    for strict in passes:
        assert strict.ok, strict.detail
        assert strict.line().endswith(": works")
