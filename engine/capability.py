"""Whether the device runs bf16/fp16 natively: where it does not, torch emulates them and
"faster" precision is much slower (ResNet-50 under bf16 on an AMD EPYC without avx512_bf16:
1.37 img/s against 8.12 in fp32, where a CPU with AMX ran it 3.2x faster than fp32).

The hardware is read through `torch_cpu_bf16`, `read_cpu_flags` and `cuda_capability`, the
three places that tests replace to play either kind of machine.
"""

from __future__ import annotations

from typing import FrozenSet, Optional, Tuple

import torch

# x86: AVX512-BF16 (Cooper Lake, AMD Zen 4+) or AMX (Sapphire Rapids+); aarch64: FEAT_BF16.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")

# Compute capability from which a GPU has bf16 tensor cores (sm_80, Ampere), and fp16 ones
# (sm_70, Volta).
CUDA_BF16 = (8, 0)
CUDA_FP16 = (7, 0)

EMULATED_CPU_BF16 = (
    "--precision bf16: this CPU has no native bf16 (no avx512_bf16 or amx_bf16), so torch "
    "emulates it: expect it to run about 6x slower than fp32 (measured: ResNet-50 1.4 against "
    "8.1 img/s on 2 cores). Run in fp32 (the default), or on a machine with native bf16")


def torch_cpu_bf16() -> Optional[bool]:
    """torch's own answer, or None when this torch has no such check. The checks moved:
    torch._C._cpu._is_avx512_bf16_supported / _is_amx_tile_supported in torch 2.x releases
    before 2.11, torch.cpu._is_avx512_bf16_supported / _is_amx_tile_supported from 2.11."""
    names = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for home in (getattr(torch, "cpu", None), getattr(torch._C, "_cpu", None)):
        checks = [check for check in (getattr(home, name, None) for name in names)
                  if check is not None]
        if checks:
            try:
                return any(bool(check()) for check in checks)
            except RuntimeError:
                return None
    return None


def read_cpu_flags(path: str = "/proc/cpuinfo") -> Optional[FrozenSet[str]]:
    """The first processor's feature flags ("flags" on x86, "Features" on arm), or None where
    there is no /proc/cpuinfo."""
    try:
        with open(path) as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return None


def cpu_bf16_native() -> Optional[bool]:
    """True/False when known: torch's check where it has one, else /proc/cpuinfo."""
    answer = torch_cpu_bf16()
    if answer is not None:
        return answer
    flags = read_cpu_flags()
    if flags is None:
        return None
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def cuda_capability(device: torch.device) -> Tuple[int, int]:
    return torch.cuda.get_device_capability(device)


def refusal(precision: str, device: torch.device) -> Optional[str]:
    """Why `precision` cannot run on `device` at all (bf16 on a GPU before sm_80), or None."""
    if device.type != "cuda" or precision != "bf16":
        return None
    major, minor = cuda_capability(device)
    if (major, minor) >= CUDA_BF16:
        return None
    return ("--precision bf16 needs a GPU with compute capability 8.0 or newer (Ampere); "
            "%s is sm_%d%d, where bf16 is emulated and slow: use --precision fp16 instead"
            % (_gpu_name(device), major, minor))


def emulation_warning(precision: str, device: torch.device) -> Optional[str]:
    """A warning, with the expected slowdown, when `precision` is emulated on `device`; None
    when it is native, fp32, or unknown."""
    if precision == "fp32":
        return None
    if device.type == "cpu":
        if precision == "bf16" and cpu_bf16_native() is False:
            return EMULATED_CPU_BF16
        return None
    if device.type == "cuda" and precision == "fp16":
        major, minor = cuda_capability(device)
        if (major, minor) < CUDA_FP16:
            return ("--precision fp16: %s (sm_%d%d) has no tensor cores, so fp16 is likely no "
                    "faster than fp32 and may be slower: check with --compare-precision"
                    % (_gpu_name(device), major, minor))
    return None


def _gpu_name(device: torch.device) -> str:
    try:
        return torch.cuda.get_device_name(device)
    except (RuntimeError, AssertionError):
        return "this GPU"
