"""A verified receipt: what a push will upload, and proof that what the registry holds is
what was tested.

Before a push, the upload is sized by asking the registry (wizard.registry_api) which of the
image's layers its repository already holds; the others, with their uncompressed size (an
upper bound: Docker sends layers gzipped, and their compressed size is known only once sent),
are what the push sends. After the push, the push stream's own count of sent layers is set
beside the prediction. Then the local tag is removed, the image is pulled back by the digest
the registry returned (as the challenge pulls it) and smoke-tested again; the result goes into
the submission record under `verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard import registry_api
from wizard.docker_events import PushProgress
from wizard.runner_profile import FULL_TEST_SET, duration, show_size
from wizard.validators import parse_size

if TYPE_CHECKING:
    from wizard.docker_client import DockerClient
    from wizard.smoke import ImageSmokeResult, LocalSmokeResult
    from wizard.submission import SubmissionRecord


@dataclass(frozen=True)
class UploadPlan:
    """The layers a push will send, as the registry's answer says."""

    registry: str
    repository: str
    layers: int
    """Distinct layers of the image."""
    missing: int | None
    """Layers the repository lacks; None when the registry could not be asked."""
    missing_bytes: int | None
    """Uncompressed bytes of those layers (the upload, gzipped, is smaller); None where
    unknown."""
    new_repository: bool = False
    note: str = ""
    """Why the size is unknown, or that only part of the repository was read."""

    def line(self) -> str:
        where = f"{self.registry}/{self.repository}"
        if self.missing is None:
            return f"upload size unknown: {self.note}; the push goes ahead"
        size = (f", {show_size(self.missing_bytes)} uncompressed (the upload is gzipped, so "
                "at most that)" if self.missing_bytes is not None else "")
        if self.new_repository:
            return f"upload: all {self.layers} layers{size}; {where} does not exist yet"
        if self.missing == 0:
            return (f"upload: no layers: {where} already holds all {self.layers}; only the "
                    "manifest is sent")
        line = (f"upload: {self.missing} of {self.layers} layers{size}; {where} already "
                f"holds the other {self.layers - self.missing}")
        return line + (f" ({self.note})" if self.note else "")

    def record(self) -> dict[str, Any]:
        return {"layers": self.layers, "predicted_layers": self.missing,
                "predicted_bytes_uncompressed": self.missing_bytes}


def upload_plan(ops: DockerClient, reference: str, username: str | None, token: str | None,
                earlier: Iterable[str] = (), *, timeout: float = registry_api.TIMEOUT_S
                ) -> UploadPlan:
    """Size the push of `reference` (registry/repository:tag) by asking the registry which of
    its layers the repository holds. `earlier` are pinned references (repo@sha256:...) of
    earlier pushes: their manifests are read first, since they stay when a tag moves on.
    Never raises for the registry's sake: an unreachable or refusing registry gives a plan
    whose size is unknown."""
    registry, _, rest = reference.partition("/")
    repository = rest.rsplit(":", 1)[0] if ":" in rest.rsplit("/", 1)[-1] else rest
    tag = rest[len(repository) + 1:] or "latest"
    info = ops.image_info(reference)
    layers = list(dict.fromkeys(info.layers))
    sizes = ops.layer_sizes(reference)
    size_of = dict(sizes) if sizes is not None else None
    named = f"{registry}/{repository}@"
    digests = [ref[len(named):] for ref in (*earlier, *info.repo_digests)
               if ref.startswith(named)]
    try:
        held = registry_api.holdings(registry, repository, username, token, digests=digests,
                                     first_tags=[tag], timeout=timeout)
    except registry_api.RegistryQueryError as error:
        return UploadPlan(registry, repository, len(layers), None, None, note=str(error))
    missing = [layer for layer in layers if layer not in held.diff_ids]
    missing_bytes = (sum(size_of[layer] for layer in missing) if size_of is not None
                     else None)
    note = ("" if held.complete else f"read {held.manifests} of its images only, so perhaps "
            "fewer")
    return UploadPlan(registry, repository, len(layers), len(missing), missing_bytes,
                      new_repository=not held.exists, note=note)


FINAL_STATUSES = ("Pushed", "Layer already exists", "Mounted from")


@dataclass
class PushedLayers:
    """What the push stream says happened to each layer: sent, already there, or mounted
    from another repository of the same registry (no bytes sent)."""

    status: dict[str, str] = field(default_factory=dict)

    def feed(self, event: Any) -> None:
        if isinstance(event, PushProgress) and event.layer and \
                event.status.startswith(FINAL_STATUSES):
            self.status[event.layer] = event.status

    @property
    def pushed(self) -> int:
        return sum(1 for s in self.status.values() if s == "Pushed")

    @property
    def existed(self) -> int:
        return sum(1 for s in self.status.values() if s == "Layer already exists")

    @property
    def mounted(self) -> int:
        return sum(1 for s in self.status.values() if s.startswith("Mounted from"))

    def line(self, plan: UploadPlan) -> str:
        predicted = ("" if plan.missing is None
                     else f"; predicted {plan.missing} not in the repository")
        return (f"the push sent {_layers(self.pushed)}, mounted {self.mounted} from other "
                f"repositories of the registry, and found {self.existed} already there"
                f"{predicted}")

    def record(self) -> dict[str, Any]:
        return {"pushed_layers": self.pushed, "mounted_layers": self.mounted,
                "existing_layers": self.existed}


def _layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


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


@dataclass(frozen=True)
class Receipt:
    """A push as the finish screen shows it, read back from the submission record (so the
    screen says what the file says): what to submit, and (label, value) rows."""

    pinned: str
    """repository@sha256:...: what to submit."""
    verified: bool
    """The image pulled back by that digest passed its smoke run."""
    rows: tuple[tuple[str, str], ...]

    def exit_line(self) -> str:
        """Printed when the wizard exits: the reference, for terminals that cannot copy."""
        if self.verified:
            return f"submit: {self.pinned}"
        return f"pushed, but not verified (do not submit it): {self.pinned}"


def receipt_of(record: SubmissionRecord) -> Receipt:
    """The receipt of one submission record entry (the newest, after a push)."""
    check = record.verification or {}
    verified = bool(check) and "failed" not in check and check.get("validator") == "VALIDATED" \
        and bool((check.get("agreement_with_local_run") or {}).get("ok"))
    rows: list[tuple[str, str]] = [("pushed", record.image_reference)]
    if "failed" in check:
        rows.append(("verification", f"failed: {check['failed']}: do not submit this image"))
    elif check:
        agreement = check.get("agreement_with_local_run") or {}
        rows += [
            ("pulled back", f"by digest; its predictions.csv is {check.get('validator')}"),
            ("vs the local run", f"top-1 {agreement.get('top1')}, top-5 {agreement.get('top5')}"
                                 + ("" if agreement.get("ok") else ": they disagree")),
            ("peak memory", _peak(check.get("memory_peak_bytes"), check.get("memory_limit"))),
            ("peak /dev/shm", _peak(check.get("shm_peak_bytes"), check.get("shm_limit"))),
            (f"all {FULL_TEST_SET:,} images", _time(check)),
        ]
    upload = record.extra.get("upload")
    if isinstance(upload, dict):
        rows.append(("upload", _upload(upload)))
    return Receipt(record.pinned_reference, verified, tuple(rows))


def _peak(peak: Any, limit: Any) -> str:
    if not isinstance(peak, int):
        return "not measured"
    try:
        limit_bytes = parse_size(str(limit))
    except ValueError:
        return show_size(peak)
    return f"{show_size(peak)} of {show_size(limit_bytes)} ({100.0 * peak / limit_bytes:.0f}%)"


def _time(check: dict[str, Any]) -> str:
    verdict = check.get("time_verdict")
    estimate = check.get("time_estimate_s")
    about = f"about {duration(estimate)}" if isinstance(estimate, int | float) \
        else "an unknown time"
    where = check.get("time_measured_on")
    text = about + (f", measured on {where}" if where else "")
    if verdict in (None, "no limit"):
        return text + "; no time limit set (runner_time_limit_hours)"
    return f"{verdict}: {text}"


def _upload(upload: dict[str, Any]) -> str:
    """The record's upload entry (UploadPlan.record() and PushedLayers.record()) in words."""
    layers, predicted = upload.get("layers"), upload.get("predicted_layers")
    size = upload.get("predicted_bytes_uncompressed")
    if isinstance(predicted, int):
        text = f"{predicted} of {layers} layers"
        if isinstance(size, int):
            text += f", {show_size(size)} uncompressed"
    else:
        text = f"{layers} layers, size unknown"
    pushed = upload.get("pushed_layers")
    if isinstance(pushed, int):
        text += (f"; sent {pushed}, mounted {upload.get('mounted_layers')}, "
                 f"{upload.get('existing_layers')} already there")
    return text
