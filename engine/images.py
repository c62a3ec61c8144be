"""Turning any image file into the RGB picture the transform expects (engine.scan finds them).

Decoding never raises for a bad file: it raises UnreadableImage with a short reason, which the
loader turns into a row of -1 ids so one broken file cannot stop a 50,000-image run.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import cast

from PIL import Image

from engine.config import MAX_IMAGE_MB, MB
from engine.regular import NotRegularFile, open_regular

try:  # Optional: lossless libspng decoding, 1.4-2x faster than Pillow for PNG.
    import numpy as np
    import pyspng
except ImportError:  # pragma: no cover - exercised in images without pyspng
    pyspng = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


class UnreadableImage(Exception):
    """An image that cannot be evaluated; the message is the reason shown to the user."""


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
        high = cast(float, image.getextrema()[1])  # one band: (min, max) as numbers
        scale = 255.0 if high <= 1.0 else 1.0
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


def read_image_file(path: Path, max_bytes: int = MAX_IMAGE_MB * MB) -> bytes:
    """The bytes of one regular file of at most `max_bytes` (engine.regular opens it: a
    FIFO would wait forever), never more than `max_bytes` of it, whatever its size claims."""
    try:
        handle = open_regular(path)
    except NotRegularFile as kind:
        raise UnreadableImage("not a regular file (%s)" % kind) from None
    except OSError as error:
        raise UnreadableImage("cannot read the file: %s" % (error.strerror or error)) from None
    with handle:
        info = os.fstat(handle.fileno())
        if info.st_size > max_bytes:
            raise UnreadableImage("%s is over the %s limit (--max-image-mb)"
                                  % (_mb(info.st_size), _mb(max_bytes)))
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise UnreadableImage("cannot read the file: %s"
                                  % (error.strerror or error)) from None
    if len(data) > max_bytes:  # it grew while being read
        raise UnreadableImage("over the %s limit (--max-image-mb)" % _mb(max_bytes))
    return data


def _mb(size: int) -> str:
    return "%d MB" % (size // MB) if size % MB == 0 else "%.1f MB" % (size / MB)


def load_rgb(path: Path, border: int = 2, decoder: str = "auto",
             max_bytes: int = MAX_IMAGE_MB * MB) -> Image.Image:
    """Decode one image as RGB with `border` pixels cropped from every side."""
    data = read_image_file(path, max_bytes)
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
