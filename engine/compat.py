"""Feature detection for the oldest stacks the engine supports (Python 3.8, torch 1.8).

Every feature newer than torch 1.8 is looked up here once, with the release that brought it,
so the rest of the engine can use the best available behaviour without version checks.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable, ContextManager, Dict, Iterator

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

# torch 1.10: torch.frombuffer, used to map safetensors files instead of reading them.
HAS_FROMBUFFER = hasattr(torch, "frombuffer")

# torch 2.1: Module.load_state_dict(assign=True) makes the checkpoint's tensors the model's
# own, which with torch 2.0's `with torch.device("meta")` builds a model without allocating
# or initialising its weights (engine.weights).
HAS_META_INIT = _has_kwarg(torch.nn.Module.load_state_dict, "assign") and hasattr(
    torch.device, "__enter__")

# torch 2.1: torch.load(mmap=True) maps the checkpoint's file instead of reading it into memory.
HAS_MMAP_LOAD = _has_kwarg(torch.load, "mmap")

# torch 1.7: the TF32 switches (cuDNN's allow_tf32 defaults to True: convolutions on Ampere and
# newer GPUs then round their inputs to 10 mantissa bits).
HAS_TF32_FLAGS = hasattr(torch.backends.cudnn, "allow_tf32")

# torch 1.11: torch.aminmax, one pass over a tensor for its smallest and largest values.
HAS_AMINMAX = hasattr(torch, "aminmax")

# torch 1.13: torch.cuda.OutOfMemoryError (before, a RuntimeError saying "out of memory").
CUDA_OOM = getattr(torch.cuda, "OutOfMemoryError", None)


def all_finite(tensor: torch.Tensor) -> bool:
    """No NaN and no Inf in a floating-point tensor. min and max propagate NaN, and an Inf is
    one of them, so two reductions decide it without the elementwise mask isfinite() builds:
    about 20x faster on a big model's weights (0.6 s for ResNeXt-101 32x16d on 2 cores).
    An empty tensor (a zero-width layer) holds nothing that is not finite: min and max of
    nothing would raise."""
    if tensor.numel() == 0:
        return True
    try:
        if HAS_AMINMAX:
            low, high = torch.aminmax(tensor)
        else:
            low, high = tensor.min(), tensor.max()
        return bool(torch.isfinite(low)) and bool(torch.isfinite(high))
    except RuntimeError:  # a dtype or device without the reduction (half on an old CPU torch)
        return bool(torch.isfinite(tensor).all())


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


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """True fp32 convolutions and matmuls while inside: TF32 off (torch lets cuDNN use it by
    default, which moves confidences by about 1e-3 between kernels), restored on the way out,
    because one process (a benchmark, the wizard) may run several configurations."""
    saved = _tf32_switches()
    try:
        _set_tf32_switches(saved, exact=True)
        yield
    finally:
        _set_tf32_switches(saved, exact=False)


def _tf32_switches() -> Any:
    """("flags", matmul, cudnn) through the allow_tf32 flags; ("precision", matmul, conv)
    where something set torch 2.9's fp32_precision API, after which reading the old flags
    raises; None without TF32 switches."""
    if not HAS_TF32_FLAGS:
        return None
    try:
        return ("flags", torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    except RuntimeError:
        return ("precision", torch.backends.cuda.matmul.fp32_precision,
                # cudnn.conv is made at run time (torch 2.9+); torch's stubs do not declare it
                torch.backends.cudnn.conv.fp32_precision)  # type: ignore[attr-defined]


def _set_tf32_switches(saved: Any, exact: bool) -> None:
    if saved is None:
        return
    kind, matmul, convolution = saved
    if kind == "flags":
        torch.backends.cuda.matmul.allow_tf32 = False if exact else matmul
        torch.backends.cudnn.allow_tf32 = False if exact else convolution
    else:
        torch.backends.cuda.matmul.fp32_precision = "ieee" if exact else matmul
        # cudnn.conv is made at run time (torch 2.9+); torch's stubs do not declare it
        torch.backends.cudnn.conv.fp32_precision = (  # type: ignore[attr-defined]
            "ieee" if exact else convolution)


def is_device_error(error: BaseException) -> bool:
    """True for out-of-memory and CUDA/cuDNN/cuBLAS failures: facts about the device and the
    batch size, to report as such, not as a fault of the model or of torch.compile."""
    if CUDA_OOM is not None and isinstance(error, CUDA_OOM):
        return True
    if not isinstance(error, RuntimeError):
        return False
    text = str(error)
    return "out of memory" in text or any(
        marker in text for marker in ("CUDA error", "CUDNN_STATUS", "cuDNN error",
                                      "CUBLAS_STATUS", "CUDA driver error"))


def loader_kwargs(num_workers: int, prefetch: int) -> Dict[str, Any]:
    """DataLoader options that keep each worker `prefetch` batches ahead, where supported."""
    if num_workers == 0 or not HAS_PREFETCH_FACTOR:
        return {}
    return {"prefetch_factor": prefetch}
