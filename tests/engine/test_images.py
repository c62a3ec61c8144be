"""Finding images and decoding every kind of file into the RGB picture the model sees."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import anchors_dir

from engine import images as images_module
from engine.errors import ImagesError
from engine.images import UnreadableImage, load_rgb, to_rgb
from engine.scan import find_images
from wizard.samples import photo_like


def framed(width: int, height: int, seed: int = 0) -> Image.Image:
    return photo_like(width, height, np.random.default_rng(seed))


def test_crop_removes_exactly_the_red_border(tmp_path: Path) -> None:
    picture = framed(60, 40)
    path = tmp_path / "a.png"
    picture.save(path)
    loaded = np.asarray(load_rgb(path, border=2, decoder="pil"))
    assert loaded.shape == (36, 56, 3)
    expected = np.asarray(picture.convert("RGB"))[2:-2, 2:-2]
    assert np.array_equal(loaded, expected)
    # The frame is gone: no pure-red row or column is left at any edge.
    for edge in (loaded[0], loaded[-1], loaded[:, 0], loaded[:, -1]):
        assert not np.all(edge == [255, 0, 0], axis=-1).all()


def test_border_zero_keeps_the_frame(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    framed(30, 20).save(path)
    loaded = np.asarray(load_rgb(path, border=0))
    assert loaded.shape == (20, 30, 3)
    assert (loaded[0, :] == [255, 0, 0]).all()


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L", "P", "1", "I;16", "I", "CMYK", "F"])
def test_every_mode_becomes_rgb_with_the_right_colours(tmp_path: Path, mode: str) -> None:
    grey = {"1": 255, "I;16": 128 * 257, "I": 128 * 257, "F": 128.0}.get(mode)
    if grey is not None:
        image = Image.new(mode, (12, 10), grey)
        expected = (255, 255, 255) if mode == "1" else (128, 128, 128)
    else:
        image = Image.new("RGB", (12, 10), (200, 100, 50)).convert(mode)
        expected = image.convert("RGB").getpixel((0, 0))
    suffix = {"CMYK": ".jpg", "F": ".tif", "I": ".tif"}.get(mode, ".png")
    path = tmp_path / ("x" + suffix)
    image.save(path, quality=100) if suffix == ".jpg" else image.save(path)
    pixel = load_rgb(path, border=2).getpixel((0, 0))
    assert load_rgb(path, border=2).mode == "RGB"
    assert all(abs(a - b) <= 3 for a, b in zip(pixel, expected, strict=False)), (pixel, expected)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    image = Image.new("I;16", (4, 4), 1000)
    # Pillow's own convert would saturate to 255; 1000/65535 of full scale is ~4.
    assert to_rgb(image).getpixel((0, 0)) == (4, 4, 4)


def test_palette_with_transparency_keeps_its_colours(tmp_path: Path) -> None:
    image = Image.new("P", (10, 10), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    image.info["transparency"] = 0
    path = tmp_path / "p.png"
    image.save(path, transparency=0)
    assert load_rgb(path, border=1).getpixel((0, 0)) == (10, 200, 30)


@pytest.mark.skipif(images_module.pyspng is None, reason="pyspng is not installed")
def test_pyspng_gives_exactly_pillows_pixels(tmp_path: Path) -> None:
    paths = []
    for index, (mode, size) in enumerate([("RGBA", (484, 274)), ("RGB", (301, 199))]):
        path = tmp_path / f"{index}.png"
        framed(*size, seed=index).convert(mode).save(path)
        paths.append(path)
    anchors = anchors_dir()
    if anchors is not None:
        paths += sorted((anchors / "objectnet-samples").glob("*.png"))[:3]
    for path in paths:
        fast = np.asarray(load_rgb(path, 2, decoder="auto"))
        plain = np.asarray(load_rgb(path, 2, decoder="pil"))
        assert np.array_equal(fast, plain), path


def test_find_images_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ["b.PNG", "sub/a.jpg", "sub/deep/c.JpEg", "d.webp", "e.TIFF", "f.bmp", "g.tif"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    for rel in [".hidden.png", ".cache/h.png", "notes.txt", "model.pth"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    names = [p.name for p in find_images(tmp_path)]
    assert names == sorted(names)
    assert set(names) == {"b.PNG", "a.jpg", "c.JpEg", "d.webp", "e.TIFF", "f.bmp", "g.tif"}


def test_duplicate_names_are_refused_naming_both_places(tmp_path: Path) -> None:
    for rel in ["one/x.png", "two/x.png", "y.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    with pytest.raises(ImagesError) as caught:
        find_images(tmp_path)
    message = str(caught.value)
    assert "x.png" in message and str(tmp_path / "one") in message
    assert str(tmp_path / "two") in message and "\n" not in message


def test_empty_and_missing_folders_are_errors(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images")
    with pytest.raises(ImagesError, match="no images in"):
        find_images(tmp_path)
    with pytest.raises(ImagesError, match="does not exist"):
        find_images(tmp_path / "absent")


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    framed(100, 80).save(buffer, format="PNG")
    return buffer.getvalue()[:600]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.png", b"", "empty"),
        ("text.png", b"this is not an image at all", "not an image"),
        ("truncated.png", _truncated_png(), "decode|truncated|not a valid PNG"),
        ("tiny.png", None, "too small"),
        ("huge.png", "huge", "limit"),
    ],
    ids=["empty", "not-an-image", "truncated", "too-small", "over-pixel-limit"],
)
def test_unreadable_images_raise_with_a_reason(tmp_path: Path, name: str, content, reason: str
                                               ) -> None:
    path = tmp_path / name
    if content is None:
        Image.new("RGB", (4, 4)).save(path)
    elif content == "huge":
        Image.new("1", (10000, 9000)).save(path)
    else:
        path.write_bytes(content)
    for decoder in ("auto", "pil"):
        with pytest.raises(UnreadableImage, match=reason):
            load_rgb(path, border=2, decoder=decoder)
