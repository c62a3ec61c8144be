"""A verified receipt: what a push will upload, and proof that what the registry holds is
what was tested.

Before a push, the upload is sized: the image's layers that no earlier push of this project
(answers.submission.json) already sent, with their uncompressed size. After the push, the
local tag is removed, the image is pulled back by the digest the registry returned (as the
challenge pulls it) and smoke-tested again; the result goes into the submission record under
`verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.runner_profile import show_size

if TYPE_CHECKING:
    from wizard.docker_client import DockerClient
    from wizard.smoke import ImageSmokeResult, LocalSmokeResult


@dataclass(frozen=True)
class UploadPlan:
    """The layers a push will send."""

    layers: int
    new_layers: int
    new_bytes: int | None
    """Uncompressed bytes of the new layers (the registry stores them gzipped, so the upload is
    usually smaller); None where the layer sizes could not be read."""
    previous: str | None
    """The earlier push the other layers came with, or None for a first push."""

    def line(self) -> str:
        size = f", {show_size(self.new_bytes)} uncompressed" if self.new_bytes is not None \
            else ""
        if self.previous is None:
            return (f"upload: all {self.layers} layers{size} (no earlier push from this project "
                    "is recorded, so the registry is taken to have none of them)")
        return (f"upload: {self.new_layers} of {self.layers} layers{size}; the registry has "
                f"the other {self.layers - self.new_layers} from the push of {self.previous}")


def upload_plan(ops: DockerClient, reference: str, previous_images: Sequence[tuple[str, str]]
                ) -> UploadPlan:
    """Size the push of `reference` against earlier pushes, given as (image id, pinned
    reference) pairs, newest last; an earlier image no longer on this machine is skipped."""
    layers = ops.image_info(reference).layers
    sent: set[str] = set()
    previous = None
    for image_id, pinned in previous_images:
        if image_id and ops.image_present(image_id):
            sent.update(ops.image_info(image_id).layers)
            previous = pinned
    sizes = ops.layer_sizes(reference)
    new = [layer for layer in layers if layer not in sent]
    new_bytes = (sum(size for layer, size in sizes if layer not in sent)
                 if sizes is not None else None)
    return UploadPlan(len(layers), len(new), new_bytes, previous)


@dataclass(frozen=True)
class Verification:
    """The pulled image's smoke run, as kept in the submission record."""

    pulled: str
    image_id: str
    result: ImageSmokeResult

    def record(self) -> dict[str, Any]:
        r = self.result
        c = r.comparison
        return {
            "pulled": self.pulled,
            "image_id": self.image_id,
            "validator": r.validation["prediction_file_status"],
            "agreement_with_local_run": {"top1": f"{c.top1_agree}/{c.rows}",
                                         "top5": f"{c.top5_agree}/{c.rows}",
                                         "ok": c.ok},
            "memory_peak_bytes": r.usage.memory_peak,
            "shm_peak_bytes": r.usage.shm_peak,
            "memory_limit": r.profile.memory,
            "shm_limit": r.profile.shm,
            "time_verdict": r.time.verdict if r.time is not None else None,
            "time_estimate_s": (round(r.time.estimate_s, 1) if r.time is not None
                                and r.time.estimate_s != float("inf") else None),
            "time_measured_on": r.time.hardware if r.time is not None else None,
        }

    def lines(self) -> list[str]:
        c = self.result.comparison
        return [f"verified: pulled {self.pulled} back from the registry; its smoke run is "
                f"{self.result.validation['prediction_file_status']} and agrees with the local "
                f"run (top-1 {c.top1_agree}/{c.rows}, top-5 {c.top5_agree}/{c.rows})"]


def verify_push(ops: DockerClient, reference: str, pinned: str, local: LocalSmokeResult,
                work: Path, *, precision: str, profile: Any, gpus: bool,
                log: Callable[[str], None], cancel: Any = None) -> Verification:
    """Remove the local tag, pull `pinned` (repo@sha256:...) back, smoke-test the pulled image
    against the local run, and tag it again so the next build reuses its layers."""
    from wizard import smoke

    ops.untag(reference)
    log(f"removed the local tag {reference}; pulling {pinned} back from the registry")
    pulled = ops.pull_by_digest(pinned)
    result = smoke.image_smoke(ops, pinned, local.images_dir, work, local.predictions,
                               precision=precision, profile=profile, gpus=gpus, cancel=cancel)
    ops.tag(pulled.id, reference)
    return Verification(pinned, pulled.id, result)
