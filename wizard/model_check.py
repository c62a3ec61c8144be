"""Does the checkpoint load into the chosen class? The answer the TUI shows next to the model
step and `objectnet-wizard check` prints, in structured form (missing and unexpected keys),
computed with the engine's own loaders so it can never disagree with the real run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ModelCheck:
    ok: bool
    message: str
    classes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    checkpoint_format: str | None = None
    detail: str = ""
    """The engine's own message for a misfit: key names and the pattern found (check and
    run print it; the TUI shows `message` with the key lists)."""
    example: tuple[str, ...] = ()
    """A class that cannot be built with no arguments: the wrapper that can, one line of
    model_description.py each (`message` holds it on one line, for check and run)."""

    def shown(self) -> str:
        """`message` for a screen: a wrapper example as a code block, not inline."""
        inline = " ".join(line.strip() for line in self.example)
        if not inline or not self.message.endswith(inline):
            return self.message
        head = self.message[:-len(inline)].rstrip()
        return head + ":\n" + "\n".join("    " + line for line in self.example)


def list_classes(model_dir: Path) -> list[str]:
    """The nn.Module classes model_description.py offers (raises engine's ModelError)."""
    from wizard.local_torch import using_torch

    with using_torch():
        from engine.plugin import load_model_module, model_classes

        return model_classes(load_model_module(model_dir))


def class_choices(model_dir: Path) -> list[tuple[str, str]]:
    """(label, name) for each class model_description.py offers: its own classes first, then
    those it imports, labelled as library classes (they often need arguments the engine
    cannot give). Raises engine's ModelError."""
    from wizard.local_torch import using_torch

    with using_torch():
        from engine.plugin import load_model_module, model_classes

        module = load_model_module(model_dir)
        choices = []
        for name in model_classes(module):
            origin = getattr(getattr(module, name), "__module__", "")
            label = name if origin == module.__name__ else f"{name} (library class from {origin})"
            choices.append((label, name))
        return choices


def check_model(model_dir: Path, model_class: str, checkpoint: Path,
                trust: bool = False) -> ModelCheck:
    """Build the class and load the checkpoint into it; never raises for bad input."""
    from wizard.local_torch import using_torch

    with using_torch():
        return _check_model(model_dir, model_class, checkpoint, trust)


def _check_model(model_dir: Path, model_class: str, checkpoint: Path,
                 trust: bool) -> ModelCheck:
    import torch.nn as nn

    from engine.checkpoint import describe_format, fit, mismatch, read
    from engine.errors import EngineError
    from engine.plugin import build_model

    try:
        classes = list_classes(model_dir)
        model = build_model(model_dir, model_class)
        # read() first: it names what is wrong with the file (missing, a FIFO, unreadable,
        # in no checkpoint format); the format is then known to be readable.
        loaded = read(checkpoint, trust)
        kind = describe_format(checkpoint)
    except EngineError as error:
        return ModelCheck(False, str(error), locals().get("classes", []),
                          example=tuple(getattr(error, "example", ())))
    if isinstance(loaded, nn.Module):
        return ModelCheck(True, f"{checkpoint.name} is a complete {kind} model "
                          f"({type(loaded).__name__}); the class is not used", classes,
                          checkpoint_format=kind)
    try:
        _, note = fit(model, loaded, checkpoint)
    except EngineError as error:
        # The engine's own message names the keys and the pattern; the lists stay for views.
        missing, unexpected, shapes = mismatch(model, loaded)
        return ModelCheck(
            False,
            f"{checkpoint.name} does not fit {model_class}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(shapes)} with another shape",
            classes, missing, unexpected, shapes, kind, detail=str(error))
    how = f"; {note}" if note else ""
    return ModelCheck(True, f"{checkpoint.name} loads into {model_class} "
                      f"({len(loaded)} tensors, {kind} format{how})", classes,
                      checkpoint_format=kind)
