"""`make demo`: the wizard's main job on the embedded example, start to finish.

The example model is a ResNet-50 with RANDOM weights (its predictions are meaningless: it
shows the path, not accuracy) and the images are generated ObjectNet-like PNGs. The demo
writes example answers, renders the Dockerfile, runs the local smoke test, then builds the
image and runs the in-image smoke test when a Docker engine and the base image are there.
Without them it stops after the local smoke run, says what is missing and how to get it, and
still exits 0: everything it could do, it did.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from wizard.answers import Answers
from wizard.answers_file import save_answers
from wizard.errors import WizardError

ROOT = Path(__file__).resolve().parents[1]
ANSWERS = ROOT / "demo.answers.toml"
CHECKPOINT = "resnet50-random.pth"
TEST_BASE_IMAGE = "objectnet-wizard-test/torch:bookworm"

console = Console(stderr=True)


def _base_image(ops) -> str:
    """The test base image when the local engine has it (these machines cannot pull), else
    the official image that matches the local torch."""
    wanted = os.environ.get("OBJECTNET_WIZARD_BASE_IMAGE")
    if wanted:
        return wanted
    if ops is not None and ops.image_present(TEST_BASE_IMAGE):
        return TEST_BASE_IMAGE
    from wizard.base_images import suggest
    from wizard.checkpoint_info import local_torch_version

    return suggest(local_torch_version() or "2.0").ref


def main() -> int:
    from wizard import docker_ops
    from wizard.cli import error_line, print_event
    from wizard.pipeline import Pipeline
    from wizard.samples import make_checkpoint

    console.rule("[bold]objectnet-wizard demo")
    console.print("Example model: ResNet-50 with [bold red]random weights[/] (meaningless "
                  "predictions), on generated ObjectNet-like images.")
    checkpoint = ROOT / "model" / CHECKPOINT
    if not checkpoint.exists():
        make_checkpoint(checkpoint, ROOT / "model", "resnet50", seed=0)
    try:
        ops = docker_ops.connect()
        missing = None
    except WizardError as error:
        ops, missing = None, str(error)
    answers = Answers(model_class="resnet50", checkpoint=CHECKPOINT, base_image=_base_image(ops),
                      batch_size=16, synapse_project_id="syn12345678",
                      repository="objectnet-wizard-demo", tag="random-weights")
    save_answers(answers, ANSWERS)
    console.print(f"wrote the example answers to {ANSWERS.relative_to(ROOT)}")
    pipe = Pipeline(answers, ROOT, answers_path=ANSWERS, on_event=print_event,
                    docker=(lambda: ops) if ops is not None else None)
    try:
        pipe.check()
        pipe.render(force=False)
        pipe.smoke()
        if ops is None:
            return _stop(f"no Docker engine: {missing}")
        if not ops.image_present(answers.base_image):
            return _stop(f"the base image {answers.base_image} is not in the Docker engine")
        pipe.build()
        pipe.image_smoke()
    except WizardError as error:
        error_line(error)
        return 1
    console.rule("[green]demo finished")
    console.print(f"Built and smoke-tested {answers.image_reference()}. Pushing is the next "
                  "step: `objectnet-wizard run --answers demo.answers.toml --until push` with "
                  "your own syn id and a token in $SYNAPSE_AUTH_TOKEN.")
    return 0


def _stop(reason: str) -> int:
    console.rule("[yellow]demo stopped after the local smoke run")
    console.print(Text(f"Not built: {reason}."), highlight=False)
    console.print("To build and smoke-test the image too, start a Docker engine with the base "
                  "image: on these development machines `sudo scripts/test-env up` installs "
                  "dockerd, makes the test base image and a local registry; elsewhere install "
                  "Docker and `docker pull` the base image named in demo.answers.toml. Then run "
                  "`make demo` again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
