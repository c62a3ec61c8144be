"""The engine on the oldest stack we test for real: the Debian-based test image (Python 3.11,
torch 1.13, torchvision 0.14, Pillow 9.4, no pyspng, no safetensors), with no network.
Its rows must match the host's run on today's torch."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
import torch
from support import REPO, read_rows, save_checkpoint

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _in_image(docker_client, base_image: str, args: list[str], mounts: dict[str, Path],
              **limits: str) -> tuple[int, str]:
    volumes = {str(REPO / "engine"): {"bind": "/opt/objectnet/engine", "mode": "ro"}}
    volumes.update({str(p): {"bind": target, "mode": "rw" if target == "/output" else "ro"}
                    for target, p in mounts.items()})
    container = docker_client.containers.run(
        base_image, ["python3", "-m", "engine", *args], working_dir="/opt/objectnet",
        volumes=volumes, network_mode="none", detach=True, **limits,
        environment={"PYTHONDONTWRITEBYTECODE": "1"})
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return status, container.logs().decode()
    finally:
        container.remove(force=True)


@pytest.fixture()
def layout(plugin_dir: Path, images: Path, tmp_path: Path):
    output = tmp_path / "output"
    output.mkdir()
    output.chmod(0o777)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    return {"/input": images, "/plugin": plugin_dir, "/output": output, "/ckpt": ckpt}


def _rows(path: Path) -> dict:
    return {r[0]: ([int(x) for x in r[1::2]], [float(x) for x in r[2::2]])
            for r in read_rows(path)}


@pytest.mark.parametrize("mode", ["1", "2"])
def test_rows_match_the_host_on_torch_1_13(docker_client, base_image, layout, plugin_dir, mode):
    from engine.cli import main

    save_checkpoint(plugin_dir, "resnet18", layout["/ckpt"] / "r18.pth", seed=4)
    host_csv = layout["/ckpt"] / "host.csv"
    assert main([str(layout["/input"]), str(host_csv), "resnet18",
                 str(layout["/ckpt"] / "r18.pth"), "--model-dir", str(plugin_dir),
                 "--workers", "0", "--convert_outputs_mode", mode]) == 0
    status, logs = _in_image(
        docker_client, base_image,
        ["/input", "/output/predictions.csv", "resnet18", "/ckpt/r18.pth", "--model-dir",
         "/plugin", "--workers", "2", "--convert_outputs_mode", mode], layout)
    assert status == 0, logs
    assert "on cpu" in logs
    host, image = _rows(host_csv), _rows(layout["/output"] / "predictions.csv")
    assert list(host) == list(image)
    for name in host:
        assert host[name][0] == image[name][0], name
        assert host[name][1] == pytest.approx(image[name][1], abs=1e-5), name


def test_checkpoint_formats_on_torch_1_13(docker_client, base_image, layout, plugin_dir,
                                          tmp_path):
    from safetensors.torch import save_file

    from engine.plugin import build_model

    state = torch.load(str(save_checkpoint(plugin_dir, "tiny", tmp_path / "t.pth")),
                       weights_only=True)
    ckpt = layout["/ckpt"]
    save_file(dict(state), str(ckpt / "tiny.safetensors"))
    torch.save({"state_dict": {"module." + k: v for k, v in state.items()}}, str(ckpt / "dp.pth"))
    torch.save(state, str(ckpt / "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(build_model(plugin_dir, "tiny"), str(ckpt / "whole.pth"))
    common = ["--model-dir", "/plugin", "--workers", "0", "--overwrite"]
    for name in ("tiny.safetensors", "dp.pth", "legacy.pth"):
        status, logs = _in_image(docker_client, base_image,
                                 ["/input", "/output/p.csv", "tiny", "/ckpt/" + name, *common],
                                 layout)
        assert status == 0, (name, logs)
    status, logs = _in_image(docker_client, base_image,
                             ["/input", "/output/p.csv", "tiny", "/ckpt/whole.pth", *common],
                             layout)
    assert status == 2 and "--trust-checkpoint" in logs, logs
    assert "Traceback" not in logs
    shutil.rmtree(ckpt)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("true",))


def test_integrity_on_torch_1_13(docker_client, base_image, layout, plugin_dir, tmp_path):
    """Issue 11 on the old stack: quoted names, special files and a link loop give rows, not
    hangs; a pickle that would call posix.system is named, and trust is not suggested."""
    from wizard.samples import make_images

    folder = tmp_path / "special"
    make_images(folder, 3, seed=21)
    make_images(folder / "sub", 1, seed=22)[0].rename(folder / "sub" / 'a,b "q".png')
    (folder / "sub" / "up").symlink_to("..")
    (folder / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(folder / "fifo.png")
    layout["/input"] = folder
    save_checkpoint(plugin_dir, "tiny", layout["/ckpt"] / "tiny.pth")
    torch.save({"w": torch.zeros(1), "p": _Exploit()}, str(layout["/ckpt"] / "exploit.pth"))
    common = ["--model-dir", "/plugin", "--workers", "1"]
    # /dev/zero and a FIFO: a regression must hit the container's memory limit, not the host.
    status, logs = _in_image(docker_client, base_image,
                             ["/input", "/output/p.csv", "tiny", "/ckpt/tiny.pth", *common],
                             layout, mem_limit="4g", memswap_limit="4g")
    assert status == 3, logs
    with open(layout["/output"] / "p.csv", newline="", encoding="utf-8") as handle:
        rows = {row[0]: row[1:] for row in csv.reader(handle)}
    assert len(rows) == 6 and all(len(row) == 10 for row in rows.values())
    assert 'a,b "q".png' in rows
    assert rows["zero.png"][::2] == rows["fifo.png"][::2] == ["-1"] * 5
    status, logs = _in_image(docker_client, base_image,
                             ["/input", "/output/q.csv", "tiny", "/ckpt/exploit.pth", *common],
                             layout)
    assert status == 2 and "posix.system" in logs and "not a torch model class" in logs, logs
    assert "pass --trust-checkpoint" not in logs and "Traceback" not in logs
    shutil.rmtree(layout["/ckpt"])


def test_score_counts_both_conversions_on_torch_1_13(docker_client, base_image, layout,
                                                     plugin_dir, tmp_path):
    """--score's device-side counting (amax, any(dim), in-place sums under no_grad) on the
    oldest stack we test: labels are the host's mode-2 top-1, so mode 2 must score 100%."""
    import json
    import shutil

    from engine.cli import main

    save_checkpoint(plugin_dir, "tiny", layout["/ckpt"] / "tiny.pth", seed=3)
    host_csv = layout["/ckpt"] / "host.csv"
    assert main([str(layout["/input"]), str(host_csv), "tiny", str(layout["/ckpt"] / "tiny.pth"),
                 "--model-dir", str(plugin_dir), "--workers", "0",
                 "--convert_outputs_mode", "2"]) == 0
    labelled = tmp_path / "labelled"
    shutil.copytree(layout["/input"], labelled)
    answers = {name: ids[0] for name, (ids, _) in _rows(host_csv).items()}
    (labelled / "answers.json").write_text(json.dumps(answers))
    status, logs = _in_image(
        docker_client, base_image,
        ["/input", "/output/predictions.csv", "tiny", "/ckpt/tiny.pth", "--model-dir",
         "/plugin", "--workers", "0", "--convert_outputs_mode", "1", "--score"],
        {**layout, "/input": labelled})
    assert status == 0, logs
    assert f"score on {len(answers)} labelled images" in logs
    assert "mode 2 (ImageNet scores collapsed onto ObjectNet) top-1 100.0%" in logs
    assert "mode 2 scores better" in logs or "score the same" in logs
