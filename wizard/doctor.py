"""`objectnet-wizard check`: everything that can be known before a build, each finding with
what to do about it. The findings come from wizard.findings, whose producers also feed the
pipeline's check stage and the TUI's environment, model and base-image steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wizard import findings
from wizard.answers import Answers
from wizard.findings import Finding, Status


@dataclass
class Report:
    items: list[Finding] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return findings.ready(self.items)

    @property
    def model_problem(self) -> bool:
        return findings.model_problem(self.items)


def diagnose(answers: Answers, root: Path) -> Report:
    """Every producer, in the order a user fixes things: this machine, then the model."""
    from wizard import docker_ops, wheelhouse

    items = [findings.project(root), *findings.docker(docker_ops.connect, answers.base_image),
             *findings.local_torch()]
    found, site = findings.requirements(answers, root)
    items += found
    if site is not None:
        wheelhouse.activate(site)  # the model check imports the model's own packages
    # Without the model folder, its row below says so; the model check would only repeat it.
    if answers.model_path(root).is_dir() and any(f.name == findings.TORCH and f.ok
                                                 for f in items):
        items.append(findings.model(answers.model_path(root), answers.model_class,
                                    answers.checkpoint_path(root), answers.trust_checkpoint))
    items.append(findings.model_folder(answers, root))
    saved_by, about_checkpoint = findings.checkpoint(answers.checkpoint_path(root),
                                                     answers.trust_checkpoint)
    items += about_checkpoint
    items += findings.base_image(answers.base_image, saved_by)
    items += findings.gpu(answers.base_image, answers.target_gpu)
    items += findings.offline(answers.model_path(root))
    items += findings.smoke_images(answers, root)
    return Report(items)


STYLES = {Status.OK: "green", Status.WARNING: "yellow", Status.ERROR: "red",
          Status.PENDING: "dim"}


def print_report(report: Report, console: Console) -> None:
    table = Table(show_header=True, header_style="bold", expand=True)
    table.add_column("", width=2)
    table.add_column("check", no_wrap=True)
    # What was found is usually longer than what to do about it: give it more of the width.
    table.add_column("finding", ratio=3)
    table.add_column("what to do", ratio=2)
    for item in report.items:
        # Findings quote user text (paths, names, messages): Text, never markup.
        table.add_row(Text(item.mark, STYLES[item.status]), Text(item.name),
                      Text(item.detail), Text(item.fix))
    console.print(table)
    console.print(Text("ready", "green") if report.ready
                  else Text.assemble(("not ready", "red"), ": fix the ✗ rows"))
