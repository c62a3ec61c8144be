"""Choosing devices and preparing the model once for fast, exact inference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn as nn

from engine import capability, compat, cpus
from engine.config import Config
from engine.errors import ConfigError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# On the CPU, a channels_last convnet runs on slices of this many images: a small slice's
# activations stay in cache between layers, where a 96-image batch streams hundreds of MB
# through memory per layer (ResNet-50 on 2 cores, over 48-image batches: 1.2x the img/s in
# fp32, 1.35x in bf16; in the default layout small slices are slower, so not there). Images
# are independent in eval mode: slicing changes no prediction (bench/speed.py checks rows).
CPU_FORWARD_CHUNK = 8

# Loader workers hand over batches of at most this many images. A loader batch is decoded by
# one worker, so small ones keep every worker busy from the start: with 96-image batches, 480
# large PNGs make 5 batches, which 5 of 16 workers decode while the others idle (the demo's
# 20 img/s), and the model waits for a whole first batch. The main process gathers them into
# --batch_size model batches (engine.predict).
LOADER_BATCH = 16


@dataclass(frozen=True)
class Placement:
    device: torch.device
    gpus: int
    """GPUs this process drives (0 = CPU)."""

    @property
    def kind(self) -> str:
        return self.device.type


def place(config: Config, local_rank: Optional[int] = None) -> Placement:
    """Where this process runs, made the current CUDA device before anything touches the GPU
    (so nothing lands on cuda:0 by default). Under torchrun each rank drives the one GPU of
    its local rank."""
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    placement = choose(config, visible, local_rank)
    if placement.kind == "cuda":
        torch.cuda.set_device(placement.device)
    return placement


def choose(config: Config, visible: int, local_rank: Optional[int] = None) -> Placement:
    """The placement for `visible` GPUs, or a ConfigError saying what to change."""
    wanted = visible if config.gpus is None else config.gpus
    if wanted > visible:
        raise ConfigError(
            "--gpus %d asked for more GPUs than are visible (%d)%s"
            % (wanted, visible, "; use --gpus 0 to run on the CPU" if visible == 0 else "")
        )
    if wanted == 0:
        return Placement(torch.device("cpu"), 0)
    if local_rank is not None:
        if local_rank >= visible:
            raise ConfigError(
                "LOCAL_RANK %d needs GPU %d, but this machine shows %d GPU%s: start torchrun "
                "with --nproc_per_node %d or fewer (or check CUDA_VISIBLE_DEVICES)"
                % (local_rank, local_rank, visible, "" if visible == 1 else "s", visible))
        return Placement(torch.device("cuda", local_rank), 1)
    return Placement(torch.device("cuda", 0), wanted)


def set_cpu_threads() -> str:
    """Give torch's intra-op pool this process's share of the usable CPUs (engine.cpus says
    why its own default can be wrong in a container); returns a line saying what and why."""
    threads, why = cpus.intra_op_threads(torch.get_num_threads(), cpus.usable_cpus())
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return "%d CPU thread%s for the model (%s)" % (threads, "" if threads == 1 else "s", why)


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
    refused = capability.refusal(config.precision, placement.device)
    if refused is not None:
        raise ConfigError(refused)
    if config.compile and not compat.HAS_COMPILE:
        raise ConfigError("--compile needs torch 2.0 or newer (this is %s)" % torch.__version__)
    if config.compile and placement.gpus > 1:
        # DataParallel's replicas would keep calling the forward compiled for cuda:0's module.
        raise ConfigError(
            "--compile works on one GPU per process, and %d were asked for: run with --gpus 1, "
            "or start one process per GPU with torchrun --nproc_per_node %d (the engine "
            "shares the images between them)" % (placement.gpus, placement.gpus))


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
        model = compat.compile_for_inference(model)
    if placement.gpus > 1:
        dtype = DTYPES[config.precision]
        if dtype is not None:
            model = AutocastForward(model, placement.kind, dtype)
        model = nn.DataParallel(model, device_ids=list(range(placement.gpus)))
    return model


class AutocastForward(nn.Module):
    """The model's forward under autocast to `dtype`. Autocast is per thread, and DataParallel
    runs each replica in a thread of its own that re-enters autocast with the default dtype:
    entered only outside, bf16 silently became fp16 there."""

    def __init__(self, model: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model
        self.device_type = device_type
        self.dtype = dtype

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with compat.autocast(self.device_type, self.dtype):
            return self.model(*args, **kwargs)


def forward_chunk(placement: Placement, channels_last: bool) -> Optional[int]:
    """Images per forward call: CPU_FORWARD_CHUNK for channels_last models on the CPU, else
    the whole batch."""
    return CPU_FORWARD_CHUNK if placement.kind == "cpu" and channels_last else None


def loader_batch(config: Config, images: int, workers: int) -> int:
    """Images per loader batch: LOADER_BATCH, smaller when that leaves a worker without a
    batch, never above the model batch."""
    per_worker = -(-images // max(workers, 1))  # ceiling
    return max(1, min(LOADER_BATCH, config.batch_size, per_worker))


def loader_workers(config: Config, images: int) -> int:
    """Loader worker processes: as asked, else one per core, never more than images. On a GPU
    machine decoding is the bound, so every core decodes; on the CPU the model's threads
    already use every core, and one worker or two (or two at low priority) measured the same
    within noise on 2 cores, so the rule stays one per core."""
    if config.workers is not None:
        wanted = config.workers
    else:  # under torchrun the ranks on this machine share its cores
        wanted = max(1, config.resolved_workers() // cpus.local_ranks())
    return max(0, min(wanted, images))


def eager(model: nn.Module) -> nn.Module:
    """The module under torch.compile's wrapper (for one-off calls that should not compile)."""
    return getattr(model, "_orig_mod", model)
