"""The submission record: what was pushed, kept beside the answers file.

The challenge pulls an image by digest, so the digest is the one name that says exactly
what was submitted. The record ties it to the checkpoint (sha256), the settings, the torch
inside the image and the wizard that made it, so a score can be traced back to a model long
after tags have moved. Each push appends one entry to `<answers>.submission.json`, newest
last; the file is rewritten atomically.

No secret ever enters the record: it is built from named fields only, and the answers
themselves cannot hold a token.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from wizard import __version__
from wizard.answers import Answers
from wizard.checkpoint_info import sha256_file
from wizard.errors import WizardError
from wizard.files import write_text_atomic

FORMAT = 1
SUFFIX = ".submission.json"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Everything an image's behaviour depends on; smoke_images is a local test folder.
SETTINGS = (
    "model_dir", "model_class", "checkpoint", "trust_checkpoint", "base_image", "batch_size",
    "workers", "gpus", "softmax", "convert_outputs_mode", "precision", "registry",
    "synapse_project_id", "repository", "tag",
)


class SubmissionError(WizardError):
    """The submission record could not be read or written."""


@dataclass(frozen=True)
class SubmissionRecord:
    image_reference: str
    """The name pushed, registry/project/repository:tag."""
    digest: str
    """sha256:... the registry stored the image under."""
    pinned_reference: str
    """repository@digest: what to submit, and what the challenge pulls."""
    checkpoint_sha256: str
    settings: dict[str, Any]
    torch_version: str | None
    """torch.__version__ inside the image."""
    wizard_version: str
    created: str
    """When it was pushed, ISO 8601 in UTC."""
    image_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Measurements worth keeping (image size, smoke-test agreement); no secrets."""
    verification: dict[str, Any] | None = None
    """The pushed image pulled back by digest and smoke-tested: the pulled reference, the
    validator's verdict, the agreement with the local run, peak memory and shm, the time
    verdict (see wizard/receipt.py); or the reason it failed."""


def record_for(answers: Answers, project_root: str | PathLike[str], digest: str, *,
               torch_version: str | None, image_id: str | None = None,
               checkpoint_sha256: str | None = None, extra: dict[str, Any] | None = None,
               now: datetime | None = None,
               verification: dict[str, Any] | None = None) -> SubmissionRecord:
    """The record for a push of the answers' image that the registry stored as `digest`."""
    if not _DIGEST.fullmatch(digest):
        raise SubmissionError(f"{digest!r} is not an image digest (sha256: and 64 hex digits)")
    reference = answers.image_reference()
    repository = reference.rsplit(":", 1)[0]
    checksum = checkpoint_sha256 or sha256_file(answers.checkpoint_path(project_root))
    if not _SHA256.fullmatch(checksum):
        raise SubmissionError(f"{checksum!r} is not a sha256 checksum (64 hex digits)")
    values = answers.model_dump()
    return SubmissionRecord(
        image_reference=reference,
        digest=digest,
        pinned_reference=f"{repository}@{digest}",
        checkpoint_sha256=checksum,
        settings={name: values[name] for name in SETTINGS},
        torch_version=torch_version,
        wizard_version=__version__,
        created=(now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
        image_id=image_id,
        extra=dict(extra or {}),
        verification=verification,
    )


def submission_path(answers_path: str | PathLike[str]) -> Path:
    """answers.toml -> answers.submission.json, in the same folder."""
    path = Path(answers_path)
    return path.with_name(path.stem + SUFFIX)


def read_submissions(path: str | PathLike[str]) -> list[SubmissionRecord]:
    """The records in a submission file, oldest first; [] when there is none."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SubmissionError(f"{file} cannot be read as a submission record ({error}): move "
                              "it away and push again to start a new one") from error
    entries = data.get("submissions") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise SubmissionError(f"{file} is not a submission record (no \"submissions\" list): "
                              "move it away and push again to start a new one")
    known = set(SubmissionRecord.__dataclass_fields__)
    try:
        return [SubmissionRecord(**{k: v for k, v in entry.items() if k in known})
                for entry in entries]
    except TypeError as error:
        raise SubmissionError(f"{file} holds an entry the wizard cannot read ({error}): move "
                              "it away and push again to start a new one") from error


def write_submission(record: SubmissionRecord, answers_path: str | PathLike[str]) -> Path:
    """Append `record` to the submission file beside the answers file; returns its path."""
    path = submission_path(answers_path)
    records = [*read_submissions(path), record]
    document = {
        "format": FORMAT,
        "about": "images pushed by objectnet-wizard, oldest first; submit pinned_reference",
        "submissions": [asdict(entry) for entry in records],
    }
    try:
        write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    except OSError as error:
        raise SubmissionError(f"cannot write {path}: {error.strerror}") from error
    return path
