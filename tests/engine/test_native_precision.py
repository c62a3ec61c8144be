"""bf16/fp16 only where they pay: the engine reads the CPU's flags and the GPU's compute
capability, warns with the expected slowdown where a precision is emulated, and refuses bf16
on GPUs before sm_80. The hardware readers are replaced to play either kind of machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine import capability
from engine.config import Config
from engine.devices import Placement, check_precision
from engine.errors import ConfigError
from engine.precision import compare
from engine.run import run

AMD_WITHOUT_BF16 = "fpu vme sse sse2 avx avx2 fma avx512f avx512bw avx512vl"
INTEL_WITH_AMX = AMD_WITHOUT_BF16 + " avx512_bf16 amx_bf16 amx_tile"
CPUINFO = """processor\t: 0
vendor_id\t: {vendor}
model name\t: {name}
flags\t\t: {flags}

processor\t: 1
flags\t\t: {flags}
"""
READ_CPU_FLAGS = capability.read_cpu_flags
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics {extra}
CPU implementer\t: 0x41
"""


@pytest.fixture(params=["native", "emulated"])
def cpu(request, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """This machine played as a CPU with native bf16 (AMX) or without (an AMD EPYC)."""
    flags = INTEL_WITH_AMX if request.param == "native" else AMD_WITHOUT_BF16
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(vendor="x", name="y", flags=flags))
    monkeypatch.setattr(capability, "torch_cpu_bf16", lambda: None)
    monkeypatch.setattr(capability, "read_cpu_flags", lambda: READ_CPU_FLAGS(str(path)))
    return request.param


@pytest.mark.parametrize("text,native", [
    (CPUINFO.format(vendor="AuthenticAMD", name="AMD EPYC", flags=AMD_WITHOUT_BF16), False),
    (CPUINFO.format(vendor="GenuineIntel", name="Xeon 8480", flags=INTEL_WITH_AMX), True),
    (CPUINFO.format(vendor="AuthenticAMD", name="EPYC 9004",
                    flags=AMD_WITHOUT_BF16 + " avx512_bf16"), True),
    (ARM_CPUINFO.format(extra="bf16 i8mm"), True),
    (ARM_CPUINFO.format(extra="asimddp"), False),
], ids=["amd-zen3", "intel-amx", "amd-zen4", "arm-bf16", "arm-without"])
def test_cpuinfo_flags_say_whether_bf16_is_native(tmp_path: Path, text: str,
                                                  native: bool) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    flags = capability.read_cpu_flags(str(path))
    assert flags is not None
    assert any(flag in flags for flag in capability.CPU_BF16_FLAGS) is native


def test_torch_and_cpuinfo_agree_on_this_machine() -> None:
    said_by_torch = capability.torch_cpu_bf16()
    flags = capability.read_cpu_flags()
    if said_by_torch is None or flags is None:
        pytest.skip("this torch or this system cannot answer both ways")
    assert said_by_torch == any(flag in flags for flag in capability.CPU_BF16_FLAGS)


def test_a_missing_cpuinfo_means_unknown_and_no_warning(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(capability, "torch_cpu_bf16", lambda: None)
    monkeypatch.setattr(capability, "read_cpu_flags",
                        lambda: READ_CPU_FLAGS(str(tmp_path / "absent")))
    assert capability.cpu_bf16_native() is None
    assert capability.emulation_warning("bf16", torch.device("cpu")) is None


def test_the_run_warns_before_predicting_where_bf16_is_emulated(
        cpu: str, plugin_dir: Path, tiny_checkpoint: Path, images: Path,
        tmp_path: Path) -> None:
    lines: list[str] = []
    config = Config(images_dir=images, output_file=tmp_path / "p.csv", model_class="tiny",
                    checkpoint=tiny_checkpoint, model_dir=plugin_dir, workers=0,
                    precision="bf16", gpus=0)
    run(config, log=lines.append)
    warnings = [line for line in lines if "no native bf16" in line]
    if cpu == "native":
        assert warnings == []
    else:
        assert len(warnings) == 1 and "6x slower than fp32" in warnings[0]
        assert lines.index(warnings[0]) < next(
            i for i, line in enumerate(lines) if line.startswith("predicting"))


def test_compare_precision_says_the_same(cpu: str, plugin_dir: Path, tiny_checkpoint: Path,
                                         images: Path, tmp_path: Path) -> None:
    config = Config(images_dir=images, output_file=tmp_path / "p.csv", model_class="tiny",
                    checkpoint=tiny_checkpoint, model_dir=plugin_dir, workers=0,
                    precision="bf16", gpus=0)
    text = "\n".join(compare(config, sample=4).lines())
    assert ("no native bf16" in text) is (cpu == "emulated")


def test_fp32_never_warns(cpu: str) -> None:
    assert capability.emulation_warning("fp32", torch.device("cpu")) is None


def _gpu(monkeypatch: pytest.MonkeyPatch, major: int, minor: int) -> Placement:
    monkeypatch.setattr(capability, "cuda_capability", lambda device: (major, minor))
    monkeypatch.setattr(capability, "_gpu_name", lambda device: "Tesla T4")
    return Placement(torch.device("cuda", 0), 1)


def _config(**settings) -> Config:
    return Config(images_dir=Path("."), output_file=Path("p.csv"), model_class="tiny",
                  checkpoint=Path("c.pth"), **settings)


@pytest.mark.parametrize("capability_,refused", [((7, 5), True), ((7, 0), True),
                                                 ((8, 0), False), ((9, 0), False)])
def test_bf16_is_refused_on_gpus_before_sm80_with_fp16_suggested(
        monkeypatch: pytest.MonkeyPatch, capability_, refused: bool) -> None:
    placement = _gpu(monkeypatch, *capability_)
    if refused:
        with pytest.raises(ConfigError, match=r"sm_7\d.*--precision fp16"):
            check_precision(_config(precision="bf16"), placement)
    else:
        check_precision(_config(precision="bf16"), placement)
    check_precision(_config(precision="fp16"), placement)


def test_fp16_without_tensor_cores_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    placement = _gpu(monkeypatch, 6, 1)
    warning = capability.emulation_warning("fp16", placement.device)
    assert warning is not None and "sm_61" in warning and "no tensor cores" in warning
    placement = _gpu(monkeypatch, 7, 5)
    assert capability.emulation_warning("fp16", placement.device) is None
