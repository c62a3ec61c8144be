"""The answers: every choice the wizard needs, as one validated model, its steps and its paths.

The TUI fills the answers step by step (`STEPS`, in field order); the non-interactive mode
reads them from a TOML file. Both end in the same `Answers`, so both are checked the same way.

Paths. The answers file normally sits in the project root: the folder that holds `engine/`
and the model folder, and that is sent to Docker as the build context. Relative paths are
resolved against the folder of the answers file (`project_root` below):

- `model_dir` is relative to the project root and must stay inside it;
- `checkpoint` is relative to `model_dir` and must stay inside it, because the image only
  holds what the build context holds, and the checkpoint is copied next to the model code;
- `smoke_images` may be absolute or relative to the project root; it is only mounted for the
  smoke run, never copied into the image.

Values are stored as written (relative), so an answers file keeps working when the project
folder moves. Secrets never enter the answers: the registry token comes from the
`SYNAPSE_AUTH_TOKEN` environment variable or from a prompt.

Reading and writing the file is wizard.answers_file, the one-line messages for what is wrong
wizard.answers_messages, and the commented reference file wizard.answers_reference.
"""


from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from wizard import validators
from wizard.validators import show

TOKEN_ENV_VAR = "SYNAPSE_AUTH_TOKEN"
"""Where the registry token comes from (or a prompt); never from the answers file."""


def _model_dir(value: str) -> str:
    path = validators.dockerfile_path(value, "the project folder")
    if path == "engine" or path.startswith("engine/"):
        raise ValueError(
            f"{show(path)} is the engine's own folder: keep the model in a folder of its own, "
            "e.g. model"
        )
    return path


def _checkpoint(value: str) -> str:
    return validators.dockerfile_path(value, "the model folder")


def _folder(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("the folder is empty: give a folder of images, or leave the setting out")
    for ch in text:
        if not ch.isprintable():
            raise ValueError(
                f"{show(text)} contains an invisible or control character "
                f"(U+{ord(ch):04X}): remove it"
            )
    return text


def _file_pattern(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("a pattern is empty: remove it")
    if text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"{show(text)} must be relative to model_dir and stay inside it")
    for ch in text:
        if not ch.isprintable():
            raise ValueError(f"{show(text)} contains an invisible or control character "
                             f"(U+{ord(ch):04X}): remove it")
    return text


FilePattern = Annotated[str, AfterValidator(_file_pattern)]


def _not_a_bool(value: Any) -> Any:
    # true == 1 in Python, so a Literal of ints takes a boolean even in strict mode.
    if isinstance(value, bool):
        raise PydanticCustomError("literal_error", "a boolean is not a mode")
    return value


ModelDir = Annotated[str, AfterValidator(_model_dir)]
ModelClass = Annotated[str, AfterValidator(validators.model_class_name)]
CheckpointPath = Annotated[str, AfterValidator(_checkpoint)]
ImageRef = Annotated[str, AfterValidator(validators.image_ref)]
ImagesFolder = Annotated[str, AfterValidator(_folder)]
RegistryHost = Annotated[str, AfterValidator(validators.registry)]
SynapseId = Annotated[str, AfterValidator(validators.synapse_project_id)]
Repository = Annotated[str, AfterValidator(validators.repository)]
Tag = Annotated[str, AfterValidator(validators.tag)]
NonNegative = Annotated[int, Field(ge=0)]
MemorySize = Annotated[str, AfterValidator(validators.memory_size)]
UserSpec = Annotated[str, AfterValidator(validators.user_spec)]
BATCH_MAX, WORKERS_MAX, GPUS_MAX = 4096, 1024, 64
"""Bounds past any real machine: a typo (or 2**70) is refused here, not inside the image."""


class Answers(BaseModel):
    """Everything needed to render, build, smoke-test and push an ObjectNet image.

    Field order is the TUI's step order (see STEPS): the model comes first, so the wizard can
    read the checkpoint and suggest a base image that matches the torch that saved it.
    """

    # strict: TOML has real booleans and integers, so "yes" or 1 for trust_checkpoint (a
    # security setting) and true for batch_size are mistakes to report, not to coerce.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        use_attribute_docstrings=True,
        validate_assignment=True,
    )

    model_dir: ModelDir = "model"
    """Folder holding model_description.py and data_transform_description.py, relative to
    the project folder (where this answers file is). The whole folder goes into the image
    (sub-packages, data files, .so files), less other checkpoints, caches, VCS folders,
    answers files and files named like credentials. A requirements.txt in it is resolved
    on this machine into a wheelhouse for the base image's Python, installed while building
    with no network."""

    model_class: ModelClass = Field(examples=["resnet50"])
    """Name of the model class in model_description.py."""

    checkpoint: CheckpointPath = Field(examples=["resnet50.pth"])
    """Checkpoint file, relative to model_dir: a state_dict (.pth/.pt), safetensors,
    TorchScript, or a whole pickled model (then set trust_checkpoint)."""

    trust_checkpoint: bool = False
    """Allow a checkpoint that is a whole pickled model. Loading one runs code stored in
    the file, so only turn this on for a file you made or trust. Only true turns it on
    (not "yes" or 1): every setting must have its own type, as in this file."""

    model_include: list[FilePattern] = []
    """Files of the model folder to put into the image although they are left out by
    default, as glob patterns relative to model_dir (or file names), e.g.
    ["extra_weights.bin"] for a second weights file the model loads itself."""

    model_exclude: list[FilePattern] = []
    """Files of the model folder to leave out of the image, as glob patterns relative to
    model_dir (or file names), e.g. ["notebooks/*", "*.ipynb"]; wins over model_include."""

    base_image: ImageRef = Field(examples=["pytorch/pytorch:2.14.1-cuda12.6-cudnn9-runtime"])
    """Image to build on; it must provide python3 with torch and torchvision. The wizard
    suggests an official pytorch/pytorch runtime image matching the checkpoint's torch, but
    any image reference is accepted."""

    target_gpu: Literal["V100", "T4", "A100", "A10G", "L4", "H100", "H200", "B200", "none"] | None \
        = Field(None, examples=["H100"])
    """The GPU the challenge evaluates on (V100, T4, A100, A10G, L4, H100, H200, B200, or
    "none" for a CPU runner). check refuses, before any build, a base image whose torch
    carries no code for it, and names the oldest image that can; leave it out when unknown
    (then images that cannot drive an A100 or H100 get a warning)."""

    batch_size: int = Field(96, gt=0, le=BATCH_MAX)
    """Images per batch and per GPU, 1 to 4096."""

    workers: int | None = Field(None, ge=0, le=WORKERS_MAX, examples=[8])
    """Image-loading worker processes (0 to 1024); leave out to use every CPU of the
    container, 0 loads images in the main process."""

    gpus: int | None = Field(None, ge=0, le=GPUS_MAX, examples=[1])
    """GPUs to use (0 to 64); leave out to use every visible GPU (none visible means the
    CPU), 0 runs on the CPU."""

    softmax: bool = True
    """Turn the model's outputs into probabilities with softmax."""

    convert_outputs_mode: Annotated[Literal[0, 1, 2], BeforeValidator(_not_a_bool)] = 1
    """0: the model's own class ids; 1: ImageNet-1k ids mapped to ObjectNet ids after
    top-5, as the demo did; 2: ImageNet scores collapsed onto the 113 ObjectNet classes,
    then top-5."""

    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """fp32 is exact; bf16 and fp16 autocast are faster on GPUs and may change a few
    predictions."""

    smoke_images: ImagesFolder | None = Field(None, examples=["sample-images"])
    """Folder of images for the smoke run, absolute or relative to the project folder;
    leave out to use generated ObjectNet-like images."""

    runner_memory: MemorySize = "32g"
    """Memory limit of the challenge's runner; the in-image smoke run gets the same limit
    (and no swap beyond it) and reports its peak against it. The ObjectNet runner gave
    32g; Sage's generic template gives 2g."""

    runner_shm: MemorySize = "12g"
    """Shared memory (/dev/shm) of the runner, which DataLoader workers pass batches
    through; the in-image smoke run gets the same and reports its peak. ObjectNet: 12g."""

    runner_gpus: bool = True
    """Whether the runner gives the container GPUs. When true, the in-image smoke run asks
    for this machine's GPUs if Docker has the NVIDIA runtime (and says once when not)."""

    runner_time_limit_hours: float | None = Field(None, gt=0, examples=[2.0])
    """Time limit of the runner for the whole test set, in hours. The smoke run's rate is
    extrapolated to 50,273 images and judged fits / tight / does not fit against it. Leave it
    out when unknown: the ObjectNet runner's limit was never published (Sage's is 2)."""

    runner_user: UserSpec | None = Field(None, examples=["1000:1000"])
    """User the runner starts the container as (user or uid:gid); leave it out for the
    image's own user (root in pytorch/pytorch images), as the ObjectNet runner did."""

    runner_strict: Literal["warn", "require", "skip"] = "warn"
    """The strict passes after the in-image smoke run: once with a read-only root
    filesystem (and a tmpfs /tmp), once as the non-root user 1000:1000. "warn" reports a
    failure as a warning (the ObjectNet runner did neither), "require" makes it an error,
    "skip" leaves them out (each pass takes as long as the smoke run)."""

    registry: RegistryHost = "docker.synapse.org"
    """Registry host (and port) the image is pushed to."""

    synapse_project_id: SynapseId = Field(examples=["syn12345678"])
    """Your Synapse project id, as shown on the project page."""

    repository: Repository = Field(examples=["my-model"])
    """Repository name under the project, lowercase, e.g. my-model."""

    tag: Tag = "latest"
    """Image tag. The challenge pulls submissions by digest, so the tag only labels the
    image for you; use v1, v2, ... to keep earlier pushes apart."""

    @model_validator(mode="after")
    def _reference_fits(self) -> Answers:
        name = f"{self.registry}/{self.synapse_project_id}/{self.repository}"
        if len(name) > validators.NAME_MAX:
            raise ValueError(
                f"registry, synapse_project_id and repository make {show(name)}, longer than "
                f"the {validators.NAME_MAX} characters Docker allows: use a shorter repository"
            )
        return self

    def image_reference(self) -> str:
        """The name the image is built and pushed as: registry/project/repository:tag."""
        return validators.image_reference(
            self.registry, self.synapse_project_id, self.repository, self.tag
        )

    def model_path(self, project_root: str | PathLike[str]) -> Path:
        return Path(project_root) / self.model_dir

    def checkpoint_path(self, project_root: str | PathLike[str]) -> Path:
        return Path(project_root) / self.model_dir / self.checkpoint

    def smoke_images_path(self, project_root: str | PathLike[str]) -> Path | None:
        """The smoke-run folder, or None for generated images."""
        if self.smoke_images is None:
            return None
        folder = Path(self.smoke_images).expanduser()
        return folder if folder.is_absolute() else Path(project_root) / folder


FIELDS: tuple[str, ...] = tuple(Answers.model_fields)

STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("model_dir", "model_class", "checkpoint", "trust_checkpoint", "model_include",
               "model_exclude")),
    ("base image", ("base_image", "target_gpu")),
    ("settings", ("batch_size", "workers", "gpus", "softmax", "convert_outputs_mode",
                  "precision")),
    ("smoke test", ("smoke_images", "runner_memory", "runner_shm", "runner_gpus",
                    "runner_time_limit_hours", "runner_user", "runner_strict")),
    ("registry", ("registry", "synapse_project_id", "repository", "tag")),
)
"""The TUI's steps and the fields each one asks for; together they list FIELDS in order."""


def example(name: str) -> Any:
    """The value messages and the reference file show for a setting: its example, else its
    default."""
    field = Answers.model_fields[name]
    if field.examples:
        return field.examples[0]
    return field.get_default()
