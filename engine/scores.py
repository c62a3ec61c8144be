"""Scores for every applicable conversion from one forward pass (``--score``).

A model with 1,000 ImageNet outputs can be converted to ObjectNet ids two ways (modes 1 and 2,
see engine/mapping.py), and which one scores better depends on the model. When the images
carry labels (engine/labels.py), the engine converts each batch's scores both ways on the
device and counts top-1 and top-5 hits for each, so one run answers the question; the CSV
still holds the configured mode only. A model that outputs ObjectNet ids (mode 0) is scored as
it is. Accuracies are percentages of all labelled images, as the scorer reports them:
unreadable images count as wrong. Top-1 hits are also counted per ObjectNet class, for each
conversion, so a report can show both conversions class by class without a second pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from engine import mapping

MODE_NAMES = {0: "the model's own ids", 1: "ImageNet top-5 mapped, as the demo did",
              2: "ImageNet scores collapsed onto ObjectNet"}
UNLABELLED = -2
"""Label of an image the labels do not name; matches no id, not even -1."""


@dataclass(frozen=True)
class ModeScore:
    mode: int
    top1: int
    top5: int
    total: int
    class_top1: Tuple[int, ...] = ()
    """Top-1 hits per ObjectNet id (index = id), 313 long; empty where not counted."""

    @property
    def accuracy(self) -> float:
        return 100.0 * self.top1 / self.total if self.total else 0.0

    @property
    def top5_accuracy(self) -> float:
        return 100.0 * self.top5 / self.total if self.total else 0.0


@dataclass(frozen=True)
class Scores:
    """Top-1/top-5 of each conversion on the labelled images of one run."""

    source: str
    """Where the labels came from, e.g. "ObjectNet class folders"."""
    modes: Tuple[ModeScore, ...]
    written_mode: int
    """The conversion predictions.csv holds."""
    class_images: Tuple[int, ...] = ()
    """Labelled images per ObjectNet id (index = id), 313 long."""

    def per_class(self) -> List[Dict[str, object]]:
        """For each class present: its id, images, and top-1 hits and accuracy (%) of every
        conversion, keyed by mode as a string (as in as_dict)."""
        out: List[Dict[str, object]] = []
        for cls, images in enumerate(self.class_images):
            if not images:
                continue
            hits = {str(s.mode): s.class_top1[cls] for s in self.modes if s.class_top1}
            out.append({"id": cls, "images": images, "top1_hits": hits,
                        "top1_accuracy": {mode: 100.0 * n / images
                                          for mode, n in hits.items()}})
        return out

    @property
    def labelled(self) -> int:
        return self.modes[0].total if self.modes else 0

    def best(self) -> Optional[ModeScore]:
        """The conversion with the most top-1 hits (then top-5); None on a tie."""
        ranked = sorted(self.modes, key=lambda s: (s.top1, s.top5), reverse=True)
        if not ranked:
            return None
        if len(ranked) > 1 and (ranked[0].top1, ranked[0].top5) == (ranked[1].top1,
                                                                    ranked[1].top5):
            return None
        return ranked[0]

    def lines(self) -> List[str]:
        parts = ["mode %d (%s) top-1 %.1f%%, top-5 %.1f%%"
                 % (s.mode, MODE_NAMES[s.mode], s.accuracy, s.top5_accuracy)
                 for s in self.modes]
        out = ["score on %d labelled images (%s): %s"
               % (self.labelled, self.source, "; ".join(parts))]
        if len(self.modes) > 1:
            best = self.best()
            if best is None:
                out.append("modes %s score the same on these images; predictions.csv holds "
                           "mode %d" % (" and ".join(str(s.mode) for s in self.modes),
                                        self.written_mode))
            else:
                out.append(
                    "mode %d scores better: it is picked by convert_outputs_mode = %d in the "
                    "wizard's answers (engine: --convert_outputs_mode %d); predictions.csv "
                    "holds mode %d" % (best.mode, best.mode, best.mode, self.written_mode))
        return out

    def as_dict(self) -> Dict[str, object]:
        best = self.best()
        return {
            "source": self.source,
            "labelled_images": self.labelled,
            "written_mode": self.written_mode,
            "best_mode": best.mode if best is not None else None,
            "modes": {str(s.mode): {"accuracy": s.accuracy, "top5_accuracy": s.top5_accuracy,
                                    "top1_hits": s.top1, "top5_hits": s.top5}
                      for s in self.modes},
            "per_class": self.per_class(),
        }


Counts = Dict[int, Tuple[int, ...]]
"""{mode: (top-1 hits, top-5 hits, top-1 hits of ObjectNet id 0, ..., of id 312)}."""


def class_totals(labels: Sequence[int]) -> Tuple[int, ...]:
    """Images per ObjectNet id (index = id); labels outside 0..312 name no class."""
    totals = [0] * mapping.NUM_OBJECTNET_CLASSES
    for label in labels:
        if 0 <= label < mapping.NUM_OBJECTNET_CLASSES:
            totals[label] += 1
    return tuple(totals)


class Tally:
    """Hit counters per conversion, kept on the device so counting never waits for it.

    `labels` are those of the run's images in order; `all_labels` (default: the same) are
    every label the source names, images missing from the run included, which set the
    totals (missing images count as wrong, as the scorer counts them)."""

    def __init__(self, labels: Sequence[int], source: str, written_mode: int,
                 all_labels: Optional[Sequence[int]] = None) -> None:
        self.labels = torch.tensor(list(labels), dtype=torch.int64)
        every = ([label for label in labels if label != UNLABELLED] if all_labels is None
                 else list(all_labels))
        self.total = len(every)
        self.class_images = class_totals(every)
        self.source = source
        self.written_mode = written_mode
        self.hits: Dict[int, torch.Tensor] = {}
        self._device_labels: Optional[torch.Tensor] = None
        self._classes: Optional[torch.Tensor] = None

    def modes_for(self, num_outputs: int) -> Tuple[int, ...]:
        return (1, 2) if num_outputs == mapping.NUM_IMAGENET_CLASSES else (0,)

    def add(self, indices: torch.Tensor, scores: torch.Tensor) -> None:
        """Count the hits of one batch: `indices` into the run's images, `scores` (batch,
        classes) on the device, before any conversion."""
        if self._device_labels is None or self._device_labels.device != scores.device:
            self._device_labels = self.labels.to(scores.device)
            self._classes = torch.arange(mapping.NUM_OBJECTNET_CLASSES, device=scores.device)
        truth = self._device_labels[indices.to(scores.device)]
        # (batch, 313) one-hot of each image's class: a sum over it counts per class with no
        # boolean indexing (which would wait for the device) and no atomics (deterministic).
        one_hot = truth.unsqueeze(1) == self._classes
        for mode in self.modes_for(scores.shape[1]):
            ids, _ = mapping.convert_top5(scores, mode)
            correct = ids[:, 0] == truth
            top1 = correct.sum()
            top5 = (ids == truth.unsqueeze(1)).any(dim=1).sum()
            per_class = (one_hot & correct.unsqueeze(1)).sum(dim=0)
            counts = torch.cat([torch.stack([top1, top5]), per_class])
            if mode in self.hits:
                self.hits[mode] += counts
            else:
                self.hits[mode] = counts

    def counts(self) -> Counts:
        """The counts so far (waits for the device)."""
        return {mode: tuple(int(v) for v in counts.tolist())
                for mode, counts in self.hits.items()}

    def scores(self, counts: Optional[Counts] = None) -> Scores:
        counts = self.counts() if counts is None else counts
        return Scores(self.source, tuple(ModeScore(mode, c[0], c[1], self.total, tuple(c[2:]))
                                         for mode, c in sorted(counts.items())),
                      self.written_mode, self.class_images)


def merge_counts(parts: Sequence[Counts]) -> Counts:
    """Sum the counts of several ranks."""
    merged: Counts = {}
    for part in parts:
        for mode, counts in part.items():
            old = merged.get(mode)
            merged[mode] = counts if old is None else tuple(a + b for a, b in zip(old, counts))
    return merged
