"""Feature detection for the oldest stacks the engine supports (Python 3.8, torch 1.8).

Every feature newer than torch 1.8 is looked up here once, with the release that brought it,
so the rest of the engine can use the best available behaviour without version checks.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable, ContextManager, Dict

import torch


def _has_kwarg(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


# torch 1.9: inference_mode is cheaper than no_grad (no version counters on outputs).
HAS_INFERENCE_MODE = hasattr(torch, "inference_mode")

# torch 1.13: torch.load(weights_only=True) refuses arbitrary pickled objects.
HAS_WEIGHTS_ONLY = _has_kwarg(torch.load, "weights_only")

# torch 2.0: torch.compile.
HAS_COMPILE = hasattr(torch, "compile")

# torch 1.10: torch.autocast(device_type=...) for both CPU (bf16) and CUDA.
HAS_AUTOCAST = hasattr(torch, "autocast")

# torch 1.12: Tensor.scatter_reduce with reduce="amax".
HAS_SCATTER_REDUCE = hasattr(torch.Tensor, "scatter_reduce")

# torch 1.7: DataLoader(prefetch_factor=...). (persistent_workers, also 1.7, buys nothing here:
# the loader is iterated exactly once.)
HAS_PREFETCH_FACTOR = _has_kwarg(torch.utils.data.DataLoader.__init__, "prefetch_factor")

# torch 1.10: torch.frombuffer, used by the safetensors fallback reader.
HAS_FROMBUFFER = hasattr(torch, "frombuffer")


def inference_context() -> ContextManager[Any]:
    """The cheapest context that disables autograd on this torch."""
    if HAS_INFERENCE_MODE:
        return torch.inference_mode()
    return torch.no_grad()


def autocast(device_type: str, dtype: torch.dtype | None) -> ContextManager[Any]:
    """Autocast to `dtype` on `device_type`, or nothing when dtype is None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    if HAS_AUTOCAST:
        return torch.autocast(device_type=device_type, dtype=dtype)
    if device_type == "cuda" and dtype == torch.float16:
        return torch.cuda.amp.autocast()
    raise RuntimeError(
        "torch %s has no autocast for %s on %s: use --precision fp32 or a newer torch"
        % (torch.__version__, dtype, device_type)
    )


def compile_for_inference(model: Any) -> Any:
    """torch.compile for a model whose weights never change: static shapes, and inductor's
    freezing (torch 2.1: folds BatchNorm into convolutions, pre-packs weights; the main gain
    on CPUs) where this torch has it."""
    try:
        import torch._inductor.config as inductor_config

        if hasattr(inductor_config, "freezing"):
            inductor_config.freezing = True
    except ImportError:  # pragma: no cover - torch builds without inductor
        pass
    return torch.compile(model, dynamic=False)


def torch_load_kwargs(weights_only: bool) -> Dict[str, Any]:
    """Keyword arguments for torch.load that ask for exactly the safety level wanted."""
    if HAS_WEIGHTS_ONLY:
        return {"weights_only": weights_only}
    return {}


def loader_kwargs(num_workers: int, prefetch: int) -> Dict[str, Any]:
    """DataLoader options that keep each worker `prefetch` batches ahead, where supported."""
    if num_workers == 0 or not HAS_PREFETCH_FACTOR:
        return {}
    return {"prefetch_factor": prefetch}
