"""Building the model without its random initialisation gives bit-identical weights and
predictions to the demo's build-then-copy, on the demo's and torchvision's architectures; a
class whose __init__ needs real values is detected and built the plain way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support import REPO

from engine import compat, mapped, weights
from engine.config import Config
from engine.plugin import build_model

pytestmark = pytest.mark.skipif(not compat.HAS_META_INIT,
                                reason="this torch has no meta-device load (torch 2.1+)")

TORCHVISION = '''
import torch
import torch.nn as nn
from torchvision import models


def mobilenet_v3_small():
    return models.mobilenet_v3_small()


def efficientnet_b0():
    return models.efficientnet_b0()


def densenet121():
    return models.densenet121()


def swin_t():
    return models.swin_t()


def convnext_tiny():
    return models.convnext_tiny()


def regnet_y_400mf():
    return models.regnet_y_400mf()


def vit_b_32():
    return models.vit_b_32()


class derived_buffer(nn.Module):
    """A non-persistent buffer (not in the checkpoint) computed from the parameters."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 1000)
        self.register_buffer("scale", self.fc.weight.detach().abs().mean(dim=1),
                             persistent=False)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)).repeat(1, 4)) * self.scale


class constant_buffer(nn.Module):
    """A non-persistent buffer made from constants (rotary tables, position indices)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)
        self.register_buffer("ramp", torch.arange(1000.0) / 1000, persistent=False)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3))) + self.ramp


class tied(nn.Module):
    """Two layers sharing one weight tensor."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3, bias=False)
        self.b = nn.Linear(3, 3, bias=False)
        self.b.weight = self.a.weight
        self.head = nn.Linear(3, 1000)

    def forward(self, x):
        return self.head(self.b(self.a(x.mean(dim=(2, 3)))))


class plain_attribute(nn.Module):
    """A tensor kept as an ordinary attribute, neither parameter nor buffer."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)
        self.offset = torch.linspace(-1, 1, 1000)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3))) + self.offset


class reads_a_value(nn.Module):
    """An __init__ that reads a number out of its fresh weights."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)
        self.gain = float(self.fc.weight.detach().abs().max())

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3))) * self.gain


CALLS = []


class counts_calls(nn.Module):
    """Notes the device and batch size of every forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)

    def forward(self, x):
        CALLS.append((x.device.type, x.shape[0]))
        return self.fc(x.mean(dim=(2, 3)))


class caches_on_first_use(nn.Module):
    """Makes a table on its first forward and keeps it (rotary and position caches)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)
        self.table = None

    def forward(self, x):
        if self.table is None:
            self.table = torch.linspace(-1, 1, 1000, device=x.device)
        return self.fc(x.mean(dim=(2, 3))) + self.table


class looks_at_values(nn.Module):
    """A forward that reads a value: it cannot run on shapes alone."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1000)

    def forward(self, x):
        if float(x.abs().max()) > 100:
            raise ValueError("input out of range")
        return self.fc(x.mean(dim=(2, 3)))
'''

TRANSFORM = '''
import torchvision.transforms as transforms


class data_transform:
    def getTransform(self):
        return transforms.Compose([transforms.Resize(224), transforms.CenterCrop(224),
                                   transforms.ToTensor()])
'''

FALLBACKS = {
    "derived_buffer": "non-persistent buffer 'scale'",
    "constant_buffer": "non-persistent buffer 'ramp'",
    "tied": "are tied",
    "plain_attribute": "plain attribute",
    "reads_a_value": "fails without real weight values",
    "regnet_y_400mf": "fails without real weight values",  # widths computed with tensors
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    (folder / "model_description.py").write_text(TORCHVISION.lstrip())
    (folder / "data_transform_description.py").write_text(TRANSFORM.lstrip())
    return folder


def _checkpoint(model_dir: Path, name: str, path: Path, **convert) -> Path:
    torch.manual_seed(7)
    model = build_model(model_dir, name)
    state = {k: v.to(**convert) if convert and v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    torch.save(state, str(path))
    return path


def _both(model_dir: Path, name: str, path: Path) -> tuple:
    """(the plain build, the fast build, what the fast build said), each after one seed."""
    config = Config(images_dir=Path("."), output_file=Path("x.csv"), model_class=name,
                    checkpoint=path, model_dir=model_dir)
    said: list[str] = []
    torch.manual_seed(11)
    plain = weights.load_model(Config(**{**config.__dict__, "fast_load": False}))
    torch.manual_seed(11)
    fast = weights.load_model(config, said.append)
    return plain.eval(), fast.eval(), said


def _assert_identical(plain: torch.nn.Module, fast: torch.nn.Module, size: int = 224) -> None:
    for kind in ("named_parameters", "named_buffers"):
        left, right = dict(getattr(plain, kind)()), dict(getattr(fast, kind)())
        assert list(left) == list(right)
        for key in left:
            assert left[key].dtype == right[key].dtype, key
            assert right[key].is_contiguous(), key
            assert torch.equal(left[key], right[key]), key
    torch.manual_seed(0)
    batch = torch.rand(1, 3, size, size)
    with torch.no_grad():
        assert torch.equal(plain(batch), fast(batch))


def test_the_demo_resnet50_is_bit_identical_without_its_initialisation(tmp_path: Path) -> None:
    model_dir = REPO / "model"
    path = _checkpoint(model_dir, "resnet50", tmp_path / "r50.pth")
    plain, fast, said = _both(model_dir, "resnet50", path)
    assert said == []
    _assert_identical(plain, fast)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_b0", "densenet121",
                                  "swin_t", "convnext_tiny", "vit_b_32"])
def test_torchvision_architectures_are_bit_identical(zoo: Path, tmp_path: Path,
                                                     name: str) -> None:
    path = _checkpoint(zoo, name, tmp_path / "w.pth")
    plain, fast, said = _both(zoo, name, path)
    assert said == []
    _assert_identical(plain, fast)


@pytest.mark.parametrize("name", sorted(FALLBACKS))
def test_a_class_that_needs_real_values_falls_back_to_the_plain_build(
        zoo: Path, tmp_path: Path, name: str) -> None:
    path = _checkpoint(zoo, name, tmp_path / "w.pth")
    plain, fast, said = _both(zoo, name, path)
    assert len(said) == 1 and FALLBACKS[name] in said[0], said
    assert "random initialisation" in said[0]
    _assert_identical(plain, fast, size=32)


def test_the_derived_buffer_is_computed_as_the_plain_build_computes_it(
        zoo: Path, tmp_path: Path) -> None:
    """Not merely present: the fallback must give the buffer the value __init__ gives it."""
    path = _checkpoint(zoo, "derived_buffer", tmp_path / "w.pth")
    plain, fast, _ = _both(zoo, "derived_buffer", path)
    assert not fast.scale.is_meta
    assert torch.equal(fast.scale, plain.scale)


@pytest.mark.parametrize("convert", [{"dtype": torch.float16}, {"dtype": torch.bfloat16}])
def test_a_half_precision_checkpoint_becomes_the_same_fp32_weights(
        zoo: Path, tmp_path: Path, convert: dict) -> None:
    path = _checkpoint(zoo, "mobilenet_v3_small", tmp_path / "half.pth", **convert)
    plain, fast, said = _both(zoo, "mobilenet_v3_small", path)
    assert said == [] and next(fast.parameters()).dtype == torch.float32
    _assert_identical(plain, fast)


def test_non_contiguous_checkpoint_tensors_become_contiguous_weights(zoo: Path) -> None:
    torch.manual_seed(7)
    state = build_model(zoo, "plain_attribute").state_dict()
    state["fc.weight"] = state["fc.weight"].t().contiguous().t()  # same values, transposed
    assert not state["fc.weight"].is_contiguous()
    config = Config(images_dir=Path("."), output_file=Path("x.csv"),
                    model_class="plain_attribute", checkpoint=Path("unused"), model_dir=zoo)
    model = weights.assign(weights._build_on_meta(config), state)
    assert model.fc.weight.is_contiguous()
    assert torch.equal(model.fc.weight, state["fc.weight"])


def _mapped_from(tensor: torch.Tensor, path: Path) -> bool:
    """True when `tensor`'s memory lies in a mapping of the file `path` (/proc/self/maps)."""
    address = tensor.data_ptr()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == str(path):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if start <= address < end:
                    return True
    return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_the_fast_build_maps_the_checkpoint_instead_of_copying_it(zoo: Path,
                                                                  tmp_path: Path) -> None:
    path = _checkpoint(zoo, "mobilenet_v3_small", tmp_path / "w.pth")
    _, fast, _ = _both(zoo, "mobilenet_v3_small", path)
    assert _mapped_from(fast.classifier[0].weight, path) == compat.HAS_MMAP_LOAD


def test_safetensors_weights_are_identical_and_aligned(zoo: Path, tmp_path: Path) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    torch.manual_seed(7)
    state = build_model(zoo, "mobilenet_v3_small").state_dict()
    path = tmp_path / "w.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    plain, fast, said = _both(zoo, "mobilenet_v3_small", path)
    assert said == []
    _assert_identical(plain, fast)
    for key, value in fast.state_dict().items():
        assert torch.equal(value, state[key]), key
    # safetensors packs tensors at 8-byte offsets: unaligned ones are copied to alignment.
    assert all(t.data_ptr() % weights.ALIGNMENT == 0 for t in fast.parameters())


def _run(zoo: Path, name: str, images: Path, output: Path, fast: bool) -> list:
    from engine.run import run

    torch.manual_seed(7)
    checkpoint = output.with_suffix(".pth")
    if not checkpoint.exists():
        torch.save(build_model(zoo, name).state_dict(), str(checkpoint))
    said: list[str] = []
    run(Config(images_dir=images, output_file=output, model_class=name, checkpoint=checkpoint,
               model_dir=zoo, workers=0, gpus=0, overwrite=True, fast_load=fast), log=said.append)
    return said


def test_the_start_up_check_runs_on_shapes_alone_with_the_fast_build(
        zoo: Path, images: Path, tmp_path: Path) -> None:
    from engine.plugin import load_model_module

    calls = load_model_module(zoo).CALLS
    calls.clear()
    _run(zoo, "counts_calls", images, tmp_path / "fast.csv", fast=True)
    assert calls == [("meta", 1), ("cpu", 12)]
    calls.clear()
    _run(zoo, "counts_calls", images, tmp_path / "plain.csv", fast=False)
    assert calls == [("cpu", 1), ("cpu", 12)]
    assert (tmp_path / "fast.csv").read_text() == (tmp_path / "plain.csv").read_text()


@pytest.mark.parametrize("name,said", [("caches_on_first_use", "plain attribute"),
                                       ("looks_at_values", None)])
def test_a_forward_that_needs_values_or_leaves_a_cache_still_gives_the_same_rows(
        zoo: Path, images: Path, tmp_path: Path, name: str, said) -> None:
    """A cache made during the shapes-only check would be a meta tensor: the model is then
    built the plain way; a forward that reads values gets the real check."""
    lines = _run(zoo, name, images, tmp_path / "fast.csv", fast=True)
    _run(zoo, name, images, tmp_path / "plain.csv", fast=False)
    fallbacks = [line for line in lines if "random initialisation" in line]
    assert (said in fallbacks[0]) if said else fallbacks == []
    assert (tmp_path / "fast.csv").read_text() == (tmp_path / "plain.csv").read_text()


def test_a_checkpoint_saved_from_a_wrapper_is_fitted_in_the_fast_build_too(
        zoo: Path, tmp_path: Path) -> None:
    torch.manual_seed(7)
    state = build_model(zoo, "mobilenet_v3_small").state_dict()
    path = tmp_path / "wrapped.pth"
    torch.save({"net." + key: value for key, value in state.items()}, str(path))
    plain, fast, said = _both(zoo, "mobilenet_v3_small", path)
    assert len(said) == 1 and "net." in said[0], said
    _assert_identical(plain, fast)


def test_a_run_with_channels_last_weights_from_the_mapped_checkpoint_gives_the_same_rows(
        zoo: Path, images: Path, tmp_path: Path) -> None:
    """The CPU's channels_last copies are made from the mapped checkpoint, whose pages are
    given back as they go: the rows are those of the demo's build-then-copy."""
    lines = _run(zoo, "mobilenet_v3_small", images, tmp_path / "fast.csv", fast=True)
    _run(zoo, "mobilenet_v3_small", images, tmp_path / "plain.csv", fast=False)
    assert not [line for line in lines if "random initialisation" in line]
    assert (tmp_path / "fast.csv").read_text() == (tmp_path / "plain.csv").read_text()


releases = pytest.mark.skipif(
    not (compat.HAS_MMAP_LOAD and Path("/proc/self/pagemap").exists()),
    reason="needs torch.load(mmap=True) and Linux's page tables")


@releases
def test_channels_last_gives_back_the_mapped_pages_of_the_weights_it_copies(
        zoo: Path, tmp_path: Path) -> None:
    path = _checkpoint(zoo, "mobilenet_v3_small", tmp_path / "w.pth")
    plain, fast, _ = _both(zoo, "mobilenet_v3_small", path)
    weights_before = list(fast.parameters()) + list(fast.buffers())
    assert all(_mapped_from(t, path) for t in weights_before if t.numel())
    with torch.no_grad():
        sum(float(t.sum()) for t in weights_before)  # every page of them resident
    spans = [(t.data_ptr(), t.numel() * t.element_size()) for t in weights_before]
    before = mapped.resident(path)
    plain.to(memory_format=torch.channels_last)
    mapped.to_channels_last(fast, path)
    weights_after = list(fast.parameters()) + list(fast.buffers())
    still = {t.data_ptr() for t in weights_after}
    copied_bytes = sum(size for address, size in spans if address not in still)
    assert copied_bytes, "mobilenet has 3x3 convolutions, which channels_last copies"
    kept_bytes = sum(t.numel() * t.element_size() for t in weights_after
                     if _mapped_from(t, path))
    edges = 2 * mapped.PAGE * len(spans)  # pages shared with a neighbour stay
    assert before - mapped.resident(path) >= copied_bytes - edges
    assert mapped.resident(path) <= kept_bytes + edges
    converted = fast.state_dict()
    for name, left in plain.state_dict().items():
        right = converted[name]
        assert left.stride() == right.stride(), name
        assert torch.equal(left, right), name
    torch.manual_seed(0)
    batch = torch.rand(2, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(plain(batch), fast(batch))


@releases
def test_a_mapped_weight_written_in_place_is_never_given_back(zoo: Path,
                                                               tmp_path: Path) -> None:
    """A write made the page this process's own (copy-on-write): dropping it would lose the
    write, where dropping a clean page only means reading it from the file again."""
    path = _checkpoint(zoo, "mobilenet_v3_small", tmp_path / "w.pth")
    state = torch.load(str(path), map_location="cpu", mmap=True, weights_only=True)
    written, clean = state["classifier.0.weight"], state["classifier.3.weight"]
    expected_written, expected_clean = written.clone() + 1, clean.clone()
    written.add_(1)
    pages = mapped.MappedFile(path)
    pages.release(written)
    assert pages.released == 0
    pages.release(clean)
    assert pages.released >= clean.numel() * clean.element_size() - 2 * mapped.PAGE
    assert torch.equal(written, expected_written)
    assert torch.equal(clean, expected_clean)
