"""The receipt the finish screen shows, read from a submission record entry: what to submit,
whether the pulled image was verified, and the figures the record keeps."""

from __future__ import annotations

from dataclasses import replace

from wizard.receipt import PushedLayers, UploadPlan, receipt_of
from wizard.submission import SubmissionRecord

PINNED = "127.0.0.1:5000/syn123/wizard-e2e@sha256:" + "ab" * 32

RECORD = SubmissionRecord(
    image_reference="127.0.0.1:5000/syn123/wizard-e2e:v1", digest="sha256:" + "ab" * 32,
    pinned_reference=PINNED, checkpoint_sha256="cd" * 32, settings={}, torch_version="1.13.0",
    wizard_version="0", created="2026-12-02T12:00:00+00:00",
    extra={"upload": {**UploadPlan("127.0.0.1:5000", "syn123/wizard-e2e", 9, 2,
                                   3 * 1024 ** 2).record(),
                      **PushedLayers({"a": "Pushed", "b": "Mounted from syn123/x",
                                      **{str(n): "Layer already exists" for n in range(7)}}
                                     ).record()}},
    verification={
        "pulled": PINNED, "image_id": "sha256:" + "12" * 32, "validator": "VALIDATED",
        "agreement_with_local_run": {"top1": "48/48", "top5": "48/48", "ok": True},
        "memory_peak_bytes": 512 * 1024 ** 2, "shm_peak_bytes": 1024 ** 2,
        "memory_limit": "32g", "shm_limit": "12g", "time_verdict": "no limit",
        "time_estimate_s": 5400.0, "time_measured_on": "this machine's CPU (2 cores)"})


def test_a_verified_push_gives_every_figure_of_the_record() -> None:
    receipt = receipt_of(RECORD)
    assert receipt.pinned == PINNED and receipt.verified
    assert receipt.exit_line() == f"submit: {PINNED}"
    assert dict(receipt.rows) == {
        "pushed": "127.0.0.1:5000/syn123/wizard-e2e:v1",
        "pulled back": "by digest; its predictions.csv is VALIDATED",
        "vs the local run": "top-1 48/48, top-5 48/48",
        "peak memory": "512.0 MiB of 32.0 GiB (2%)",
        "peak /dev/shm": "1.0 MiB of 12.0 GiB (0%)",
        "all 50,273 images": "about 90 min, measured on this machine's CPU (2 cores); no time "
                             "limit set (runner_time_limit_hours)",
        "upload": "2 of 9 layers, 3.0 MiB uncompressed; sent 1, mounted 1, 7 already there",
    }


def test_a_time_verdict_and_an_upload_the_registry_could_not_size() -> None:
    verification = {**RECORD.verification, "time_verdict": "tight"}
    record = replace(RECORD, verification=verification, extra={"upload": UploadPlan(
        "127.0.0.1:5000", "syn123/wizard-e2e", 9, None, None, note="refused").record()})
    rows = dict(receipt_of(record).rows)
    assert rows["all 50,273 images"] == ("tight: about 90 min, measured on this machine's "
                                         "CPU (2 cores)")
    assert rows["upload"] == "9 layers, size unknown"


def test_a_failed_verification_is_no_receipt_to_submit() -> None:
    record = replace(RECORD, verification={"pulled": PINNED, "failed": "the container exited "
                                           "with 1"})
    receipt = receipt_of(record)
    assert not receipt.verified
    assert receipt.exit_line() == f"pushed, but not verified (do not submit it): {PINNED}"
    assert dict(receipt.rows)["verification"] == ("failed: the container exited with 1: do "
                                                  "not submit this image")
    assert not receipt_of(replace(RECORD, verification=None)).verified
