"""The standard ImageNet transform, split where the bytes are fewest.

`Resize -> CenterCrop -> ToTensor -> Normalize` turns each picture into 3x224x224 float32
(588 KB) in a loader worker, which then crosses to the main process and to the GPU. Only the
geometric part needs the PIL image; `ToTensor` and `Normalize` are per-pixel functions of one
byte. So the loader workers run the user's own Resize/CenterCrop objects and hand over uint8
pixels (147 KB), and the device turns bytes into the model's input with exactly the user's
arithmetic: a 3x256 table made by running the user's own ToTensor/Normalize on every byte value.

Exactness is checked, not assumed: the table comes from the user's objects; the fast device
arithmetic is used only when it reproduces the table bit for bit on that device (else the
table is looked up); and `verify` compares the split with the whole transform on a test image.
Any other transform runs as the user wrote it.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
from PIL import Image

from engine import compat

try:  # numpy comes with torchvision; the fallback below only needs Pillow and torch.
    import numpy as np

    HAS_NUMPY = True
except ImportError:  # pragma: no cover - numpy-less stacks
    HAS_NUMPY = False

RAMP_SIZE = (256, 1)


def _standard_types():
    """torchvision's (Compose, Resize, CenterCrop, ToTensor, Normalize) classes, or None."""
    try:
        from torchvision import transforms
    except ImportError:  # pragma: no cover - torchvision is a dependency of the plug-in API
        return None
    return (transforms.Compose, transforms.Resize, transforms.CenterCrop, transforms.ToTensor,
            transforms.Normalize)


def _flatten(transform: Any, compose: type) -> Optional[List[Any]]:
    """The steps of a (possibly nested) plain Compose; None for anything else."""
    if type(transform) is not compose:
        return None
    steps: List[Any] = []
    for step in getattr(transform, "transforms", ()):
        if type(step) is compose:
            inner = _flatten(step, compose)
            if inner is None:
                return None
            steps.extend(inner)
        else:
            steps.append(step)
    return steps


class _Steps:
    """Steps applied in order: a Compose that may be empty and pickles without torchvision's
    help (loader workers may be spawned, not forked)."""

    def __init__(self, steps: Sequence[Any]) -> None:
        self.steps = list(steps)

    def __call__(self, value: Any) -> Any:
        for step in self.steps:
            value = step(value)
        return value


class StandardTransform:
    """The user's transform split into geometry (PIL -> PIL, in loader workers) and a
    per-byte table (on the device)."""

    def __init__(self, geometry: Sequence[Any], normalize: Sequence[Any],
                 table: torch.Tensor) -> None:
        self.geometry = _Steps(geometry)
        self.normalize_steps = list(normalize)
        self.table = table
        """(3, 256) float32: the user's ToTensor+Normalize value of each byte, per channel."""

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """The loader workers' half: the user's Resize/CenterCrop, then HxWx3 uint8."""
        image = self.geometry(image)
        if image.mode != "RGB":  # pragma: no cover - Resize/CenterCrop keep the mode
            image = image.convert("RGB")
        return to_uint8(image)

    def normaliser(self, device: torch.device, channels_last: bool) -> "Normaliser":
        return Normaliser(self, device, channels_last)


def to_uint8(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as an HxWx3 uint8 tensor."""
    width, height = image.size
    if HAS_NUMPY:
        return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True))
    data = bytearray(image.tobytes())
    flat = (torch.frombuffer(data, dtype=torch.uint8) if compat.HAS_FROMBUFFER
            else torch.tensor(list(data), dtype=torch.uint8))
    return flat.view(height, width, 3)


def _ramp() -> Image.Image:
    """A 256x1 RGB image whose pixel i is (i, i, i): every byte value in every channel."""
    return Image.frombytes("RGB", RAMP_SIZE, bytes(v for i in range(256) for v in (i, i, i)))


def split(transform: Callable[[Any], Any]) -> Optional[StandardTransform]:
    """The fast split of `transform`, or None when it is not the standard one.

    Standard means a plain torchvision Compose (nested ones too) of Resize/CenterCrop steps,
    then ToTensor, then zero or more Normalize, where the geometry gives a fixed size (the last
    geometric step is a CenterCrop or a Resize to height and width). Subclasses do not count:
    they may behave differently.
    """
    types = _standard_types()
    if types is None:
        return None
    compose, resize, center_crop, to_tensor, normalize = types
    steps = _flatten(transform, compose)
    if not steps:
        return None
    position = 0
    while position < len(steps) and type(steps[position]) in (resize, center_crop):
        position += 1
    geometry, tail = steps[:position], steps[position:]
    if not tail or type(tail[0]) is not to_tensor:
        return None
    if any(type(step) is not normalize for step in tail[1:]):
        return None
    last = geometry[-1] if geometry else None
    size = getattr(last, "size", None)
    fixed = type(last) is center_crop or (isinstance(size, (list, tuple)) and len(size) == 2)
    if not fixed:
        return None
    try:
        values = _Steps(tail)(_ramp())
    except Exception:
        return None
    if not isinstance(values, torch.Tensor) or values.dtype != torch.float32 or tuple(
            values.shape) != (3, 1, 256):
        return None
    return StandardTransform(geometry, tail[1:], values[:, 0, :].contiguous())


def verify(standard: StandardTransform, transform: Callable[[Any], Any],
           image: Image.Image) -> bool:
    """True when the split gives exactly the whole transform's tensor for `image`."""
    try:
        expected = transform(image)
        fast = standard.normaliser(torch.device("cpu"), channels_last=False)(
            standard.pixels(image).unsqueeze(0))[0]
    except Exception:
        return False
    return isinstance(expected, torch.Tensor) and expected.shape == fast.shape and bool(
        torch.equal(expected, fast))


def check_image(size: Sequence[int]) -> Image.Image:
    """A deterministic image with every kind of local change (noise, gradients, edges), for
    `verify`: a flat colour would hide resampling differences."""
    width, height = size
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height)).rotate(30)
    data = bytes((x * 7 + y * 13 + (x * y) % 29) % 256 for y in range(height) for x in range(width))
    blue = Image.frombytes("L", (width, height), data)
    return Image.merge("RGB", (red, green, blue))


class Normaliser:
    """uint8 NxHxWx3 batches on `device` -> the model's float32 NxCxHxW input, bit-identical to
    the user's ToTensor+Normalize. Channels-last output is free: it is the bytes' own layout."""

    def __init__(self, standard: StandardTransform, device: torch.device,
                 channels_last: bool) -> None:
        self.device = device
        self.channels_last = channels_last
        self.flat_table = standard.table.to(device).reshape(-1)
        self.offsets = torch.arange(3, device=device) * 256
        self.means = []
        self.stds = []
        for step in standard.normalize_steps:
            self.means.append(torch.as_tensor(step.mean, dtype=torch.float32,
                                              device=device).view(1, -1, 1, 1))
            self.stds.append(torch.as_tensor(step.std, dtype=torch.float32,
                                             device=device).view(1, -1, 1, 1))
        ramp = torch.arange(256, dtype=torch.uint8).view(1, 1, 256, 1).expand(1, 1, 256, 3)
        ramp = ramp.contiguous().to(device)
        try:
            arithmetic = self._arithmetic(ramp)[0, :, 0, :]
            self.exact_arithmetic = bool(torch.equal(arithmetic, standard.table.to(device)))
        except RuntimeError:
            self.exact_arithmetic = False

    def _arithmetic(self, batch: torch.Tensor) -> torch.Tensor:
        # The operations of ToTensor (float, /255) and Normalize (-mean, /std), in their order.
        images = batch.permute(0, 3, 1, 2).to(torch.float32).div_(255)
        for mean, std in zip(self.means, self.stds):
            images = images.sub_(mean).div_(std)
        return images

    def _lookup(self, batch: torch.Tensor) -> torch.Tensor:
        return self.flat_table[batch.long() + self.offsets].permute(0, 3, 1, 2)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        images = self._arithmetic(batch) if self.exact_arithmetic else self._lookup(batch)
        if self.channels_last:
            return images.contiguous(memory_format=torch.channels_last)
        return images.contiguous()


def plan(transform: Callable[[Any], Any], device: torch.device, channels_last: bool,
         enabled: bool = True, check_size: Sequence[int] = (480, 270)
         ) -> Tuple[Callable[[Any], Any], Optional[Normaliser]]:
    """(what the loader workers apply to each RGB image, the device-side normaliser or None).

    The standard transform is split when `enabled` and the split is verified exact on a test
    image of `check_size`; anything else runs whole in the workers, as the user wrote it.
    """
    standard = split(transform) if enabled else None
    if standard is None or not verify(standard, transform, check_image(check_size)):
        return transform, None
    return standard.pixels, standard.normaliser(device, channels_last)
