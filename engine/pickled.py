"""What a checkpoint's pickle would import, read with pickletools: nothing is unpickled.

A state_dict pickle names only tensor-rebuilding functions, storages, dtypes and plain
containers. A whole pickled model also names its nn.Module classes. Anything else (posix.system,
builtins.exec) is code the file would run on loading: such a file is not a model, and trusting
it is never the advice. The wizard's checkpoint check reads pickles with the same scanner.
"""

from __future__ import annotations

import pickletools
import sys
import zipfile
from pathlib import Path
from typing import IO, Dict, List, Optional, Set, Tuple

# Globals a plain state_dict pickle refers to: tensor rebuilding, storages, dtypes and
# standard containers. Anything else means the pickle holds objects of other classes.
PLAIN_GLOBALS = frozenset([
    "collections.OrderedDict", "collections.defaultdict", "_codecs.encode",
    "torch.Size", "torch.device", "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter", "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
] + ["%s.%s" % (module, name) for module in ("builtins", "__builtin__")
     for name in ("set", "frozenset", "slice", "complex", "bytearray")])
_STRING_OPS = frozenset([
    "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
    "BINSTRING", "STRING",
])


def scan_globals(stream: IO[bytes]) -> Set[str]:
    """The module.name of every global one pickle refers to, read with pickletools."""
    found: Set[str] = set()
    recent: List[Optional[str]] = []
    memo: Dict[int, Optional[str]] = {}
    top: Optional[str] = None
    for opcode, arg, _ in pickletools.genops(stream):
        name = opcode.name
        if name in _STRING_OPS:
            top = arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)
            recent.append(top)
        elif name == "MEMOIZE":
            memo[len(memo)] = top
        elif name in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int):
            memo[arg] = top
        elif name in ("GET", "BINGET", "LONG_BINGET") and isinstance(arg, int):
            top = memo.get(arg)
            recent.append(top)
        elif name == "GLOBAL":
            module, _, qualname = str(arg).partition(" ")
            found.add("%s.%s" % (module, qualname))
            top = None
        elif name == "STACK_GLOBAL":
            if len(recent) >= 2 and recent[-2] and recent[-1]:
                found.add("%s.%s" % (recent[-2], recent[-1]))
            top = None
        elif name != "FRAME":
            top = None
        if name == "STOP":
            break
    return found


def outside_plain(found: Set[str]) -> Tuple[str, ...]:
    """The globals of `found` that a plain state_dict would not name, sorted."""

    def plain(name: str) -> bool:
        module, _, attr = name.rpartition(".")
        if name in PLAIN_GLOBALS:
            return True
        if module == "torch._utils" and attr.startswith("_rebuild"):
            return True
        # Storage classes (torch.FloatStorage) and dtypes (torch.float32) of torch itself.
        return module == "torch" and (attr.endswith("Storage") or attr[:1].islower())

    return tuple(sorted(name for name in found if not plain(name)))


def checkpoint_globals(path: Path) -> Optional[Tuple[str, ...]]:
    """The non-plain globals of a torch.save file (zip or legacy), or None if unreadable."""
    try:
        if zipfile.is_zipfile(str(path)):
            with zipfile.ZipFile(str(path)) as archive:
                found: Set[str] = set()
                for member in archive.namelist():
                    if member.endswith("data.pkl"):
                        with archive.open(member) as stream:
                            found |= scan_globals(stream)
                return outside_plain(found)
        with open(str(path), "rb") as stream:
            # magic number, protocol version and system info come first, then the object.
            for _ in range(3):
                scan_globals(stream)
            return outside_plain(scan_globals(stream))
    except Exception:  # a damaged pickle: the caller falls back to torch's own message
        return None


def is_model_class(name: str) -> bool:
    """Whether `module.Class` is a torch.nn.Module subclass this process already knows (the
    user's model file and what it imports, torch, torchvision). Nothing new is imported but
    torch's own modules, so classifying a hostile name runs none of its code."""
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None and module_name.split(".")[0] in ("torch", "torchvision"):
        try:
            __import__(module_name)
        except Exception:
            return False
        module = sys.modules.get(module_name)
    value = getattr(module, attr, None) if module is not None else None
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover - the engine always has torch
        return False
    return isinstance(value, type) and issubclass(value, nn.Module)
