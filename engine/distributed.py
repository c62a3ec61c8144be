"""Sharded inference under torchrun: each rank predicts every WORLD_SIZE-th image, rank 0
writes the one predictions file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, List, Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1
    local_rank: Optional[int] = None

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_writer(self) -> bool:
        return self.rank == 0


def from_environment() -> Shard:
    """The shard torchrun describes in the environment, or the whole set."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    return Shard(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(shard: Shard, use_cuda: bool) -> None:
    if shard.active and not dist.is_initialized():
        if use_cuda:
            # nccl's collectives (all_gather_object too) run on the current device.
            torch.cuda.set_device(shard.local_rank)
        backend = "nccl" if use_cuda else "gloo"
        dist.init_process_group(backend, timeout=timedelta(hours=2))


def barrier(shard: Shard) -> None:
    if shard.active:
        dist.barrier()


def gather(shard: Shard, value: Any) -> List[Any]:
    """Every rank's `value`, in rank order (all_gather_object: torch 1.8)."""
    if not shard.active:
        return [value]
    values: List[Any] = [None] * shard.world
    dist.all_gather_object(values, value)
    return values


def stop(shard: Shard) -> None:
    if shard.active and dist.is_initialized():
        dist.destroy_process_group()
