#!/usr/bin/env python3
"""Derive engine/data/objectnet.json from the official ObjectNet mapping files.

The engine ships its own small class table rather than the official files, so that one file
holds everything it needs (labels, folder names, the ImageNet-1k -> ObjectNet pairs) and no
code path depends on the working directory. This script is the reproducible derivation: it
chains the official files as documented in the anchors' SOURCES.md and refuses to write
anything unless the chain reproduces the published imagenet_pytorch_id_to_objectnet_id.json
byte for byte.

Usage:
    python tools/make_class_table.py [--mappings DIR] [--output FILE] [--check]

DIR defaults to $OBJECTNET_ANCHORS/objectnet-mappings, else ../shared/anchors/objectnet-mappings
next to the repository. --check compares instead of writing (exit 1 when they differ).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "engine" / "data" / "objectnet.json"
FORMAT_NAME = "objectnet-wizard class table"
FORMAT_VERSION = 1
NUM_OBJECTNET = 313
NUM_IMAGENET = 1000

# Where each official file was published; recorded in the table's header.
ORIGINS = {
    "folder_to_objectnet_label.json": "chriszh4/objectnet-superloader@c766da7b:mappings/",
    "objectnet_to_imagenet_1k.json": "chriszh4/objectnet-superloader@c766da7b:mappings/",
    "pytorch_to_imagenet_2012_id.json": "chriszh4/objectnet-superloader@c766da7b:mappings/",
    "imagenet_to_label_2012_v2": "chriszh4/objectnet-superloader@c766da7b:mappings/",
    "imagenet_pytorch_id_to_objectnet_id.json":
        "abarbu/objectnet-template-pytorch@50cc8860:mapping_files/",
    "objectnet_id.json":
        "abarbu/objectnet-template-tensorflow@ec2a8526:mapping_files/additional_mappping_files/",
}


class TableError(Exception):
    """The official files do not chain the way SOURCES.md says they do."""


def default_mappings_dir() -> Path:
    anchors = os.environ.get("OBJECTNET_ANCHORS")
    base = Path(anchors) if anchors else REPO_ROOT.parent / "shared" / "anchors"
    return base / "objectnet-mappings"


def _require(condition: bool, message: str) -> None:
    # Explicit checks rather than assert: they must hold even under python -O.
    if not condition:
        raise TableError(message)


def build_table(mappings: Path) -> dict:
    """Chain the official files into our table; raise TableError if any step disagrees."""
    raw = {name: (mappings / name).read_bytes() for name in ORIGINS}
    folder_to_label = json.loads(raw["folder_to_objectnet_label.json"])
    objectnet_to_imagenet = json.loads(raw["objectnet_to_imagenet_1k.json"])
    pytorch_to_line = json.loads(raw["pytorch_to_imagenet_2012_id.json"])
    official_ids = json.loads(raw["objectnet_id.json"])
    imagenet_lines = raw["imagenet_to_label_2012_v2"].decode("utf-8").splitlines()

    labels = sorted(folder_to_label.values())
    _require(len(labels) == NUM_OBJECTNET and len(set(labels)) == NUM_OBJECTNET,
             f"expected {NUM_OBJECTNET} distinct ObjectNet labels, got {len(set(labels))}")
    _require(list(official_ids) == labels and list(official_ids.values()) == list(range(313)),
             "objectnet_id.json is not the sorted label list numbered 0..312")
    label_to_folder = {label: folder for folder, label in folder_to_label.items()}
    label_to_id = {label: i for i, label in enumerate(labels)}

    _require(len(imagenet_lines) == NUM_IMAGENET, "imagenet_to_label_2012_v2 needs 1000 lines")
    _require(sorted(pytorch_to_line.values()) == list(range(NUM_IMAGENET))
             and sorted(int(k) for k in pytorch_to_line) == list(range(NUM_IMAGENET)),
             "pytorch_to_imagenet_2012_id.json is not a permutation of 0..999")
    line_to_pytorch = {line: int(index) for index, line in pytorch_to_line.items()}

    # Chain: ObjectNet label -> ImageNet label -> devkit line -> torchvision index -> id.
    # Built as an insertion-ordered dict of string keys so json.dumps can be compared with
    # the published file byte for byte.
    chained: dict[str, int] = {}
    imagenet_label_of: dict[int, str] = {}
    for objectnet_label, imagenet_labels in objectnet_to_imagenet.items():
        _require(objectnet_label in label_to_id, f"unknown ObjectNet label {objectnet_label!r}")
        for imagenet_label in imagenet_labels.split("; "):
            lines = [i for i, text in enumerate(imagenet_lines) if text == imagenet_label]
            _require(len(lines) == 1,
                     f"ImageNet label {imagenet_label!r} is on lines {lines}, need exactly one")
            pytorch_index = line_to_pytorch[lines[0]]
            _require(str(pytorch_index) not in chained,
                     f"ImageNet index {pytorch_index} maps to two ObjectNet classes")
            chained[str(pytorch_index)] = label_to_id[objectnet_label]
            imagenet_label_of[pytorch_index] = imagenet_label

    published = raw["imagenet_pytorch_id_to_objectnet_id.json"].decode("utf-8")
    _require(json.dumps(chained) == published,
             "chaining the official files does not reproduce "
             "imagenet_pytorch_id_to_objectnet_id.json exactly")

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "generated_by": "tools/make_class_table.py",
        "id_rule": "ObjectNet id = index of the label in Python sorted() of the 313 labels",
        "sources": {
            name: {"from": ORIGINS[name], "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in raw.items()
        },
        "imagenet_classes": NUM_IMAGENET,
        "objectnet": [
            {"id": i, "label": label, "folder": label_to_folder[label]}
            for i, label in enumerate(labels)
        ],
        "imagenet_to_objectnet": [
            {"imagenet": index, "objectnet": chained[str(index)],
             "imagenet_label": imagenet_label_of[index]}
            for index in sorted(imagenet_label_of)
        ],
    }


def render(table: dict) -> str:
    """JSON with one class or pair per line: small, readable diffs when sources change."""
    out = ["{"]
    items = list(table.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if isinstance(value, list):
            out.append(f"  {json.dumps(key)}: [")
            out.extend(
                f"    {json.dumps(entry, ensure_ascii=False)}{',' if i < len(value) - 1 else ''}"
                for i, entry in enumerate(value)
            )
            out.append(f"  ]{comma}")
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            out.append(f"  {json.dumps(key)}: {text}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mappings", type=Path, default=None,
                        help="folder holding the official mapping files")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true",
                        help="compare with OUTPUT instead of writing it")
    args = parser.parse_args(argv)
    mappings = args.mappings or default_mappings_dir()
    missing = [name for name in ORIGINS if not (mappings / name).is_file()]
    if missing:
        print(f"error: {mappings} lacks {', '.join(missing)}: pass --mappings DIR or set "
              "OBJECTNET_ANCHORS", file=sys.stderr)
        return 2
    try:
        text = render(build_table(mappings))
    except TableError as e:
        print(f"error: {mappings}: {e}", file=sys.stderr)
        return 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
        if current != text:
            print(f"{args.output} is out of date: run tools/make_class_table.py",
                  file=sys.stderr)
            return 1
        print(f"{args.output} matches {mappings}")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
