"""ObjectNet-like images and a random-weight example checkpoint, generated on the spot.

The wizard's smoke runs, `make demo`, the tests and the benchmarks all need realistic input
without shipping the (licensed) ObjectNet images: RGBA PNGs with ObjectNet's 2-pixel pure
red frame, photo-like content (smooth shapes plus sensor noise, so PNG sizes and decode costs
resemble real photos) and ObjectNet's usual sizes. The smoke runs' generated images are made
once and kept in the user's cache (`generated_images`).

numpy and Pillow load on first use: the doctor and the pipeline only need the cache's place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.errors import SmokeError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# The sizes of ObjectNet's sample images (484x274 is by far the most common).
SAMPLE_SIZES = ((484, 274), (484, 274), (484, 274), (484, 644), (274, 484))
LARGE_SIZE = (2048, 1536)
BORDER = 2
RED = (255, 0, 0, 255)
DEFAULT_COUNT = 48
"""Generated images in a smoke run: enough for a few batches, few enough to be quick."""
DEFAULT_SEED = 0


def photo_like(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """An opaque RGBA picture with ObjectNet's red frame."""
    import numpy as np
    from PIL import Image

    coarse = rng.integers(0, 256, size=(max(height // 48, 2), max(width // 48, 2), 3),
                          dtype=np.uint8)
    bicubic = getattr(Image, "Resampling", Image).BICUBIC  # Pillow 9.1 moved the filters there
    smooth = np.asarray(Image.fromarray(coarse, "RGB").resize((width, height), bicubic),
                        dtype=np.int16)
    noise = rng.normal(0.0, 6.0, size=(height, width, 3)).astype(np.int16)
    rgb = np.clip(smooth + noise, 0, 255).astype(np.uint8)
    rgba = np.dstack([rgb, np.full((height, width), 255, dtype=np.uint8)])
    rgba[:BORDER, :] = RED
    rgba[-BORDER:, :] = RED
    rgba[:, :BORDER] = RED
    rgba[:, -BORDER:] = RED
    return Image.fromarray(rgba, "RGBA")


def make_images(folder: Path, count: int, seed: int = 0, sizes=SAMPLE_SIZES,
                prefix: str = "", compress_level: int = 6) -> list[Path]:
    """Write `count` ObjectNet-like PNGs named like ObjectNet's (15 hex digits).
    compress_level: zlib's, 0-9; the pixels are the same at every level (benchmarks use 1:
    level 6 spent most of two minutes of a lent GPU machine writing inputs)."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        name = f"{prefix}{rng.integers(0, 2**60):015x}.png"
        path = folder / name
        photo_like(width, height, rng).save(path, compress_level=compress_level)
        paths.append(path)
    return paths


def default_cache_dir() -> Path:
    """~/.cache/objectnet-wizard (or under $XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "objectnet-wizard"


def generated_images(cache_dir: str | PathLike[str] | None = None, count: int = DEFAULT_COUNT,
                     seed: int = DEFAULT_SEED) -> Path:
    """A folder of `count` generated ObjectNet-like PNGs, made once and kept in the cache.
    The folder appears whole or not at all, so an interrupted run never leaves half of it."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = cache / f"smoke-images-{count}-seed{seed}"
    if folder.is_dir() and len(list(folder.glob("*.png"))) == count:
        with contextlib.suppress(OSError):  # made private by an older wizard
            folder.chmod(0o755)
        return folder
    try:
        cache.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".smoke-images-", dir=cache))
    except OSError as error:
        raise SmokeError(f"cannot create the image cache {cache}: {error.strerror}: set "
                         "XDG_CACHE_HOME or give a smoke_images folder") from error
    try:
        make_images(scratch, count, seed=seed)
        # mkdtemp made it private; a runner that is not root must still read it at /input.
        scratch.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        scratch.rename(folder)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return folder


def make_checkpoint(path: Path, model_dir: Path, model_class: str, seed: int = 0) -> Path:
    """Save a seeded random-weight state_dict for `model_class` (predictions are meaningless,
    but deterministic: good for demos, smoke runs and tests)."""
    from wizard.local_torch import using_torch

    with using_torch() as torch:
        from engine.plugin import build_model

        torch.manual_seed(seed)
        model = build_model(model_dir, model_class)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m wizard.samples`: generate demo images and a random-weight checkpoint."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m wizard.samples", description=main.__doc__)
    parser.add_argument("--images", type=Path, help="folder to fill with ObjectNet-like PNGs")
    parser.add_argument("--count", type=int, default=32, help="how many images (default: 32)")
    parser.add_argument("--checkpoint", type=Path, help="where to save a random-weight checkpoint")
    parser.add_argument("--model-dir", type=Path, default=Path("model"))
    parser.add_argument("--model-class", default="resnet50")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.images and not any(args.images.glob("*.png")):
        make_images(args.images, args.count, seed=args.seed)
        print(f"generated {args.count} ObjectNet-like images in {args.images}")
    if args.checkpoint and not args.checkpoint.exists():
        make_checkpoint(args.checkpoint, args.model_dir, args.model_class, seed=args.seed)
        print(f"saved a RANDOM-WEIGHT {args.model_class} checkpoint (meaningless predictions, "
              f"for the demo only) to {args.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
