"""`objectnet-wizard check`: everything that can be known before a build, each item with
what to do about it. The TUI's environment and model steps show the same findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wizard import offline
from wizard.answers import Answers
from wizard.errors import WizardError


@dataclass(frozen=True)
class Item:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True
    """False for advice: the run can go on (e.g. a warning about the base image)."""
    model: bool = False
    """A problem of the model folder, class, checkpoint or requirements (exit 2), not of
    the environment (exit 3)."""


@dataclass
class Report:
    items: list[Item] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(item.ok or not item.blocking for item in self.items)

    @property
    def model_problem(self) -> bool:
        return any(item.model and item.blocking and not item.ok for item in self.items)


def docker_items(base_image: str) -> list[Item]:
    """Is a Docker engine reachable, and is the base image there?"""
    try:
        from wizard import docker_ops

        ops = docker_ops.connect()
    except WizardError as error:
        return [Item("Docker engine", False, str(error),
                     "start Docker, or set DOCKER_HOST to the engine's socket")]
    items = [Item("Docker engine", True, f"answers at {ops.host}")]
    if ops.image_present(base_image):
        items.append(Item("base image", True, f"{base_image} is present"))
    else:
        items.append(Item("base image", False, f"{base_image} is not present locally",
                          f"`docker pull {base_image}` (the build pulls it when the engine "
                          "has network; otherwise load it with `docker load`)",
                          blocking=False))
    return items


def dependency_items(answers: Answers, root: Path) -> tuple[list[Item], Path | None]:
    """What model/requirements.txt needs, and whether its wheelhouse is complete; also the
    private install the model check imports from."""
    from wizard import docker_ops, wheelhouse
    from wizard.samples import default_cache_dir

    requirements = answers.model_path(root) / wheelhouse.REQUIREMENTS
    if not requirements.is_file():
        return [], None
    try:
        ops = docker_ops.connect()
        image = wheelhouse.image_env(ops, answers.base_image, default_cache_dir())
    except WizardError as error:
        return [Item("requirements", False, f"cannot read what {answers.base_image} provides: "
                     f"{error}", "start Docker and load the base image, then check again")], None
    work = root / ".objectnet-wizard"
    try:
        prepared = wheelhouse.prepare(requirements, image, wheelhouse.host_env(), work, root)
    except wheelhouse.WheelhouseError as error:
        return [Item("requirements", False, str(error), model=True)], None
    items = [Item("requirements", True, line) for line in prepared.lines()]
    items += [Item("requirements", False, text, blocking=False) for text in prepared.warnings]
    return items, prepared.local_site


def model_items(answers: Answers, root: Path) -> list[Item]:
    from wizard import model_folder, wheelhouse
    from wizard.errors import RenderError
    from wizard.model_check import check_model
    from wizard.pipeline import checkpoint_warnings

    items, site = dependency_items(answers, root)
    if site is not None:
        wheelhouse.activate(site)
    checkpoint = answers.checkpoint_path(root)
    result = check_model(answers.model_path(root), answers.model_class, checkpoint,
                         answers.trust_checkpoint)
    items.append(Item("checkpoint", result.ok, result.detail or result.message,
                      "" if result.ok else "pick the class the checkpoint was trained with, "
                      "or re-export the checkpoint", model=True))
    try:
        entries = model_folder.resolve(answers.model_path(root), answers.checkpoint,
                                       answers.model_include, answers.model_exclude)
        lines = model_folder.summary_lines(entries)
        items.append(Item("model folder", True, "\n".join(lines)))
    except (RenderError, OSError) as error:
        items.append(Item("model folder", False, str(error), model=True))
    saved_by, warnings = checkpoint_warnings(answers, root)
    if warnings:
        items += [Item("base image vs torch", False, text, blocking=False) for text in warnings]
    else:
        items.append(Item("base image vs torch", True,
                          f"{answers.base_image} suits a checkpoint from "
                          + (f"torch {saved_by}" if saved_by else "an unrecorded torch")))
    items += gpu_items(answers)
    findings = offline.scan(answers.model_path(root))
    if findings:
        items += [Item("offline-ready", False, f"{f.path.name}:{f.line}: {f.what}", f.fix)
                  for f in findings]
    else:
        items.append(Item("offline-ready", True, "no downloads found in the model code"))
    return items


def gpu_items(answers: Answers) -> list[Item]:
    """Can the base image drive the evaluation GPU? A refusal blocks: see wizard.gpu_compat."""
    from wizard import base_images, gpu_compat

    verdicts = gpu_compat.check(answers.base_image, answers.target_gpu)
    if verdicts:
        return [Item("base image vs GPU", False, v.message, blocking=v.blocking)
                for v in verdicts]
    image = base_images.find(answers.base_image)
    if image is None or answers.target_gpu == "none" or not image.archs:
        return []  # unknown image: base_images.check warns; CPU runner: nothing to check
    target = answers.target_gpu or ", ".join(gpu_compat.CURRENT_DATA_CENTRE)
    return [Item("base image vs GPU", True,
                 f"{answers.base_image} has compiled code for {target}")]


def diagnose(answers: Answers, root: Path) -> Report:
    return Report(docker_items(answers.base_image) + model_items(answers, root))


def print_report(report: Report, console: Console) -> None:
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("", width=2)
    table.add_column("check", no_wrap=True)
    table.add_column("finding")
    table.add_column("what to do")
    for item in report.items:
        mark = Text("✓", "green") if item.ok else (Text("✗", "red") if item.blocking
                                                   else Text("!", "yellow"))
        # Findings quote user text (paths, names, messages): Text, never markup.
        table.add_row(mark, Text(item.name), Text(item.detail), Text(item.fix))
    console.print(table)
    console.print(Text("ready", "green") if report.ready
                  else Text.assemble(("not ready", "red"), ": fix the ✗ rows"))
