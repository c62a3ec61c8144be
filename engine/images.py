"""Finding images and turning any of them into the RGB picture the transform expects.

Decoding never raises for a bad file: it raises UnreadableImage with a short reason, which the
loader turns into a row of -1 ids so one broken file cannot stop a 50,000-image run.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

from PIL import Image

from engine.config import IMAGE_SUFFIXES
from engine.errors import ImagesError

try:  # Optional: lossless libspng decoding, 1.4-2x faster than Pillow for PNG.
    import numpy as np
    import pyspng
except ImportError:  # pragma: no cover - exercised in images without pyspng
    pyspng = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


class UnreadableImage(Exception):
    """An image that cannot be evaluated; the message is the reason shown to the user."""


def find_images(root: Path) -> List[Path]:
    """All images under `root`, any depth, sorted by file name (the scorer's key).

    Hidden files and folders are skipped. Two files with the same name anywhere in the tree
    are refused up front: the scorer keys rows by name, so one of them would be lost.
    """
    if not root.is_dir():
        raise ImagesError("images folder %s does not exist or is not a folder" % root)
    by_name: Dict[str, List[Path]] = defaultdict(list)
    for folder, dirs, files in os.walk(str(root), followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                by_name[name].append(Path(folder) / name)
    if not by_name:
        raise ImagesError(
            "no images in %s (looked for %s in all subfolders)"
            % (root, "/".join(s.lstrip(".") for s in IMAGE_SUFFIXES))
        )
    clashes = sorted((name, paths) for name, paths in by_name.items() if len(paths) > 1)
    if clashes:
        shown = "; ".join(
            "%s in %s" % (name, ", ".join(str(p.parent) for p in sorted(paths)))
            for name, paths in clashes[:5]
        )
        more = " (and %d more)" % (len(clashes) - 5) if len(clashes) > 5 else ""
        raise ImagesError(
            "%d file name(s) occur more than once under %s: %s%s. Predictions are keyed by "
            "file name, so rename or remove the copies" % (len(clashes), root, shown, more)
        )
    return [by_name[name][0] for name in sorted(by_name)]


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB.

    RGBA/LA drop alpha exactly as the demo's convert("RGB") did (ObjectNet PNGs are opaque).
    16-bit greyscale is scaled to 8 bits; Pillow's own convert would clip it to white.
    """
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        image = image.convert("I").point(lambda v: v * (1 / 257.0) + 0.5).convert("L")
    elif image.mode == "F":
        # Float images are either 0..1 or 0..255 by convention; the extremes tell which.
        scale = 255.0 if image.getextrema()[1] <= 1.0 else 1.0
        image = image.point(lambda v: v * scale).convert("L")
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def _png_header(data: bytes):
    """(width, height, bit depth, colour type) from a PNG's IHDR, or None if not a PNG."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def _check_pixels(width: int, height: int) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise UnreadableImage(
            "%dx%d pixels is over Pillow's limit of %d (a decompression-bomb guard)"
            % (width, height, limit)
        )


def _check_border(width: int, height: int, border: int) -> None:
    if width <= 2 * border or height <= 2 * border:
        raise UnreadableImage(
            "%dx%d is too small to crop a %d-pixel border" % (width, height, border)
        )


def _decode_with_pyspng(data: bytes, border: int) -> Image.Image:
    """8-bit RGB(A) PNG -> RGB with the border cropped, in two copies (libspng writes RGB
    directly, dropping alpha as convert("RGB") does; Pillow copies the cropped view once)."""
    array = pyspng.load(data, "RGB")
    height, width = array.shape[:2]
    _check_border(width, height, border)
    if border:
        array = array[border:height - border, border:width - border]
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def load_rgb(path: Path, border: int = 2, decoder: str = "auto") -> Image.Image:
    """Decode one image as RGB with `border` pixels cropped from every side."""
    try:
        with open(str(path), "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise UnreadableImage("cannot read the file: %s" % (error.strerror or error)) from None
    if not data:
        raise UnreadableImage("the file is empty (0 bytes)")
    header = _png_header(data)
    if header is not None:
        width, height, depth, colour = header
        _check_pixels(width, height)
        # Colour types 2 (RGB) and 6 (RGBA) at 8 bits: pyspng gives exactly Pillow's pixels.
        if decoder == "auto" and pyspng is not None and depth == 8 and colour in (2, 6):
            try:
                return _decode_with_pyspng(data, border)
            except UnreadableImage:
                raise
            except Exception as error:
                raise UnreadableImage("not a valid PNG (%s)" % error) from None
    image = _decode_with_pil(data)
    width, height = image.size
    _check_border(width, height, border)
    if border:
        image = image.crop((border, border, width - border, height - border))
    return image


def _decode_with_pil(data: bytes) -> Image.Image:
    import io

    try:
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow only warns (it raises at twice that): refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_pixels(*image.size)
            image.load()
            return to_rgb(image)
    except UnreadableImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise UnreadableImage("over Pillow's pixel limit (%s)" % error) from None
    except Image.UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UnreadableImage("cannot decode: %s" % error) from None
