"""The one mapping from answers to the engine's settings. The local smoke run and the image's
ENTRYPOINT (and its settings label) are built from the same engine Config, so the local run is
exactly the image's run but for the paths and what only applies on this machine (LOCAL_ONLY).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from engine.cli import to_argv
from engine.config import Config
from wizard.answers import Answers

CONTAINER_ROOT = "/opt/objectnet"
CONTAINER_MODEL_DIR = f"{CONTAINER_ROOT}/model"
INPUT_DIR = "/input"
OUTPUT_FILE = "/output/predictions.csv"

LOCAL_ONLY = frozenset({"images_dir", "output_file", "checkpoint", "model_dir", "overwrite"})
"""The Config fields in which the local run and the image's may differ: the paths, and
`overwrite` (the local run replaces its own earlier predictions; the image writes a fresh
/output)."""


def _config(answers: Answers, *, images_dir: Path, output_file: Path, checkpoint: Path,
            model_dir: Path, overwrite: bool) -> Config:
    return Config(
        images_dir=images_dir, output_file=output_file, model_class=answers.model_class,
        checkpoint=checkpoint, model_dir=model_dir, workers=answers.workers, gpus=answers.gpus,
        batch_size=answers.batch_size, softmax=answers.softmax,
        convert_outputs_mode=answers.convert_outputs_mode, overwrite=overwrite,
        trust_checkpoint=answers.trust_checkpoint, precision=answers.precision,
    )


def container_checkpoint(answers: Answers) -> str:
    """Where the checkpoint is inside the image."""
    return f"{CONTAINER_MODEL_DIR}/{answers.checkpoint}"


def image_config(answers: Answers) -> Config:
    """The engine settings of the image's run: the challenge's fixed paths."""
    return _config(answers, images_dir=Path(INPUT_DIR), output_file=Path(OUTPUT_FILE),
                   checkpoint=Path(container_checkpoint(answers)),
                   model_dir=Path(CONTAINER_MODEL_DIR), overwrite=False)


def local_config(answers: Answers, project_root: str | PathLike[str],
                 images_dir: str | PathLike[str], output_file: str | PathLike[str]) -> Config:
    """The engine settings of the image's run, for a run on this machine."""
    root = Path(project_root)
    return _config(answers, images_dir=Path(images_dir), output_file=Path(output_file),
                   checkpoint=answers.checkpoint_path(root), model_dir=answers.model_path(root),
                   overwrite=True)


def entrypoint(answers: Answers) -> list[str]:
    """The image's command line: the engine, fixed paths, then every chosen setting as an
    option, so that options given to `docker run IMAGE ...` come later and win."""
    return ["python3", "-m", "engine", *to_argv(image_config(answers))]


def settings_label(config: Config) -> str:
    """The settings as the image's objectnet.settings label shows them."""
    workers = "all-cpus" if config.workers is None else str(config.workers)
    gpus = "all-visible" if config.gpus is None else str(config.gpus)
    return (
        f"batch_size={config.batch_size} workers={workers} gpus={gpus} "
        f"softmax={'true' if config.softmax else 'false'} "
        f"convert_outputs_mode={config.convert_outputs_mode} precision={config.precision} "
        f"trust_checkpoint={'true' if config.trust_checkpoint else 'false'}"
    )
