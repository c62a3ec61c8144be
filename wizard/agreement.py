"""Whether two predictions.csv files agree: the built image's and the local run's.

The image may run another torch than this machine,
and floating point sums come out slightly different across torch versions, CPU kernels and
GPUs, so bit-identical output is not expected. Two confidences *agree* when they differ by at
most `abs + rel * max(|a|, |b|)` (see TOLERANCES; fp32 allows 0.5 %, enough for TF32
convolutions on a GPU against a CPU). For every image and every rank 1-5:

- the two confidences at that rank must agree;
- the ids must be equal, unless the rank's confidence agrees (in both runs) with that of a
  neighbouring rank: then the two classes are tied and rounding may order them either way.
  Rank 5 may also be tied with the unseen rank 6, so at rank 5 agreeing confidences suffice.

Anything else is a mismatch, reported with the image names; both runs must also cover the
same images.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

from wizard.errors import SmokeError

TOP_K = 5
SHOWN_MISMATCHES = 5


@dataclass(frozen=True)
class Tolerance:
    """Two confidences agree when |a - b| <= abs + rel * max(|a|, |b|)."""

    rel: float
    abs: float

    def agree(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.abs + self.rel * max(abs(a), abs(b))


TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(rel=5e-3, abs=1e-5),
    "fp16": Tolerance(rel=2e-2, abs=1e-4),
    "bf16": Tolerance(rel=5e-2, abs=1e-3),
}


@dataclass(frozen=True)
class RowDifference:
    """Where one image's predictions differ beyond rounding; rank counts from 1."""

    name: str
    rank: int
    local_id: int
    image_id: int
    local_confidence: float
    image_confidence: float

    def describe(self) -> str:
        if self.local_id == self.image_id:
            return (f"{self.name} rank {self.rank}: id {self.local_id} with confidence "
                    f"{self.local_confidence:.6g} here but {self.image_confidence:.6g} in the "
                    "image")
        return (f"{self.name} rank {self.rank}: id {self.local_id} ({self.local_confidence:.6g})"
                f" here but {self.image_id} ({self.image_confidence:.6g}) in the image")


@dataclass(frozen=True)
class Comparison:
    rows: int
    """Images in both runs."""
    top1_agree: int
    """Images whose first id is the same in both runs."""
    top5_agree: int
    """Images whose five ids are the same in both runs (in any order)."""
    ties: tuple[str, ...]
    """Images whose ids differ only where confidences are tied."""
    mismatches: tuple[RowDifference, ...]
    """The first difference beyond rounding of each image that has one."""
    missing: tuple[str, ...] = ()
    """Images the local run predicted and the image did not."""
    extra: tuple[str, ...] = ()
    """Images the image predicted and the local run did not."""

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.missing or self.extra)

    def problems(self, limit: int = SHOWN_MISMATCHES) -> list[str]:
        out = [difference.describe() for difference in self.mismatches[:limit]]
        if len(self.mismatches) > limit:
            out.append(f"... and {len(self.mismatches) - limit} more images")
        if self.missing:
            out.append(f"missing from the image's predictions: {', '.join(self.missing[:limit])}"
                       + (" ..." if len(self.missing) > limit else ""))
        if self.extra:
            out.append(f"only in the image's predictions: {', '.join(self.extra[:limit])}"
                       + (" ..." if len(self.extra) > limit else ""))
        return out


Row = tuple[list[int], list[float]]


def read_predictions(path: str | PathLike[str]) -> dict[str, Row]:
    """predictions.csv as {image name: (ids, confidences)}; the file must be valid."""
    rows: dict[str, Row] = {}
    with open(path, encoding="utf-8", newline="") as stream:
        for line, row in enumerate(csv.reader(stream), start=1):
            try:
                ids = [int(row[1 + 2 * k]) for k in range(TOP_K)]
                confidences = [float(row[2 + 2 * k]) for k in range(TOP_K)]
            except (IndexError, ValueError) as error:
                raise SmokeError(f"{path} line {line} is not a predictions row: check it with "
                                 "python -m engine.validate") from error
            rows[row[0].rsplit("/", 1)[-1]] = (ids, confidences)
    return rows


def _tied_with_neighbour(confidences: Sequence[float], rank: int, tolerance: Tolerance) -> bool:
    if rank == TOP_K - 1:
        return True  # the unseen rank 6 may hold the other class at the same score
    neighbours = [rank - 1, rank + 1]
    return any(0 <= n < TOP_K and tolerance.agree(confidences[rank], confidences[n])
               for n in neighbours)


def _first_difference(name: str, local: Row, image: Row,
                      tolerance: Tolerance) -> tuple[RowDifference | None, bool]:
    """The first difference beyond rounding, and whether ids differed within ties."""
    (local_ids, local_conf), (image_ids, image_conf) = local, image
    tie = False
    for rank in range(TOP_K):
        difference = RowDifference(name, rank + 1, local_ids[rank], image_ids[rank],
                                   local_conf[rank], image_conf[rank])
        if not tolerance.agree(local_conf[rank], image_conf[rank]):
            return difference, tie
        if local_ids[rank] != image_ids[rank]:
            if (_tied_with_neighbour(local_conf, rank, tolerance)
                    and _tied_with_neighbour(image_conf, rank, tolerance)):
                tie = True
            else:
                return difference, tie
    return None, tie


def compare_predictions(local: str | PathLike[str], image: str | PathLike[str],
                        tolerance: Tolerance | str = "fp32") -> Comparison:
    """Compare two predictions.csv files by the rule in this module's docstring."""
    rule = TOLERANCES[tolerance] if isinstance(tolerance, str) else tolerance
    mine, theirs = read_predictions(local), read_predictions(image)
    common = [name for name in mine if name in theirs]
    mismatches: list[RowDifference] = []
    ties: list[str] = []
    top1 = top5 = 0
    for name in sorted(common):
        a, b = mine[name], theirs[name]
        top1 += a[0][0] == b[0][0]
        top5 += sorted(a[0]) == sorted(b[0])
        difference, tie = _first_difference(name, a, b, rule)
        if difference is not None:
            mismatches.append(difference)
        elif tie:
            ties.append(name)
    return Comparison(
        rows=len(common), top1_agree=top1, top5_agree=top5, ties=tuple(ties),
        mismatches=tuple(mismatches),
        missing=tuple(sorted(name for name in mine if name not in theirs)),
        extra=tuple(sorted(name for name in theirs if name not in mine)),
    )
