"""Loading a checkpoint into the chosen model class, in every shape people save them.

Accepted: a state_dict (also nested under "state_dict"/"model", with DataParallel's "module."
or torch.compile's "_orig_mod." prefix), safetensors, TorchScript, and - only with
--trust-checkpoint - a whole pickled model, because unpickling one runs code from the file.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
import re
import stat
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from engine import checkpoint_format, compat, pickled
from engine.errors import CheckpointError
from engine.regular import kind_of

NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module")
PREFIXES = ("module.", "_orig_mod.")
TRUST_HINT = (
    "it holds a whole pickled model, and unpickling one runs code stored in the file, so it "
    "was not loaded. If you trust the file, pass --trust-checkpoint; better, re-save it with "
    "torch.save(model.state_dict(), PATH)"
)


def describe_format(path: Path) -> str:
    """"safetensors", "torchscript", "zip" (torch.save >= 1.6) or "legacy" (older pickle, and
    anything else: torch.load then says what is wrong with it)."""
    kind = checkpoint_format.sniff(path)
    return checkpoint_format.LEGACY if kind == checkpoint_format.UNKNOWN else kind


def load_into(model: nn.Module, path: Path, trust: bool = False,
              log: Optional[Callable[[str], None]] = None) -> nn.Module:
    """The model with the checkpoint's weights; a TorchScript or trusted pickled model
    replaces `model` entirely. A state_dict whose keys all differ from the model's by one
    prefix (saved from a wrapper) is loaded with the prefix changed, and `log` is told."""
    loaded = read(path, trust)
    if isinstance(loaded, nn.Module):
        return loaded
    return copy_into(model, loaded, path, log)


def copy_into(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path,
              log: Optional[Callable[[str], None]] = None) -> nn.Module:
    """`model` with `state` copied over its weights, its keys fitted first (fit())."""
    state, note = fit(model, state, path)
    if note and log is not None:
        log("checkpoint %s: %s" % (path.name, note))
    model.load_state_dict(state, strict=True)
    return model


def read(path: Path, trust: bool = False, mmap: bool = False) -> Any:
    """A ready model (TorchScript, trusted pickle) or the state_dict, prefixes stripped.

    mmap: map a torch.save file instead of reading it (torch 2.1), so its tensors are the
    file's pages until something copies them, never a second copy in memory."""
    check_file(path)
    try:
        found = checkpoint_format.sniff(path)
    except OSError as error:
        raise CheckpointError("cannot read checkpoint %s: %s"
                              % (path, error.strerror or error)) from None
    if found == checkpoint_format.UNKNOWN and path.stat().st_size == 0:  # once it could be read
        raise CheckpointError("checkpoint %s is empty (0 bytes): the save or the copy did not "
                              "finish; save or copy it again" % path)
    kind = checkpoint_format.LEGACY if found == checkpoint_format.UNKNOWN else found
    if kind == "torchscript":
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            raise CheckpointError("TorchScript checkpoint %s failed to load: %s"
                                  % (path, _first_line(error))) from None
    if kind == "safetensors":
        state = _read_safetensors(path)
    else:
        try:
            loaded = _torch_load(path, trust, mmap and kind == "zip")
        except CheckpointError:
            # torch.load is still asked (it decides what it can read), but a file in none
            # of the formats is named as what it is, not in torch's words for the failure.
            if found == checkpoint_format.UNKNOWN:
                raise CheckpointError(not_a_checkpoint(path)) from None
            raise
        if isinstance(loaded, nn.Module):
            return loaded
        state = _find_state_dict(loaded, path, trust)
        if isinstance(state, nn.Module):
            return state
    return _strip_prefixes(state)


def check_file(path: Path) -> None:
    """CheckpointError unless `path` is a regular file: a folder, a FIFO (reading it waits
    forever) or a device is named as such."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CheckpointError("checkpoint %s does not exist" % path) from None
    except OSError as error:
        raise CheckpointError("cannot read checkpoint %s: %s"
                              % (path, error.strerror or error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError("checkpoint %s is a folder, not a file: give the checkpoint file "
                              "in it (.pth, .pt, .safetensors)" % path)
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError("checkpoint %s is not a regular file (%s): give the checkpoint "
                              "file" % (path, kind_of(info.st_mode)))


def not_a_checkpoint(path: Path) -> str:
    """What a file that is in none of the checkpoint formats is, from its first bytes."""
    with open(str(path), "rb") as stream:
        head = stream.read(checkpoint_format.HEAD_SIZE)
    if head.startswith(checkpoint_format.ZIP_MAGICS):
        return ("checkpoint %s is a zip archive torch cannot read: cut short or damaged in a "
                "copy, or not written by torch.save; copy it again, or save it with torch.save"
                % path)
    text = head.decode("utf-8", "ignore")  # a character the 32 bytes cut in two is dropped
    whole = len(text.encode("utf-8")) >= len(head) - 3
    if text and whole and all(char.isprintable() or char in "\t\r\n" for char in text):
        return ("checkpoint %s is text, not a checkpoint (it starts %r): give the file "
                "torch.save wrote (.pth, .pt) or a .safetensors file"
                % (path, text.strip()[:24]))
    return ("checkpoint %s is not a checkpoint torch.save, torch.jit.save or safetensors wrote "
            "(its first bytes: %s): give the file torch.save wrote"
            % (path, " ".join("%02x" % byte for byte in head[:8])))


# How weights_only (each torch release words it differently) and _RestrictedUnpickler name
# the global they refused: "Unsupported global: GLOBAL m.C", "unsupported GLOBAL posix.system",
# "Unsupported class m.C", "global m.C is not allowed".
_REFUSED = re.compile(r"(?:GLOBAL|[Uu]nsupported class|global) ([A-Za-z_][\w.]*)")


def refusal(path: Path, torch_message: str) -> str:
    """Why a checkpoint was not unpickled, naming what it would import. --trust-checkpoint is
    suggested only where everything beyond plain tensors is a torch.nn.Module class."""
    names = pickled.checkpoint_globals(path)
    if not names:
        names = tuple(_REFUSED.findall(torch_message)[:1])
    foreign = [name for name in names if not pickled.is_model_class(name)]
    if foreign:
        return ("checkpoint %s would call or build %s when loaded, which %s not a torch model "
                "class: a file like this runs code on your machine, so it was not loaded "
                "(--trust-checkpoint would run that code too); use a state_dict from a source "
                "you trust" % (path, _listing(foreign), "is" if len(foreign) == 1 else "are"))
    return "checkpoint %s (%s): %s" % (path, _listing(list(names)), TRUST_HINT)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _torch_load(path: Path, trust: bool, mmap: bool = False) -> Any:
    kwargs: Dict[str, Any] = {"map_location": "cpu"}
    if mmap and compat.HAS_MMAP_LOAD:
        kwargs["mmap"] = True
    if trust:
        kwargs.update(compat.torch_load_kwargs(weights_only=False))
    elif compat.HAS_WEIGHTS_ONLY:
        kwargs.update(compat.torch_load_kwargs(weights_only=True))
    else:
        kwargs["pickle_module"] = _RestrictedPickle
    try:
        return torch.load(str(path), **kwargs)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, ModuleNotFoundError) as error:
        text = str(error)
        # weights_only (and our restricted unpickler) name the class they refused to import.
        if not trust and _REFUSED.search(text):
            raise CheckpointError(refusal(path, text)) from None
        if trust and isinstance(error, (AttributeError, ModuleNotFoundError)):
            raise CheckpointError(
                "checkpoint %s is a pickled model whose class cannot be found (%s): define it "
                "in model_description.py under the same name, or re-save the state_dict"
                % (path, _first_line(error))) from None
        raise CheckpointError("checkpoint %s is not a PyTorch checkpoint this torch can read: %s"
                              % (path, _first_line(error))) from None
    except Exception as error:
        raise CheckpointError("checkpoint %s could not be read: %s"
                              % (path, _first_line(error))) from None


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    )


def _find_state_dict(loaded: Any, path: Path, trust: bool) -> Any:
    if _is_state_dict(loaded):
        return loaded
    if isinstance(loaded, Mapping):
        for key in NESTED_KEYS:
            inner = loaded.get(key)
            if _is_state_dict(inner) or (isinstance(inner, nn.Module) and trust):
                return inner
        keys = ", ".join(sorted(str(k) for k in loaded)[:8])
        raise CheckpointError(
            "checkpoint %s is a dict without weights at the top or under %s (its keys: %s): "
            "save model.state_dict()" % (path, "/".join(NESTED_KEYS), keys))
    raise CheckpointError("checkpoint %s holds a %s, not a state_dict or a model"
                          % (path, type(loaded).__name__))


def _strip_prefixes(state: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    result = OrderedDict(state)
    for prefix in PREFIXES:
        if result and all(key.startswith(prefix) for key in result):
            result = OrderedDict((key[len(prefix):], v) for key, v in result.items())
    return result


def _listing(items: List[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (" and %d more" % (len(items) - limit) if len(items) > limit else "")


def mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> Tuple[List[str], List[str],
                                                                          List[str]]:
    """(missing keys, unexpected keys, 'key: checkpoint shape vs model shape') lists."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        "%s %s vs %s" % (k, list(state[k].shape), list(expected[k].shape))
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    return missing, unexpected, shapes


def _prefix_candidates(missing: List[str], unexpected: List[str]) -> List[Tuple[str, str]]:
    """("remove" | "add", prefix) pairs that map the first unexpected key onto a missing one;
    a prefix always ends at a dot, so "net." can never be confused with "network"."""
    first = unexpected[0]
    found = []
    for key in missing:
        if first.endswith("." + key):
            found.append(("remove", first[:len(first) - len(key)]))
        if key.endswith("." + first):
            found.append(("add", key[:len(key) - len(first)]))
    return found


def _renamed(key: str, change: Tuple[str, str]) -> Optional[str]:
    how, prefix = change
    if how == "add":
        return prefix + key
    return key[len(prefix):] if key.startswith(prefix) else None


def _maps_onto(change: Tuple[str, str], missing: List[str], unexpected: List[str]) -> int:
    """How many unexpected keys the change maps onto distinct missing keys."""
    targets = set(missing)
    hit = set()
    for key in unexpected:
        new = _renamed(key, change)
        if new is not None and new in targets:
            hit.add(new)
    return len(hit)


def _describe(change: Tuple[str, str]) -> str:
    how, prefix = change
    return "%s the prefix %r %s every key" % (
        "removed" if how == "remove" else "added", prefix, "from" if how == "remove" else "to")


def fit(model: nn.Module, state: Mapping[str, torch.Tensor],
        path: Path) -> Tuple["OrderedDict[str, torch.Tensor]", Optional[str]]:
    """The state_dict as the model expects it, and a note when a prefix was changed.

    Loaded as is when the keys match. When the missing and unexpected keys differ by one
    consistent prefix (added or removed, e.g. "net." from a wrapper), every key maps one to
    one and every shape matches, the keys are renamed. Anything else raises CheckpointError
    naming the keys and the pattern found."""
    missing, unexpected, shapes = mismatch(model, state)
    if not (missing or unexpected or shapes):
        return OrderedDict(state), None
    if missing and unexpected and len(missing) == len(unexpected) and not shapes:
        changes = [c for c in _prefix_candidates(missing, unexpected)
                   if _maps_onto(c, missing, unexpected) == len(unexpected)]
        if len(changes) == 1:
            change = changes[0]
            moved = set(unexpected)
            renamed: "OrderedDict[str, torch.Tensor]" = OrderedDict()
            for key, value in state.items():
                new_key = _renamed(key, change) if key in moved else None
                renamed[key if new_key is None else new_key] = value
            still = mismatch(model, renamed)
            if not any(still):
                return renamed, _describe(change)
            missing, unexpected, shapes = still
            raise _refusal(model, path, missing, unexpected, shapes,
                           "after the change (%s) some shapes differ" % _describe(change))
        if len(changes) > 1:
            raise _refusal(model, path, missing, unexpected, shapes,
                           "the keys fit in more than one way (%s), so none was chosen"
                           % " or ".join(_describe(c) for c in changes))
    raise _refusal(model, path, missing, unexpected, shapes, _pattern(missing, unexpected))


def _pattern(missing: List[str], unexpected: List[str]) -> str:
    """What the key difference looks like when no single prefix explains it."""
    if not (missing and unexpected):
        return ""
    best = None
    for change in _prefix_candidates(missing, unexpected):
        count = _maps_onto(change, missing, unexpected)
        if best is None or count > best[1]:
            best = (change, count)
    if best is None:
        heads = sorted({k.split(".", 1)[0] + "." for k in unexpected})
        return "the unexpected keys start with %s" % _listing(heads, 3)
    change, count = best
    how, prefix = change
    return ("%s the prefix %r maps %d of the %d unexpected keys onto missing ones; %d missing "
            "keys are left over" % ("removing" if how == "remove" else "adding", prefix, count,
                                    len(unexpected), len(missing) - count))


def _refusal(model: nn.Module, path: Path, missing: List[str], unexpected: List[str],
             shapes: List[str], pattern: str) -> CheckpointError:
    parts = []
    if missing:
        parts.append("%d missing (%s)" % (len(missing), _listing(missing)))
    if unexpected:
        parts.append("%d unexpected (%s)" % (len(unexpected), _listing(unexpected)))
    if shapes:
        parts.append("%d with another shape (checkpoint vs model: %s)"
                     % (len(shapes), _listing(shapes, 2)))
    return CheckpointError(
        "checkpoint %s does not fit model class %s: keys %s%s. Pick the class the checkpoint was "
        "trained with, or re-export the checkpoint"
        % (path, type(model).__name__, "; ".join(parts), "; " + pattern if pattern else ""))


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def _read_safetensors(path: Path) -> "OrderedDict[str, torch.Tensor]":
    """safetensors memory-mapped where torch can wrap a mapping (1.10), so the weights are
    the file's pages rather than a copy; else via its library when installed, else by
    reading the simple format directly (old base images rarely have the library)."""
    try:
        if not compat.HAS_FROMBUFFER:
            try:
                from safetensors.torch import load_file
            except ImportError:
                pass
            else:
                return OrderedDict(load_file(str(path), device="cpu"))
        return _read_safetensors_plain(path)
    except Exception as error:
        raise CheckpointError("safetensors checkpoint %s could not be read: %s"
                              % (path, _first_line(error))) from None


def _read_safetensors_plain(path: Path) -> "OrderedDict[str, torch.Tensor]":
    with open(str(path), "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size).decode("utf-8"))
        start_of_data = 8 + size
        if compat.HAS_FROMBUFFER:
            # A private (copy-on-write) mapping: writable, so torch wraps it without a warning,
            # and nothing is read until a tensor is used. The tensors keep the mapping alive.
            length = os.fstat(handle.fileno()).st_size
            mapped = (mmap.mmap(handle.fileno(), length, access=mmap.ACCESS_COPY)
                      if length > start_of_data else None)
            raw = (torch.frombuffer(mapped, dtype=torch.uint8)[start_of_data:]
                   if mapped is not None else torch.empty(0, dtype=torch.uint8))
            copy = False
        else:
            payload = handle.read()
            raw = (torch.ByteTensor(torch.ByteStorage.from_buffer(payload, "native"))
                   if payload else torch.empty(0, dtype=torch.uint8))
            copy = True
    state = OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        piece = raw[start:end]
        if copy or (start_of_data + start) % _itemsize(dtype):
            piece = piece.clone()  # an element type must start on a multiple of its size
        state[name] = piece.view(dtype).reshape(info["shape"])
    return state


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


class _RestrictedUnpickler(pickle.Unpickler):
    """For torch < 1.13, which lacks weights_only: the same idea, tensors and containers only."""

    _ALLOWED_MODULES = ("torch._utils", "collections", "torch")
    _ALLOWED_TORCH = ("Size", "device", "dtype", "float32", "float16", "bfloat16")

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name.startswith("_rebuild_"):
            return super().find_class(module, name)
        if module == "torch" and (name.endswith("Storage") or name in self._ALLOWED_TORCH):
            return super().find_class(module, name)
        raise pickle.UnpicklingError("global %s.%s is not allowed" % (module, name))


class _RestrictedPickle:
    """A pickle_module for torch.load that uses _RestrictedUnpickler."""

    Unpickler = _RestrictedUnpickler
    __name__ = "pickle"

    @staticmethod
    def load(handle: Any, **kwargs: Any) -> Any:
        return _RestrictedUnpickler(handle, **kwargs).load()
