"""The engine's speed-ups change no prediction: the standard transform split into uint8 pixels
plus on-device normalisation, the decoder choice, sliced CPU forwards; and the opt-ins report
how far they move predictions (--compare-precision)."""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image
from support import read_rows, run_engine, save_checkpoint

from engine import fastpath
from engine import images as images_module
from engine.config import Config
from engine.devices import Placement
from engine.images import load_rgb
from engine.plugin import build_model, load_transform
from engine.precision import compare
from engine.predict import Predictor
from engine.run import run
from wizard.samples import make_images, photo_like

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def standard(resize=72, crop=64) -> T.Compose:
    return T.Compose([T.Resize(resize), T.CenterCrop(crop), T.ToTensor(),
                      T.Normalize(MEAN, STD)])


def pictures() -> list[Image.Image]:
    """Odd sizes, both orientations, up- and downscaling, and the flat and noisy extremes."""
    rng = np.random.default_rng(3)
    out = [photo_like(w, h, rng).convert("RGB") for w, h in [(484, 274), (274, 484), (61, 47)]]
    out.append(Image.fromarray(rng.integers(0, 256, (90, 130, 3), dtype=np.uint8), "RGB"))
    out.append(Image.new("RGB", (80, 80), (0, 255, 128)))
    return out


def split_output(split: fastpath.StandardTransform, image: Image.Image,
                 lookup: bool = False) -> torch.Tensor:
    normaliser = split.normaliser(torch.device("cpu"), channels_last=False)
    if lookup:
        normaliser.exact_arithmetic = False
    return normaliser(split.pixels(image).unsqueeze(0))[0]


@pytest.mark.parametrize("transform", [
    standard(),
    standard(256, 224),
    T.Compose([T.Resize((40, 50)), T.ToTensor(), T.Normalize(MEAN, STD)]),
    T.Compose([T.Resize(72, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(64),
               T.ToTensor()]),
    T.Compose([T.Compose([T.Resize(72), T.CenterCrop(64)]), T.ToTensor(),
               T.Normalize([0.5], [0.5]), T.Normalize(MEAN, STD)]),
], ids=["resize-crop-normalize", "imagenet-224", "resize-hw", "bicubic-no-normalize",
        "nested-two-normalizes"])
def test_split_is_bit_identical_to_the_whole_transform(transform) -> None:
    split = fastpath.split(transform)
    assert split is not None
    for picture in pictures():
        expected = transform(picture)
        assert torch.equal(split_output(split, picture), expected)
        assert torch.equal(split_output(split, picture, lookup=True), expected)
    assert fastpath.verify(split, transform, fastpath.check_image((480, 270)))


def test_cpu_arithmetic_reproduces_every_byte_value() -> None:
    normaliser = fastpath.split(standard()).normaliser(torch.device("cpu"), channels_last=True)
    assert normaliser.exact_arithmetic
    batch = torch.arange(256, dtype=torch.uint8).view(1, 16, 16, 1).expand(2, 16, 16, 3)
    out = normaliser(batch.contiguous())
    assert out.dtype == torch.float32 and out.shape == (2, 3, 16, 16)
    assert out.is_contiguous(memory_format=torch.channels_last)


class SubclassedCompose(T.Compose):
    pass


class MyNormalize(T.Normalize):
    def forward(self, tensor):
        return super().forward(tensor) * 2


@pytest.mark.parametrize("transform", [
    T.Compose([T.Resize(72), T.CenterCrop(64), T.ToTensor(), T.Lambda(lambda t: t * 255)]),
    T.Compose([T.Resize(72), T.CenterCrop(64), T.RandomHorizontalFlip(), T.ToTensor()]),
    T.Compose([T.Resize(72), T.ToTensor(), T.Normalize(MEAN, STD)]),
    T.Compose([T.ToTensor(), T.Resize(72, antialias=True), T.CenterCrop(64)]),
    T.Compose([T.Resize(72), T.CenterCrop(64), T.ToTensor(), MyNormalize(MEAN, STD)]),
    SubclassedCompose([T.Resize(72), T.CenterCrop(64), T.ToTensor()]),
    T.Compose([T.Resize(72), T.CenterCrop(64), T.Grayscale(3), T.ToTensor()]),
    T.Compose([T.Resize(72), T.CenterCrop(64), T.PILToTensor()]),
    lambda image: T.ToTensor()(image.resize((64, 64))),
], ids=["lambda-after", "random-flip", "no-fixed-size", "tensor-resize", "normalize-subclass",
        "compose-subclass", "grayscale", "pil-to-tensor", "plain-function"])
def test_other_transforms_run_whole_as_written(transform) -> None:
    assert fastpath.split(transform) is None
    loader_transform, normaliser = fastpath.plan(transform, torch.device("cpu"), True)
    assert loader_transform is transform and normaliser is None


def _rows(path: Path) -> dict:
    return {r[0]: ([int(x) for x in r[1::2]], [float(x) for x in r[2::2]])
            for r in read_rows(path)}


@pytest.mark.parametrize("model_class", ["tiny", "resnet18"])
def test_fast_path_gives_the_plain_paths_rows(plugin_dir: Path, images: Path, tmp_path: Path,
                                              model_class: str) -> None:
    checkpoint = save_checkpoint(plugin_dir, model_class, tmp_path / "m.pth", seed=5)
    (images / "broken.png").write_bytes(b"not a png")  # a failure inside a batch, too
    outputs = {}
    try:
        for fast in (True, False):
            config = Config(images_dir=images, output_file=tmp_path / f"{fast}.csv",
                            model_class=model_class, checkpoint=checkpoint,
                            model_dir=plugin_dir, workers=2, batch_size=5, fastpath=fast)
            summary = run(config)
            assert summary.images == 13 and [u[0] for u in summary.unreadable] == ["broken.png"]
            outputs[fast] = _rows(config.output_file)
    finally:
        (images / "broken.png").unlink()
    fast, plain = outputs[True], outputs[False]
    assert list(fast) == list(plain) == sorted(plain)
    for name in plain:
        assert fast[name][0] == plain[name][0], name
        assert fast[name][1] == pytest.approx(plain[name][1], abs=1e-5), name


def test_sliced_cpu_forward_matches_one_whole_batch(plugin_dir: Path) -> None:
    torch.manual_seed(0)
    model = build_model(plugin_dir, "resnet18").eval()
    config = Config(images_dir=Path("."), output_file=Path("x"), model_class="resnet18",
                    checkpoint=Path("x"), model_dir=plugin_dir, batch_size=20)
    model = model.to(memory_format=torch.channels_last)
    placement = Placement(torch.device("cpu"), 0)
    batch = torch.randn(20, 3, 64, 64)
    sliced = Predictor(model, config, placement, channels_last=True)
    whole = Predictor(model, config, placement, channels_last=True)
    whole.chunk = 20
    assert sliced.chunk < 20
    a, b = sliced.scores(batch), whole.scores(batch)
    assert a.shape == (20, 1000)
    assert torch.allclose(a, b, atol=1e-6, rtol=0)
    assert torch.equal(a.topk(5).indices, b.topk(5).indices)


def test_channels_last_keeps_the_tolerance(plugin_dir: Path, images: Path,
                                           tmp_path: Path) -> None:
    checkpoint = save_checkpoint(plugin_dir, "resnet18", tmp_path / "m.pth", seed=6)
    outputs = {}
    for channels_last in (True, False):
        config = Config(images_dir=images, output_file=tmp_path / f"{channels_last}.csv",
                        model_class="resnet18", checkpoint=checkpoint, model_dir=plugin_dir,
                        workers=0, channels_last=channels_last)
        run(config)
        outputs[channels_last] = _rows(config.output_file)
    for name, (ids, confidences) in outputs[False].items():
        assert outputs[True][name][0] == ids
        assert outputs[True][name][1] == pytest.approx(confidences, abs=1e-5)


def _png(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["rgb", "rgba-varying-alpha", "grey", "palette", "16-bit"])
def test_every_decoder_gives_the_same_pixels(tmp_path: Path, kind: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (41, 57, 4), dtype=np.uint8)
    image = {
        "rgb": lambda: Image.fromarray(rgba[:, :, :3], "RGB"),
        "rgba-varying-alpha": lambda: Image.fromarray(rgba, "RGBA"),
        "grey": lambda: Image.fromarray(rgba[:, :, 0], "L"),
        "palette": lambda: Image.fromarray(rgba[:, :, :3], "RGB").quantize(64),
        "16-bit": lambda: Image.fromarray(rgba[:, :, 0].astype(np.uint16) * 257),
    }[kind]()
    path = tmp_path / "x.png"
    path.write_bytes(_png(image))
    reference = np.asarray(load_rgb(path, 2, decoder="pil"))
    assert reference.shape == (37, 53, 3)
    assert np.array_equal(np.asarray(load_rgb(path, 2, decoder="auto")), reference)
    monkeypatch.setattr(images_module, "pyspng", None)  # a stack without pyspng
    assert np.array_equal(np.asarray(load_rgb(path, 2, decoder="auto")), reference)


@pytest.mark.skipif(images_module.pyspng is None, reason="pyspng is not installed")
def test_pyspng_reports_a_corrupt_png_as_unreadable(tmp_path: Path) -> None:
    data = bytearray(_png(photo_like(60, 40, np.random.default_rng(0)), compress_level=1))
    data[60:90] = b"\0" * 30  # inside the image data: the header still says 8-bit RGBA
    path = tmp_path / "corrupt.png"
    path.write_bytes(bytes(data))
    with pytest.raises(images_module.UnreadableImage):
        load_rgb(path, 2, decoder="auto")


def test_compare_precision_reports_agreement_and_writes_nothing(
        plugin_dir: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    make_images(folder, 30, seed=4)
    out = tmp_path / "p.csv"
    result = run_engine(folder, out, "tiny", tiny_checkpoint, "--model-dir", plugin_dir,
                        "--precision", "bf16", "--compare-precision", "--compare-sample", "10",
                        "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "compared fp32 with bf16 on 10 of 30 images" in result.stdout
    assert "top-1 agreement: " in result.stdout and "top-5 agreement: " in result.stdout
    assert not out.exists()

    config = Config(images_dir=folder, output_file=out, model_class="tiny",
                    checkpoint=tiny_checkpoint, model_dir=plugin_dir, workers=0,
                    precision="bf16")
    agreement = compare(config, sample=7)
    assert agreement.images == 7 and agreement.total == 30
    assert 0 <= agreement.top5_same <= agreement.images
    assert agreement.top1_same >= agreement.images - 1  # bf16 rarely moves the first id
    assert agreement.max_confidence_diff < 0.05
    assert agreement.candidate_img_per_s > 0 and agreement.reference_img_per_s > 0
    everything = compare(dataclasses.replace(config, workers=2), sample=100)
    assert everything.images == 30  # a sample larger than the folder is the whole folder


def test_compare_precision_needs_something_to_compare(plugin_dir: Path, tiny_checkpoint: Path,
                                                      images: Path, tmp_path: Path) -> None:
    result = run_engine(images, tmp_path / "p.csv", "tiny", tiny_checkpoint, "--model-dir",
                        plugin_dir, "--compare-precision")
    assert result.returncode == 2
    assert "--precision bf16" in result.stderr and "Traceback" not in result.stderr


def test_plugin_transform_is_fast_pathed(plugin_dir: Path) -> None:
    """The example plug-in's transform (and the tests' 64-pixel one) takes the fast path."""
    from support import REPO

    for folder in (plugin_dir, REPO / "model"):
        transform = load_transform(folder)
        split = fastpath.split(transform)
        assert split is not None
        assert fastpath.verify(split, transform, fastpath.check_image((480, 270)))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(torch, "compile") or shutil.which("g++") is None,
                    reason="torch.compile on the CPU needs torch 2 and a C++ compiler")
def test_compile_keeps_the_rows_and_reports_progress_to_the_end(
        plugin_dir: Path, images: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    outputs, progress = {}, []
    for compiled in (False, True):
        config = Config(images_dir=images, output_file=tmp_path / f"{compiled}.csv",
                        model_class="tiny", checkpoint=tiny_checkpoint, model_dir=plugin_dir,
                        workers=1, batch_size=5, compile=compiled)
        progress.clear()
        run(config, on_progress=lambda done, total: progress.append((done, total)))
        assert progress[0] == (0, 12) and progress[-1] == (12, 12)
        assert [done for done, _ in progress] == sorted(done for done, _ in progress)
        outputs[compiled] = _rows(config.output_file)
    for name, (ids, confidences) in outputs[False].items():
        assert outputs[True][name][0] == ids, name
        assert outputs[True][name][1] == pytest.approx(confidences, abs=1e-5), name


def test_small_loader_batches_gather_into_model_batches(plugin_dir: Path, images: Path,
                                                        tmp_path: Path) -> None:
    """Loader batches (at most 16 images, fewer so every worker has one) are gathered into
    --batch_size model batches, as on a GPU; an unreadable image in between changes nothing."""
    checkpoint = save_checkpoint(plugin_dir, "resnet18", tmp_path / "m.pth", seed=8)
    (images / "sub" / "0-broken.png").write_bytes(b"")
    outputs, progress = {}, []
    try:
        for batch_size, workers in ((7, 2), (96, 0)):
            config = Config(images_dir=images, output_file=tmp_path / f"{batch_size}.csv",
                            model_class="resnet18", checkpoint=checkpoint, model_dir=plugin_dir,
                            workers=workers, batch_size=batch_size, channels_last=False)
            progress.clear()
            run(config, on_progress=lambda done, total: progress.append(done))
            assert progress[-1] == 13 and progress == sorted(progress)
            outputs[batch_size] = _rows(config.output_file)
    finally:
        (images / "sub" / "0-broken.png").unlink()
    gathered, whole = outputs[7], outputs[96]
    assert list(gathered) == list(whole) and len(whole) == 13
    assert gathered["0-broken.png"] == ([-1] * 5, [0.0] * 5)
    for name, (ids, confidences) in whole.items():
        assert gathered[name][0] == ids, name
        assert gathered[name][1] == pytest.approx(confidences, abs=1e-5), name
