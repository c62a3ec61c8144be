"""engine.cpus: the CPU share a process really has (affinity and cgroup quota) and the thread
count the engine gives torch, on real cgroup files written in a temporary tree, then inside a
real container whose CPU quota Docker sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import cpus


def cgroup_v2(root: Path, cpu_max: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cpu.max").write_text(cpu_max + "\n")
    return root


def cgroup_v1(root: Path, quota: int, period: int, folder: str = "cpu,cpuacct") -> Path:
    (root / folder).mkdir(parents=True)
    (root / folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (root / folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    return root


@pytest.mark.parametrize(("cpu_max", "limit"), [
    ("max 100000", None),
    ("200000 100000", 2.0),
    ("250000 100000", 2.5),
    ("50000 100000", 0.5),
    ("garbage", None),
])
def test_cgroup_v2_quota(tmp_path, cpu_max, limit):
    assert cpus.cgroup_cpu_limit(cgroup_v2(tmp_path, cpu_max)) == limit


@pytest.mark.parametrize(("quota", "limit"), [(-1, None), (400000, 4.0), (150000, 1.5)])
def test_cgroup_v1_quota(tmp_path, quota, limit):
    assert cpus.cgroup_cpu_limit(cgroup_v1(tmp_path, quota, 100000)) == limit


def test_no_cgroup_files_means_no_limit(tmp_path):
    assert cpus.cgroup_cpu_limit(tmp_path) is None
    assert cpus.usable_cpus(tmp_path) == cpus.affinity_cpus()


def test_a_quota_caps_the_usable_cpus_rounding_up(tmp_path):
    affinity = cpus.affinity_cpus()
    assert cpus.usable_cpus(cgroup_v2(tmp_path / "a", "50000 100000")) == 1
    assert cpus.usable_cpus(cgroup_v2(tmp_path / "b", "150000 100000")) == min(affinity, 2)
    assert cpus.usable_cpus(cgroup_v2(tmp_path / "c", "6400000 100000")) == affinity


@pytest.mark.parametrize(("torch_default", "usable", "env", "threads"), [
    (1, 2, {}, 2),                       # Debian's torch 1.13 in a container: too few
    (1, 16, {}, 16),
    (16, 4, {}, 4),                      # affinity of 16, quota of 4 CPUs: too many
    (8, 16, {}, 8),                      # physical cores of a hyper-threaded host: kept
    (2, 2, {}, 2),
    (1, 1, {}, 1),
    (16, 16, {"LOCAL_WORLD_SIZE": "4"}, 4),  # torchrun: four ranks share the machine
    (1, 16, {"LOCAL_WORLD_SIZE": "8"}, 2),
    (1, 2, {"LOCAL_WORLD_SIZE": "8"}, 1),
    (1, 2, {"OMP_NUM_THREADS": "1"}, 1),     # the user's choice stands
    (16, 4, {"MKL_NUM_THREADS": "16"}, 16),
    (1, 2, {"LOCAL_WORLD_SIZE": "x"}, 2),
])
def test_thread_choice(torch_default, usable, env, threads):
    chosen, why = cpus.intra_op_threads(torch_default, usable, env)
    assert chosen == threads
    assert why


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("quota", [None, 1.0])
def test_inside_a_container_the_engine_uses_its_cpu_share(docker_client, base_image, quota):
    """The torch 1.13 test image starts torch at 1 thread; the engine's choice there follows
    the container's CPUs, and a `--cpus` quota below the host's cores caps it."""
    from support import REPO

    script = ("import torch, engine.cpus as c, engine.devices as d;"
              " before = torch.get_num_threads(); line = d.set_cpu_threads();"
              " print(before, torch.get_num_threads(), c.usable_cpus()); print(line)")
    kwargs = {"nano_cpus": int(quota * 1e9)} if quota else {}
    container = docker_client.containers.run(
        base_image, ["python3", "-c", script], working_dir="/opt/objectnet",
        volumes={str(REPO / "engine"): {"bind": "/opt/objectnet/engine", "mode": "ro"}},
        network_mode="none", detach=True, environment={"PYTHONDONTWRITEBYTECODE": "1"},
        **kwargs)
    try:
        assert container.wait(timeout=120)["StatusCode"] == 0, container.logs().decode()
        first, line = container.logs(stderr=False).decode().strip().splitlines()[-2:]
    finally:
        container.remove(force=True)
    before, after, usable = map(int, first.split())
    assert usable == (1 if quota else cpus.affinity_cpus())
    assert after == usable if before < 2 or before > usable else after == before
    assert line.startswith(f"{after} CPU thread")
