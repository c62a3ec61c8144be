"""What a careful read of the CUDA paths found before any GPU ran this code, each checked here
on the CPU: exact means true fp32 (no TF32), autocast survives DataParallel's threads, model
batches are exactly --batch_size (a compiled model pads shorter ones), the device checks say
what to change, and out-of-memory or CUDA errors are reported as what they are."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from support import read_rows, run_engine, save_checkpoint

from engine import compat, devices, plugin
from engine.config import Config
from engine.errors import ConfigError, ModelError
from engine.predict import Predictor
from engine.run import run
from wizard.samples import make_images

MODELS = '''
import torch
import torch.nn as nn

SEEN = []


class recorder(nn.Module):
    """Notes each forward's batch size and the TF32 switches in force."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 1000)

    def forward(self, x):
        SEEN.append((x.shape[0], torch.backends.cudnn.allow_tf32,
                     torch.backends.cuda.matmul.allow_tf32))
        return self.fc(self.conv(x).mean(dim=(2, 3)))


class out_of_memory(recorder):
    def forward(self, x):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.11 GiB "
                           "total capacity)")


class cudnn_failure(recorder):
    def forward(self, x):
        raise RuntimeError("cuDNN error: CUDNN_STATUS_EXECUTION_FAILED")


class wrong_input(recorder):
    def forward(self, x):
        raise ValueError("expected 4 channels")
'''

TRANSFORM = '''
import torchvision.transforms as transforms


class data_transform:
    def getTransform(self):
        return transforms.Compose([transforms.Resize(40), transforms.CenterCrop(32),
                                   transforms.ToTensor()])
'''


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("first-contact")
    model_dir = root / "plugin"
    model_dir.mkdir()
    (model_dir / "model_description.py").write_text(MODELS.lstrip())
    (model_dir / "data_transform_description.py").write_text(TRANSFORM.lstrip())
    images = root / "images"
    make_images(images, 49, seed=5, sizes=((44, 34), (34, 44)))
    (images / "1234567890abcd0.png").write_bytes(b"not a png")  # among the others by name
    checkpoint = save_checkpoint(model_dir, "recorder", root / "recorder.pth")
    return {"model_dir": model_dir, "images": images, "checkpoint": checkpoint, "root": root}


def _config(bench: dict, output: Path, **settings) -> Config:
    values = {"images_dir": bench["images"], "output_file": output, "model_class": "recorder",
              "checkpoint": bench["checkpoint"], "model_dir": bench["model_dir"],
              "workers": 0, "gpus": 0, "overwrite": True}
    values.update(settings)
    return Config(**values)


def _seen(bench: dict) -> list:
    return plugin.load_model_module(bench["model_dir"]).SEEN


def test_exact_runs_are_true_fp32_and_the_switches_come_back(
        bench: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not compat.HAS_TF32_FLAGS:
        pytest.skip("this torch has no TF32 switches")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    _seen(bench).clear()
    run(_config(bench, tmp_path / "p.csv"))
    assert _seen(bench) and all(not cudnn and not matmul for _, cudnn, matmul in _seen(bench))
    assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32


def test_model_batches_are_exactly_the_batch_size_and_rows_keep_their_order(
        bench: dict, tmp_path: Path) -> None:
    """Loader batches of 16 gathered for --batch_size 20: every forward but the start-up
    check and the last sees exactly 20 images (before, 32 were gathered and cut 20 + 12)."""
    _seen(bench).clear()
    summary = run(_config(bench, tmp_path / "b20.csv", batch_size=20, channels_last=False))
    sizes = [size for size, _, _ in _seen(bench)][1:]  # [0] is the one-image start-up check
    assert sizes[:-1] and all(size == 20 for size in sizes[:-1]) and sizes[-1] <= 20
    assert sum(sizes) == 49 and len(summary.unreadable) == 1
    run(_config(bench, tmp_path / "b96.csv", channels_last=False))
    assert read_rows(tmp_path / "b20.csv") == read_rows(tmp_path / "b96.csv")
    names = [row[0] for row in read_rows(tmp_path / "b20.csv")]
    assert names == sorted(names) and "1234567890abcd0.png" in names


class _Probe(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.dtypes: list = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(x)
        self.dtypes.append(out.dtype)
        return out


def test_autocast_is_entered_inside_the_model_that_data_parallel_replicates() -> None:
    """DataParallel runs each replica in a thread of its own, where an autocast entered by
    the caller is not in force: the wrapped module must enter it itself."""
    probe = _Probe()
    config = Config(images_dir=Path("."), output_file=Path("p.csv"), model_class="x",
                    checkpoint=Path("c"), precision="bf16", channels_last=False, gpus=2)
    prepared = devices.prepare(probe, config, devices.Placement(torch.device("cpu"), 2))
    replica = threading.Thread(target=lambda: prepared(torch.ones(2, 4)))
    replica.start()
    replica.join()
    assert probe.dtypes == [torch.bfloat16]


@pytest.mark.skipif(not compat.HAS_COMPILE, reason="torch.compile needs torch 2.0")
def test_compile_with_several_gpus_is_refused_with_torchrun_named() -> None:
    config = Config(images_dir=Path("."), output_file=Path("p.csv"), model_class="x",
                    checkpoint=Path("c"), compile=True)
    with pytest.raises(ConfigError, match="torchrun --nproc_per_node 4"):
        devices.check_precision(config, devices.Placement(torch.device("cuda", 0), 4))
    devices.check_precision(config, devices.Placement(torch.device("cuda", 0), 1))


def test_a_local_rank_beyond_the_visible_gpus_gets_a_clear_line() -> None:
    config = Config(images_dir=Path("."), output_file=Path("p.csv"), model_class="x",
                    checkpoint=Path("c"))
    with pytest.raises(ConfigError, match="LOCAL_RANK 3 needs GPU 3, but this machine shows 2 "
                       "GPUs: start torchrun with --nproc_per_node 2"):
        devices.choose(config, visible=2, local_rank=3)
    assert devices.choose(config, visible=2, local_rank=1).device == torch.device("cuda", 1)


def test_ranks_on_one_machine_share_its_cores_for_loader_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(images_dir=Path("."), output_file=Path("p.csv"), model_class="x",
                    checkpoint=Path("c"), workers=None)
    cores = config.resolved_workers()
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert devices.loader_workers(config, 10_000) == cores
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")
    assert devices.loader_workers(config, 10_000) == max(1, cores // 8)
    explicit = Config(**{**config.__dict__, "workers": 5})
    assert devices.loader_workers(explicit, 10_000) == 5


@pytest.mark.parametrize("name", ["out_of_memory", "cudnn_failure"])
def test_device_errors_in_the_start_up_check_keep_their_name(bench: dict, tmp_path: Path,
                                                             name: str) -> None:
    result = run_engine(bench["images"], tmp_path / "p.csv", name, bench["checkpoint"],
                        "--model-dir", bench["model_dir"], "--workers", "0", "--gpus", "0")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "RuntimeError" in last and "Traceback" not in result.stderr
    assert ("lower --batch_size" in last) is (name == "out_of_memory")
    assert not (tmp_path / "p.csv").exists()


def test_a_model_that_fails_on_real_input_is_still_a_model_error(bench: dict,
                                                                 tmp_path: Path) -> None:
    result = run_engine(bench["images"], tmp_path / "p.csv", "wrong_input", bench["checkpoint"],
                        "--model-dir", bench["model_dir"], "--workers", "0", "--gpus", "0")
    assert result.returncode == 2 and "fails on a transformed image" in result.stderr


@pytest.mark.parametrize("name,raised", [("out_of_memory", RuntimeError),
                                         ("wrong_input", ModelError)])
def test_warm_up_names_out_of_memory_as_such_not_as_a_compile_failure(
        bench: dict, tmp_path: Path, name: str, raised: type) -> None:
    config = _config(bench, tmp_path / "p.csv", model_class=name)
    model = plugin.build_model(bench["model_dir"], name).eval()
    placement = devices.Placement(torch.device("cpu"), 0)
    predictor = Predictor(model, config, placement, channels_last=False)
    with pytest.raises(raised) as caught:
        predictor.warm_up((3, 32, 32))
    assert ("torch.compile failed" in str(caught.value)) is (raised is ModelError)


def test_device_errors_are_recognised_by_their_text() -> None:
    assert compat.is_device_error(RuntimeError("CUDA error: an illegal memory access"))
    assert compat.is_device_error(RuntimeError("CUBLAS_STATUS_ALLOC_FAILED when calling"))
    assert not compat.is_device_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not compat.is_device_error(ValueError("CUDA error"))


@pytest.mark.skipif(not hasattr(torch.backends.cudnn, "conv"),
                    reason="torch before 2.9 has no fp32_precision API")
def test_exact_mode_also_works_where_the_new_precision_api_was_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After torch 2.9's fp32_precision API has been used, reading the old flags raises."""
    monkeypatch.setattr(torch.backends.cudnn.conv, "fp32_precision", "tf32")
    monkeypatch.setattr(torch.backends.cudnn.rnn, "fp32_precision", "ieee")
    monkeypatch.setattr(torch.backends.cuda.matmul, "fp32_precision", "tf32")
    with compat.exact_float32():
        assert torch.backends.cudnn.conv.fp32_precision == "ieee"
        assert torch.backends.cuda.matmul.fp32_precision == "ieee"
    assert torch.backends.cudnn.conv.fp32_precision == "tf32"
    assert torch.backends.cuda.matmul.fp32_precision == "tf32"
