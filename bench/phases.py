"""Memory of one process at each phase of its start-up, for bench/startup.py.

    python bench/phases.py OUT.json seed MODEL_DIR CLASS CHECKPOINT
    python bench/phases.py OUT.json engine CHECKPOINT ENGINE-ARGUMENTS...

seed: the demo's construct-then-load (build the class with its random initialisation,
torch.load the checkpoint into memory, load_state_dict). engine: the engine's own command
line (engine.cli.main, the same code `python -m engine` runs), with a snapshot after each
phase it goes through: model code imported, model built, checkpoint read, weights in the
model, prepared (eval, channels_last), first batch predicted.

Each snapshot reads /proc/self/status: VmHWM (the peak resident set so far), VmRSS, RssAnon
(private memory: heap and tensors), RssFile (pages of mapped files: shared libraries and a
memory-mapped checkpoint) and, from /proc/self/smaps, how much of RssFile is the checkpoint
file's own pages. Nothing here imports torch before the first two snapshots are taken.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

REPO = Path(__file__).resolve().parents[1]
MB = 1024.0 * 1024.0
STATUS_KEYS = ("VmHWM", "VmRSS", "RssAnon", "RssFile")
CODE_IMPORTED = "model code imported"
"""The phase both kinds of process pass just before the first weight exists: torch,
torchvision and the model's module are imported, no weight is allocated yet."""


def snapshot(phase: str, checkpoint: str) -> Dict[str, Any]:
    """Memory figures of this process now, in MB, labelled `phase`. The checkpoint's pages
    are looked up once torch is imported (engine.mapped imports it); before, there are none."""
    taken: Dict[str, Any] = {"phase": phase, "t": time.perf_counter()}
    with open("/proc/self/status") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in STATUS_KEYS:
                taken[key] = int(line.split()[1]) / 1024.0
    mapped = sys.modules.get("engine.mapped")
    taken["checkpoint"] = mapped.resident(Path(checkpoint)) / MB if mapped else 0.0
    return taken


class Recorder:
    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        self.taken: List[Dict[str, Any]] = []

    def __call__(self, phase: str) -> None:
        if phase:
            self.taken.append(snapshot(phase, self.checkpoint))

    def after(self, owner: Any, name: str, label: Callable[[Any], str]) -> None:
        """Take a snapshot each time `owner.name` returns, labelled from its result."""
        original = getattr(owner, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self(label(result))
            return result

        setattr(owner, name, wrapped)


def _seed(record: Recorder, model_dir: str, model_class: str, checkpoint: str) -> dict:
    import torch

    sys.path.insert(0, str(REPO))
    import engine.mapped  # noqa: F401 - snapshot() reads the checkpoint's pages with it

    record("torch imported")
    from engine import plugin

    started = time.perf_counter()
    plugin.load_model_module(Path(model_dir))
    record(CODE_IMPORTED)
    model = plugin.build_model(Path(model_dir), model_class)
    built = time.perf_counter()
    record("model built (random initialisation)")
    if checkpoint.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(checkpoint, device="cpu")
        record("checkpoint read into memory (safetensors load_file)")
    else:
        state = torch.load(checkpoint, map_location="cpu")
        record("checkpoint read into memory (torch.load)")
    model.load_state_dict(state)
    model.eval()
    startup = time.perf_counter() - started
    record("weights copied (load_state_dict)")
    del state
    record("checkpoint dict dropped")
    return {"returncode": 0, "build_s": built - started, "startup_s": startup}


def _engine(record: Recorder, arguments: List[str]) -> dict:
    import torch

    sys.path.insert(0, str(REPO))
    import engine.mapped  # noqa: F401 - snapshot() reads the checkpoint's pages with it

    record("torch imported")
    from engine import checkpoint, cli, devices, plugin, weights
    from engine import run as engine_run

    def built(model: Any) -> str:
        on_meta = any(p.is_meta for p in model.parameters())
        return "model built (%s)" % ("on the meta device: shapes only" if on_meta
                                     else "random initialisation")

    imported: List[bool] = []

    def code_imported(_: Any) -> str:
        imported.append(True)
        return CODE_IMPORTED if len(imported) == 1 else ""

    record.after(plugin, "load_model_module", code_imported)
    record.after(plugin, "build_model", built)
    record.after(checkpoint, "read", lambda _: "checkpoint read (%s)" % (
        "memory-mapped" if _maps(record.checkpoint) else "into memory"))
    record.after(weights, "load_model", lambda _: "weights in the model")
    record.after(devices, "prepare", lambda _: "prepared (eval, channels_last)")
    run = engine_run.run

    def probed(config: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        first: List[bool] = []

        def progress(done: int, total: int) -> None:
            if done and not first:
                first.append(True)
                record("first batch predicted")
            if on_progress is not None:
                on_progress(done, total)

        return run(config, on_progress=progress, **kwargs)

    setattr(engine_run, "run", probed)  # noqa: B010 - the CLI looks it up at call time
    torch.manual_seed(0)
    return {"returncode": cli.main(arguments)}


def _maps(checkpoint: str) -> bool:
    real = os.path.realpath(checkpoint)
    with open("/proc/self/maps") as maps:
        return any(line.rstrip("\n").endswith(" " + real) for line in maps)


def main() -> int:
    out, mode = Path(sys.argv[1]), sys.argv[2]
    checkpoint = sys.argv[5] if mode == "seed" else sys.argv[3]
    record = Recorder(checkpoint)
    record("python started")
    if mode == "seed":
        result = _seed(record, sys.argv[3], sys.argv[4], checkpoint)
    else:
        result = _engine(record, sys.argv[4:])
    record("end")
    result["phases"] = record.taken
    out.write_text(json.dumps(result))
    return int(result["returncode"])


if __name__ == "__main__":
    raise SystemExit(main())
