"""The user's model with the checkpoint's weights, built without a wasted initialisation.

The demo's way runs the class's __init__, which draws random values for every weight (about
19 s for ResNeXt-101 32x48d on 2 cores), then copies the checkpoint over them, holding both in
memory. Where torch allows (2.1+, compat.HAS_META_INIT), the class is built on the meta device
(shapes only: no memory, no random numbers) and the checkpoint's own tensors, memory-mapped
from the file, become its weights. A class whose __init__ needs real values is detected and
built the plain way from the checkpoint already read: a buffer or parameter the checkpoint
does not hold (computed in __init__), weights tied to each other, a tensor kept as a plain
attribute, or an __init__ that fails without real values (it read one).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional

import torch
import torch.nn as nn

from engine import checkpoint, compat, plugin
from engine.config import Config
from engine.errors import ModelError

LogCallback = Callable[[str], None]


def load_model(config: Config, log: Optional[LogCallback] = None,
               check: Optional[Callable[[nn.Module], bool]] = None) -> nn.Module:
    """`config.model_class` from the plug-in folder with `config.checkpoint`'s weights (or the
    checkpoint's own TorchScript / trusted pickled model), in eval-ready fp32 as saved.

    check: called with the model still on the meta device, when it is built that way (the
    engine's start-up check, run on shapes alone). A forward that leaves state behind (a cache
    made on first use) sends the model down the plain build, so nothing meta survives."""
    say = log or (lambda line: None)
    if not (config.fast_load and compat.HAS_META_INIT):
        built = plugin.build_model(config.model_dir, config.model_class)
        return checkpoint.load_into(built, config.checkpoint, trust=config.trust_checkpoint,
                                    log=say)
    skeleton = _build_on_meta(config)
    # Without a skeleton, the plain build comes first: a class that is missing or fails for
    # real is reported as such, before the checkpoint is read.
    model = plugin.build_model(config.model_dir, config.model_class) if skeleton is None else None
    loaded = checkpoint.read(config.checkpoint, config.trust_checkpoint, mmap=True)
    if isinstance(loaded, nn.Module):
        return loaded
    if skeleton is None:
        reason = "its __init__ fails without real weight values"
    else:
        loaded, note = checkpoint.fit(skeleton, loaded, config.checkpoint)
        if note:
            say("checkpoint %s: %s" % (config.checkpoint.name, note))
        misfit = needs_real_init(skeleton, loaded)
        if misfit is None and check is not None and check(skeleton):
            misfit = needs_real_init(skeleton, loaded)
            if misfit is None and any(checkpoint.mismatch(skeleton, loaded)):
                misfit = "its forward adds weights on first use"
        if misfit is None:
            return assign(skeleton, loaded)
        reason = misfit
    say("model class %s: %s, so it is built with its random initialisation first (a slower "
        "start-up, same predictions)" % (config.model_class, reason))
    if model is None:
        model = plugin.build_model(config.model_dir, config.model_class)
    return checkpoint.copy_into(model, loaded, config.checkpoint, say)


def _build_on_meta(config: Config) -> Optional[nn.Module]:
    """The class built on the meta device, or None when its __init__ cannot run there. The
    module is imported first, outside the meta context, so tensors it makes at import time
    are real (and cached for the plain build)."""
    plugin.load_model_module(config.model_dir)
    try:
        with torch.device("meta"):
            return plugin.build_model(config.model_dir, config.model_class)
    except ModelError:
        return None  # the plain build reports a real failure with its own message


def needs_real_init(skeleton: nn.Module, state: Mapping[str, torch.Tensor]) -> Optional[str]:
    """Why `skeleton` (built on the meta device) cannot take `state` by assignment, or None."""
    owners: Dict[int, List[str]] = {}
    for prefix, module in skeleton.named_modules():
        dotted = prefix + "." if prefix else ""
        for name, value in module._parameters.items():
            if value is not None:
                owners.setdefault(id(value), []).append(dotted + name)
        for name, value in module._buffers.items():
            if value is not None and dotted + name not in state:
                kind = ("non-persistent buffer" if name in module._non_persistent_buffers_set
                        else "buffer")
                return "its %s %r is computed in __init__, not read from the checkpoint" % (
                    kind, dotted + name)
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and value.is_meta:
                return "it keeps tensor %r as a plain attribute, set in __init__" % (
                    dotted + name)
    for names in owners.values():
        if len(names) > 1:
            return "its weights %s are tied (one tensor)" % " and ".join(
                repr(n) for n in names[:2])
    return None


# torch's CPU allocator aligns every tensor to 64 bytes, and so does torch.save's file layout.
# Some CPU kernels take another path (another summation order) for unaligned data, so a
# weight left at an unaligned address (safetensors packs tensors at 8 bytes) is copied.
ALIGNMENT = 64


def assign(skeleton: nn.Module, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """`skeleton` with `state`'s tensors as its weights, made exactly what the plain copy
    into a fresh parameter gives: the model's dtype, contiguous, 64-byte aligned."""
    expected = skeleton.state_dict(keep_vars=True)
    ready: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in state.items():
        target = expected[key]
        if value.dtype != target.dtype:
            value = value.to(target.dtype)
        if not value.is_contiguous():
            value = value.contiguous()
        elif value.numel() and value.data_ptr() % ALIGNMENT:
            value = value.clone()
        ready[key] = value
    skeleton.load_state_dict(ready, strict=True, assign=True)
    for name, tensor in list(skeleton.named_parameters()) + list(skeleton.named_buffers()):
        if tensor.is_meta:  # pragma: no cover - needs_real_init() finds these first
            raise ModelError("model weight %s was not filled from the checkpoint: run with "
                             "--plain-load" % name)
    return skeleton
