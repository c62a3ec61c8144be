"""ObjectNet-like images and a random-weight example checkpoint, generated on the spot.

The wizard's smoke runs, `make demo`, the tests and the benchmarks all need realistic input
without shipping the (licensed) ObjectNet images: RGBA PNGs with ObjectNet's 2-pixel pure
red frame, photo-like content (smooth shapes plus sensor noise, so PNG sizes and decode costs
resemble real photos) and ObjectNet's usual sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# The sizes of ObjectNet's sample images (484x274 is by far the most common).
SAMPLE_SIZES = ((484, 274), (484, 274), (484, 274), (484, 644), (274, 484))
LARGE_SIZE = (2048, 1536)
BORDER = 2
RED = (255, 0, 0, 255)


def photo_like(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """An opaque RGBA picture with ObjectNet's red frame."""
    coarse = rng.integers(0, 256, size=(max(height // 48, 2), max(width // 48, 2), 3),
                          dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse, "RGB").resize((width, height), Image.BICUBIC),
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
