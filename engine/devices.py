"""Choosing devices and preparing the model once for fast, exact inference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from engine import compat
from engine.config import Config
from engine.errors import ConfigError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Placement:
    device: torch.device
    gpus: int
    """GPUs this process drives (0 = CPU)."""

    @property
    def kind(self) -> str:
        return self.device.type


def place(config: Config, local_rank: Optional[int] = None) -> Placement:
    """Where this process runs. Under torchrun each rank drives the one GPU of its local rank."""
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    wanted = visible if config.gpus is None else config.gpus
    if wanted > visible:
        raise ConfigError(
            "--gpus %d asked for more GPUs than are visible (%d)%s"
            % (wanted, visible, "; use --gpus 0 to run on the CPU" if visible == 0 else "")
        )
    if wanted == 0:
        return Placement(torch.device("cpu"), 0)
    if local_rank is not None:
        return Placement(torch.device("cuda", local_rank), 1)
    return Placement(torch.device("cuda", 0), wanted)


def check_precision(config: Config, placement: Placement) -> None:
    if config.precision == "fp16" and placement.kind == "cpu":
        raise ConfigError("--precision fp16 needs a GPU; on the CPU use bf16 or fp32")
    if config.precision != "fp32" and not compat.HAS_AUTOCAST and not (
        placement.kind == "cuda" and config.precision == "fp16"
    ):
        raise ConfigError(
            "torch %s has no %s autocast on %s: use --precision fp32 or torch 1.10+"
            % (torch.__version__, config.precision, placement.kind)
        )
    if config.compile and not compat.HAS_COMPILE:
        raise ConfigError("--compile needs torch 2.0 or newer (this is %s)" % torch.__version__)


def uses_channels_last(model: nn.Module, config: Config) -> bool:
    """channels_last speeds up convolutions on CPU (oneDNN) and tensor-core GPUs, and keeps
    predictions within float rounding of contiguous; TorchScript modules are left alone."""
    if config.channels_last is not None:
        return config.channels_last
    if isinstance(model, torch.jit.ScriptModule):
        return False
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prepare(model: nn.Module, config: Config, placement: Placement) -> nn.Module:
    """eval mode, on the device, memory format, compile and DataParallel: all once, up front."""
    model.eval()
    model.to(placement.device)
    if uses_channels_last(model, config):
        model.to(memory_format=torch.channels_last)
    if config.compile:
        model = torch.compile(model)
    if placement.gpus > 1:
        model = nn.DataParallel(model, device_ids=list(range(placement.gpus)))
    return model
