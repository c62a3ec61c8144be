"""The ObjectNet class table, and the conversions from model outputs to ObjectNet top-5.

The scorer wants ObjectNet ids (index of the label in Python ``sorted()`` of the 313 labels,
not torchvision ImageFolder's folder order). Models usually speak ImageNet-1k, so the engine
offers three conversions (``--convert_outputs_mode``):

0. the model's top-5 output indices as they are (the model was trained on ObjectNet ids);
1. the demo's: top-5 over the 1000 ImageNet scores, each index replaced by its ObjectNet id or
   -1, confidences unchanged (so several of the five may be -1 or repeat an id);
2. collapse the 1000 scores onto the 113 ObjectNet classes that ImageNet covers (max over each
   class's ImageNet classes), then rank those: five distinct real ids, usually more accurate.

The table lives in ``data/objectnet.json`` next to this module (derived from the official
mapping files by ``tools/make_class_table.py``), so nothing depends on the working directory.
Importing this module needs only the standard library; torch is imported by the functions
that make tensors.
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Tuple, Union

if TYPE_CHECKING:
    import torch

TABLE_PATH = Path(__file__).resolve().with_name("data") / "objectnet.json"
TABLE_FORMAT = "objectnet-wizard class table"
TABLE_FORMAT_VERSION = 1

NUM_OBJECTNET_CLASSES = 313
NUM_IMAGENET_CLASSES = 1000
NO_CLASS = -1
"""The id written where a prediction has no ObjectNet class; the scorer accepts it."""
CONVERT_MODES = (0, 1, 2)
TOP_K = 5


class _Table(NamedTuple):
    labels: Tuple[str, ...]
    folders: Tuple[str, ...]
    imagenet_to_objectnet: Tuple[Tuple[int, int], ...]


@lru_cache(maxsize=None)
def _table() -> _Table:
    try:
        data = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
        if (data.get("format"), data.get("format_version")) != (
                TABLE_FORMAT, TABLE_FORMAT_VERSION):
            raise ValueError(
                f"format {data.get('format')!r} version {data.get('format_version')!r}, "
                f"expected {TABLE_FORMAT!r} version {TABLE_FORMAT_VERSION}")
        classes = data["objectnet"]
        if [c["id"] for c in classes] != list(range(NUM_OBJECTNET_CLASSES)):
            raise ValueError(f"'objectnet' must list ids 0..{NUM_OBJECTNET_CLASSES - 1} in order")
        pairs = tuple((int(p["imagenet"]), int(p["objectnet"]))
                      for p in data["imagenet_to_objectnet"])
        table = _Table(tuple(c["label"] for c in classes), tuple(c["folder"] for c in classes),
                       pairs)
    except (OSError, ValueError, KeyError, TypeError) as e:
        # A broken table is a packaging fault, not user input: say where and how to fix it.
        raise RuntimeError(
            f"ObjectNet class table {TABLE_PATH} is unusable ({e}): reinstall the engine or "
            "regenerate it with tools/make_class_table.py") from e
    return table


def objectnet_labels() -> List[str]:
    """The 313 ObjectNet labels; a label's position is its ObjectNet id."""
    return list(_table().labels)


def objectnet_folders() -> List[str]:
    """The ObjectNet folder name of each id (e.g. 'air_freshener' for id 0)."""
    return list(_table().folders)


def imagenet_to_objectnet() -> Dict[int, int]:
    """The 125 torchvision ImageNet-1k indices that have an ObjectNet class, with its id."""
    return dict(_table().imagenet_to_objectnet)


def imagenet_index_tensor(device: "Union[str, torch.device]" = "cpu") -> "torch.Tensor":
    """A 1000-long int64 tensor: ObjectNet id of each ImageNet index, or -1 (a fresh copy)."""
    import torch

    return _imagenet_index(torch.device(device)).clone()


@lru_cache(maxsize=None)
def _imagenet_index(device: "torch.device") -> "torch.Tensor":
    import torch

    index = torch.full((NUM_IMAGENET_CLASSES,), NO_CLASS, dtype=torch.int64)
    for imagenet, objectnet in _table().imagenet_to_objectnet:
        index[imagenet] = objectnet
    return index.to(device)


@lru_cache(maxsize=None)
def _collapse_index(device: "torch.device") -> "Tuple[torch.Tensor, torch.Tensor]":
    """(gather index of shape (113, widest group), ObjectNet id of each of the 113 rows).

    Groups narrower than the widest repeat their first ImageNet index, which leaves the max
    unchanged. A gather + amax works the same on every supported torch (amax: 1.7), whereas
    Tensor.scatter_reduce(..., "amax") only arrived in 1.12 (1.11 had an incompatible
    prototype torch.scatter_reduce), so one code path serves torch 1.8 and today's.
    """
    import torch

    groups: Dict[int, List[int]] = {}
    for imagenet, objectnet in sorted(_table().imagenet_to_objectnet):
        groups.setdefault(objectnet, []).append(imagenet)
    ids = sorted(groups)
    width = max(len(members) for members in groups.values())
    rows = [groups[i] + [groups[i][0]] * (width - len(groups[i])) for i in ids]
    return (torch.tensor(rows, dtype=torch.int64, device=device),
            torch.tensor(ids, dtype=torch.int64, device=device))


def check_output_count(num_outputs: int, mode: int) -> None:
    """Raise ValueError unless a model with ``num_outputs`` outputs suits conversion ``mode``.

    Cheap; the engine can call it once on the first batch to fail before writing anything.
    """
    if mode not in CONVERT_MODES:
        raise ValueError(f"convert_outputs_mode must be 0, 1 or 2, got {mode!r}")
    if mode in (1, 2) and num_outputs != NUM_IMAGENET_CLASSES:
        raise ValueError(
            f"convert_outputs_mode {mode} maps ImageNet-1k scores onto ObjectNet, so the model "
            f"needs {NUM_IMAGENET_CLASSES} outputs, but it has {num_outputs}: use mode 0 if its "
            "outputs already are ObjectNet ids")
    if mode == 0 and not 1 <= num_outputs <= NUM_OBJECTNET_CLASSES:
        raise ValueError(
            f"convert_outputs_mode 0 writes output indices as ObjectNet ids "
            f"(0..{NUM_OBJECTNET_CLASSES - 1}), so the model needs 1 to {NUM_OBJECTNET_CLASSES} "
            f"outputs, but it has {num_outputs}: use mode 1 or 2 for an ImageNet-1k model")


def convert_top5(scores: "torch.Tensor", mode: int,
                 k: int = TOP_K) -> "Tuple[torch.Tensor, torch.Tensor]":
    """Top-k ObjectNet ids and confidences for a (batch, classes) tensor of logits/probabilities.

    Returns ``(ids, confs)``, both (batch, k) on ``scores.device``, highest first: ids int64
    (ObjectNet id or -1), confs in ``scores.dtype`` (in mode 2 the max over each ObjectNet
    class's ImageNet scores). Mode 0 with fewer than k outputs pads with id -1 and confidence
    0, so every CSV row still has five pairs. Raises ValueError for a shape or output count
    the mode cannot use. Apply softmax before calling if confidences should be probabilities.
    """
    import torch

    if scores.dim() != 2:
        raise ValueError(
            f"model outputs must have shape (batch, classes), got {tuple(scores.shape)}")
    batch, num_outputs = scores.shape
    check_output_count(num_outputs, mode)
    if not 1 <= k <= NUM_IMAGENET_CLASSES:
        raise ValueError(f"k must be 1 to {NUM_IMAGENET_CLASSES}, got {k}")
    scores = scores.detach()
    device = scores.device
    if mode == 0:
        confs, ids = scores.topk(min(k, num_outputs), dim=1)
        missing = k - ids.shape[1]
        if missing > 0:
            ids = torch.cat([ids, ids.new_full((batch, missing), NO_CLASS)], dim=1)
            confs = torch.cat([confs, confs.new_zeros((batch, missing))], dim=1)
        return ids, confs
    if mode == 1:
        confs, indices = scores.topk(k, dim=1)
        return _imagenet_index(device)[indices], confs
    gather_index, objectnet_ids = _collapse_index(device)
    if k > objectnet_ids.shape[0]:
        raise ValueError(
            f"mode 2 ranks {objectnet_ids.shape[0]} ObjectNet classes, so k must be at most "
            f"that, got {k}")
    collapsed = scores[:, gather_index].amax(dim=2)
    confs, positions = collapsed.topk(k, dim=1)
    return objectnet_ids[positions], confs
