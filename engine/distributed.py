"""Sharded inference under torchrun: each rank predicts every WORLD_SIZE-th image, rank 0
writes the one predictions file.

The other ranks send their rows to rank 0 over torch.distributed, in chunks, so ranks on
machines that share no folder work, and only rank 0 touches the output folder. Each rank
first spools its rows to an unnamed local temporary file, so memory stays flat however many
images there are.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, Iterable, Iterator, List, Optional, Sequence

import torch
import torch.distributed as dist

from engine import compat
from engine.errors import ImagesError

# Rows per message from a rank to rank 0: about 150 KB of pickled rows.
CHUNK_ROWS = 512


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
    global _ROWS_GROUP
    # Rows travel as CPU byte tensors, which nccl cannot send: a gloo group carries them.
    _ROWS_GROUP = dist.new_group(backend="gloo") if shard.active and dist.get_backend(
    ) != "gloo" else None


_ROWS_GROUP: Any = None


def check_same_images(shard: Shard, names: Sequence[str]) -> None:
    """Every rank must have found the same images (on machines that share no folder each
    has its own copy): a rank with other files would predict the wrong ones."""
    if not shard.active:
        return
    digest = hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape")).hexdigest()
    found = gather(shard, (len(names), digest))
    if any(f != found[0] for f in found):
        raise ImagesError(
            "the ranks found different images (%s): every machine needs the same images folder"
            % ", ".join("rank %d: %d images" % (rank, count)
                        for rank, (count, _) in enumerate(found)))


def spool(rows: Iterable[Any]) -> IO[bytes]:
    """`rows` pickled in chunks into an unnamed local temporary file, rewound."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller reads it, then closes it
    chunk: List[Any] = []

    def flush() -> None:
        data = pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL)
        handle.write(struct.pack("<Q", len(data)))
        handle.write(data)

    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            flush()
            chunk = []
    if chunk:
        flush()
    handle.seek(0)
    return handle


def _spooled_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while True:
        head = handle.read(8)
        if len(head) < 8:
            return
        yield handle.read(struct.unpack("<Q", head)[0])


def read_spool(handle: IO[bytes]) -> Iterator[Any]:
    """The rows of a spool(), in order."""
    for data in _spooled_chunks(handle):
        yield from pickle.loads(data)


def send_rows(handle: IO[bytes]) -> None:
    """Send a spool's chunks to rank 0: a length, then the bytes, per chunk."""
    for data in _spooled_chunks(handle):
        dist.send(torch.tensor([len(data)], dtype=torch.int64), dst=0, group=_ROWS_GROUP)
        dist.send(_bytes_tensor(data), dst=0, group=_ROWS_GROUP)


def receive_rows(rank: int, count: int) -> Iterator[Any]:
    """The `count` rows rank `rank` sends with send_rows(), in order, a chunk at a time."""
    received = 0
    while received < count:
        size = torch.zeros(1, dtype=torch.int64)
        dist.recv(size, src=rank, group=_ROWS_GROUP)
        data = torch.empty(int(size.item()), dtype=torch.uint8)
        dist.recv(data, src=rank, group=_ROWS_GROUP)
        rows = pickle.loads(_tensor_bytes(data))
        received += len(rows)
        yield from rows


def interleave(streams: Sequence[Iterator[Any]], total: int) -> Iterator[Any]:
    """Rows in global order from per-rank streams: image i was predicted by rank i % world."""
    for index in range(total):
        yield next(streams[index % len(streams)])


def _bytes_tensor(data: bytes) -> torch.Tensor:
    if compat.HAS_FROMBUFFER:
        return torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return torch.ByteTensor(torch.ByteStorage.from_buffer(data, "native"))


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    try:
        return tensor.numpy().tobytes()
    except (ImportError, RuntimeError):  # numpy-less stacks
        return bytes(tensor.tolist())


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
