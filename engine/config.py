"""The engine's settings, parsed once from the command line (or built by the wizard)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from engine import cpus

PRECISIONS = ("fp32", "bf16", "fp16")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
MB = 1 << 20
# Bytes read from one image at most (--max-image-mb). ObjectNet's PNGs are a few MB; a file
# over this is refused unread, so a link to /dev/zero or a sparse file cannot fill the memory.
MAX_IMAGE_MB = 256


@dataclass(frozen=True)
class Config:
    """One evaluation run. Paths are taken as given; `run()` checks them before any work."""

    images_dir: Path
    output_file: Path
    model_class: str
    checkpoint: Path
    model_dir: Path = Path("model")
    workers: Optional[int] = None
    """Data-loading worker processes; None = the CPU count."""
    gpus: Optional[int] = None
    """GPUs to use; None = all visible, 0 = CPU."""
    batch_size: int = 96
    """Images per batch and per GPU."""
    softmax: bool = True
    convert_outputs_mode: int = 1
    border: int = 2
    """Pixels cropped from every side before the transform (ObjectNet's red frame)."""
    overwrite: bool = False
    trust_checkpoint: bool = False
    """Allow unpickling a whole model object, which runs code stored in the checkpoint."""
    precision: str = "fp32"
    compile: bool = False
    channels_last: Optional[bool] = None
    """None = use channels_last where it is exact and faster (CPU and GPU convnets)."""
    decoder: str = "auto"
    """"auto" = pyspng for 8-bit RGB(A) PNGs when installed, else Pillow; "pil" forces Pillow."""
    fast_load: bool = True
    """Build the model without its random initialisation and map the checkpoint into memory
    (torch 2.1+; engine.weights). False = the demo's way: build, initialise, read, copy."""
    score: bool = False
    """When the images carry labels (ObjectNet class folders, or answers.json at the top of the
    images folder), also count top-1/top-5 of every conversion from the same forward pass."""
    max_image_bytes: int = MAX_IMAGE_MB * MB
    """Images larger than this get a -1 row unread (--max-image-mb)."""
    fastpath: bool = True
    """Split the standard Resize/CenterCrop/ToTensor/Normalize transform: uint8 pixels leave the
    loader workers and are normalised on the device, bit-identically. False = run it whole."""

    def resolved_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return cpus.usable_cpus()
