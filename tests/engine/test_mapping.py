"""The ObjectNet class table and the three output conversions, on the real table."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import REPO, anchors_dir

from engine import mapping
from engine.mapping import convert_top5

REPO_ROOT = REPO


def anchors_mappings() -> Path:
    """The official mapping files: ../shared/anchors beside the checkout, or OBJECTNET_ANCHORS
    (a path that does not exist makes the tests below skip)."""
    return (anchors_dir() or Path(os.environ.get("OBJECTNET_ANCHORS", "/nonexistent"))) \
        / "objectnet-mappings"


needs_anchors = pytest.mark.skipif(
    not (anchors_mappings() / "imagenet_pytorch_id_to_objectnet_id.json").is_file(),
    reason=f"official mapping files not at {anchors_mappings()} (set OBJECTNET_ANCHORS)",
)


# --- the table -------------------------------------------------------------------------------

def test_labels_are_the_313_sorted_unique_labels():
    labels = mapping.objectnet_labels()
    assert len(labels) == 313 == len(set(labels))
    assert labels == sorted(labels)
    assert labels[0] == "Air freshener"
    assert labels[312] == "Ziploc bag"


def test_folders_are_distinct_and_differ_from_sorted_folder_order():
    folders = mapping.objectnet_folders()
    assert len(set(folders)) == 313
    assert folders[0] == "air_freshener"
    # ImageFolder numbers classes by sorted folder name, which is not the ObjectNet id.
    assert sum(a != b for a, b in zip(folders, sorted(folders), strict=True)) == 138


def test_imagenet_pairs():
    pairs = mapping.imagenet_to_objectnet()
    assert len(pairs) == 125
    assert len(set(pairs.values())) == 113
    assert pairs[409] == pairs[530] == 1  # analog clock, digital clock -> Alarm clock
    assert mapping.objectnet_labels()[1] == "Alarm clock"
    assert all(0 <= k < 1000 for k in pairs)
    assert all(0 <= v <= 312 for v in pairs.values())


def test_callers_get_copies():
    mapping.objectnet_labels().clear()
    mapping.imagenet_to_objectnet().clear()
    mapping.imagenet_index_tensor().fill_(7)
    assert len(mapping.objectnet_labels()) == 313
    assert len(mapping.imagenet_to_objectnet()) == 125
    assert (mapping.imagenet_index_tensor() == -1).sum().item() == 875


def test_imagenet_index_tensor_matches_pairs():
    index = mapping.imagenet_index_tensor("cpu")
    assert index.shape == (1000,)
    assert index.dtype == torch.int64
    assert (index == -1).sum().item() == 875
    pairs = mapping.imagenet_to_objectnet()
    assert {i: int(v) for i, v in enumerate(index) if v >= 0} == pairs


def test_table_file_has_a_versioned_header():
    data = json.loads(mapping.TABLE_PATH.read_text(encoding="utf-8"))
    assert data["format"] == "objectnet-wizard class table"
    assert data["format_version"] == 1
    assert set(data["sources"]) >= {"folder_to_objectnet_label.json",
                                    "imagenet_pytorch_id_to_objectnet_id.json"}


def test_mapping_and_validate_import_without_torch():
    # The wizard uses them on hosts where torch may be absent.
    code = ("import sys; sys.modules['torch'] = None\n"
            "import engine.mapping as m, engine.validate as v\n"
            "assert len(m.objectnet_labels()) == 313 and len(m.imagenet_to_objectnet()) == 125\n"
            "r = v.validate_rows([['a.png'] + ['1', '0.5'] * 5])\n"
            "assert r['prediction_file_status'] == 'VALIDATED', r\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --- agreement with the official files --------------------------------------------------------

@needs_anchors
def test_table_agrees_with_official_files():
    official = anchors_mappings()
    ids = json.loads((official / "objectnet_id.json").read_text())
    assert mapping.objectnet_labels() == list(ids)
    assert list(ids.values()) == list(range(313))
    folder_to_label = json.loads((official / "folder_to_objectnet_label.json").read_text())
    folders = mapping.objectnet_folders()
    assert dict(zip(folders, mapping.objectnet_labels(), strict=True)) == folder_to_label
    published = json.loads((official / "imagenet_pytorch_id_to_objectnet_id.json").read_text())
    assert mapping.imagenet_to_objectnet() == {int(k): v for k, v in published.items()}
    header = json.loads(mapping.TABLE_PATH.read_text(encoding="utf-8"))["sources"]
    for name, source in header.items():
        assert hashlib.sha256((official / name).read_bytes()).hexdigest() == source["sha256"]


@needs_anchors
def test_table_is_reproducible_from_official_files(tmp_path):
    out = tmp_path / "objectnet.json"
    tool = REPO_ROOT / "tools" / "make_class_table.py"
    done = subprocess.run([sys.executable, str(tool), "--mappings", str(anchors_mappings()),
                           "--output", str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == mapping.TABLE_PATH.read_bytes()


# --- mode 0: outputs are ObjectNet ids ---------------------------------------------------------

def test_mode0_is_plain_top5():
    scores = torch.randn(6, 313, generator=torch.Generator().manual_seed(0))
    ids, confs = convert_top5(scores, 0)
    expected_confs, expected_ids = scores.topk(5, dim=1)
    assert torch.equal(ids, expected_ids)
    assert torch.equal(confs, expected_confs)


def test_mode0_pads_a_model_with_fewer_than_five_outputs():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    ids, confs = convert_top5(scores, 0)
    assert ids.tolist() == [[1, 2, 0, -1, -1], [0, 1, 2, -1, -1]]
    assert confs[:, 3:].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert ids.dtype == torch.int64


@pytest.mark.parametrize("outputs", [0, 314, 1000])
def test_mode0_refuses_outputs_that_cannot_be_objectnet_ids(outputs):
    with pytest.raises(ValueError, match=f"has {outputs}"):
        convert_top5(torch.zeros(2, outputs), 0)


# --- mode 1: the demo's conversion -------------------------------------------------------------

def test_mode1_equals_softmax_topk_then_map():
    logits = torch.randn(16, 1000, generator=torch.Generator().manual_seed(1)) * 4
    probs = logits.softmax(dim=1)
    ids, confs = convert_top5(probs, 1)
    expected_confs, top = probs.topk(5, dim=1)
    pairs = mapping.imagenet_to_objectnet()
    expected_ids = [[pairs.get(i, -1) for i in row] for row in top.tolist()]
    assert ids.tolist() == expected_ids
    assert torch.equal(confs, expected_confs)


def test_mode1_keeps_repeats_and_unmapped_classes():
    scores = torch.zeros(1, 1000)
    for rank, imagenet in enumerate([409, 530, 0, 414, 1]):  # clock, clock, tench, ...
        scores[0, imagenet] = 10.0 - rank
    ids, confs = convert_top5(scores, 1)
    assert ids.tolist() == [[1, 1, -1, 2, -1]]
    assert confs.tolist() == [[10.0, 9.0, 8.0, 7.0, 6.0]]


# --- mode 2: collapse onto the 113 ObjectNet classes -------------------------------------------

def collapse_by_hand(row):
    best = {}
    for imagenet, objectnet in mapping.imagenet_to_objectnet().items():
        best[objectnet] = max(best.get(objectnet, float("-inf")), row[imagenet])
    return sorted(best.items(), key=lambda item: -item[1])


def test_mode2_gives_five_distinct_real_ids_ranked_by_the_max():
    probs = torch.randn(8, 1000, generator=torch.Generator().manual_seed(2)).softmax(dim=1)
    ids, confs = convert_top5(probs, 2)
    for row, row_ids, row_confs in zip(probs.tolist(), ids.tolist(), confs.tolist(), strict=True):
        assert len(set(row_ids)) == 5 and min(row_ids) >= 0
        expected = collapse_by_hand(row)[:5]
        assert row_ids == [objectnet for objectnet, _ in expected]
        assert row_confs == pytest.approx([value for _, value in expected])


def test_mode2_takes_the_max_of_a_class_s_imagenet_scores():
    scores = torch.zeros(1, 1000)
    scores[0, 0] = 0.9  # tench: no ObjectNet class, ignored by mode 2
    scores[0, 409] = 0.2  # analog clock  -> 1
    scores[0, 530] = 0.3  # digital clock -> 1
    scores[0, 414] = 0.25  # backpack -> 2
    ids, confs = convert_top5(scores, 2)
    assert ids[0, :2].tolist() == [1, 2]
    assert confs[0, :2].tolist() == pytest.approx([0.3, 0.25])
    assert convert_top5(scores, 1)[0][0, 0].item() == -1


def test_conversions_keep_dtype_and_drop_autograd():
    scores = torch.randn(3, 1000, dtype=torch.float64, requires_grad=True)
    for mode in (1, 2):
        ids, confs = convert_top5(scores, mode)
        assert confs.dtype == torch.float64 and ids.dtype == torch.int64
        assert not confs.requires_grad
        assert ids.shape == confs.shape == (3, 5)


@pytest.mark.parametrize("mode", [1, 2])
@pytest.mark.parametrize("outputs", [313, 999, 1001])
def test_imagenet_modes_need_1000_outputs(mode, outputs):
    with pytest.raises(ValueError, match=f"needs 1000 outputs, but it has {outputs}"):
        convert_top5(torch.zeros(2, outputs), mode)


@pytest.mark.parametrize(("shape", "mode", "k", "message"), [
    ((1000,), 1, 5, "shape"),
    ((2, 1000), 3, 5, "must be 0, 1 or 2"),
    ((2, 1000), 1, 0, "k must be"),
    ((2, 1000), 2, 114, "at most"),
])
def test_bad_arguments_raise_value_error(shape, mode, k, message):
    with pytest.raises(ValueError, match=message):
        convert_top5(torch.zeros(shape), mode, k)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_conversions_stay_on_the_gpu():
    probs = torch.randn(4, 1000).softmax(dim=1)
    for mode in (1, 2):
        ids, confs = convert_top5(probs.cuda(), mode)
        assert ids.is_cuda and confs.is_cuda
        cpu_ids, cpu_confs = convert_top5(probs, mode)
        assert torch.equal(ids.cpu(), cpu_ids)
        assert torch.allclose(confs.cpu(), cpu_confs)
