"""The wizard's one path from answers to a pushed image, shared by the TUI and `run`.

Each stage is a method of `Pipeline` that reports through `on_event` (wizard.events) and
raises a `WizardError` subclass with a ready-to-show message when it cannot go on. The
non-interactive mode calls `run_all()`; the TUI calls the same stage methods one screen at a
time, from worker threads, so the path the tests drive is the path users take.
"""

from __future__ import annotations

import dataclasses
import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard import dockerfile, findings, model_folder, wheelhouse
from wizard.answers import Answers
from wizard.errors import ModelProblemError, RenderError, WizardError
from wizard.events import (
    EventSink,
    Log,
    Progress,
    StageFinished,
    StageStarted,
    StageWarning,
    from_docker,
)
from wizard.findings import Finding, Status
from wizard.gpu_compat import GpuIncompatibleError
from wizard.runner_profile import RunnerLimitError, RunnerProfile

if TYPE_CHECKING:
    from wizard.docker_client import DockerClient
    from wizard.docker_events import BuildResult, DockerEvent
    from wizard.receipt import UploadPlan, Verification
    from wizard.smoke import ImageSmokeResult, LocalSmokeResult
    from wizard.wheelhouse import Dependencies

STAGES = ("check", "render", "smoke", "build", "image-smoke", "push")
UNTIL = {"render": "render", "smoke": "smoke", "build": "image-smoke", "push": "push"}
"""`--until X` stops after stage UNTIL[X]: `build` includes the in-image smoke run."""


class PipelineCancelledError(WizardError):
    """The user cancelled the run between two stages; nothing half-done was left behind.
    (Not asyncio's CancelledError, which Textual's workers raise.)"""


@dataclass
class PipelineState:
    """What the stages produced so far (the TUI shows it; the CLI prints it)."""

    warnings: list[str] = field(default_factory=list)
    rendered: list[Path] = field(default_factory=list)
    local_smoke: LocalSmokeResult | None = None
    build: BuildResult | None = None
    image_smoke: ImageSmokeResult | None = None
    digest: str | None = None
    record: Path | None = None
    verification: Verification | None = None
    """The pushed image, pulled back by digest and smoke-tested again."""
    dependencies: Dependencies | None = None
    model_files: list[model_folder.Entry] = field(default_factory=list)
    """Every file of the model folder, each marked with why it is left out of the image (if
    it is): the check stage's listing, which the review step shows."""
    upload: UploadPlan | None = None
    """What the push sent beyond what the registry had."""


class Pipeline:
    """Stages over one set of answers. `docker` is a zero-argument factory returning the
    wizard.docker_ops client (a fake in unit tests); it is only called by stages that need
    an engine, so render and the local smoke run work without Docker."""

    def __init__(self, answers: Answers, project_root: Path, *, answers_path: Path | None = None,
                 on_event: EventSink | None = None,
                 docker: Callable[[], DockerClient] | None = None,
                 cancel: threading.Event | None = None, work_dir: Path | None = None) -> None:
        self.answers = answers
        self.root = Path(project_root)
        self.answers_path = answers_path or self.root / "answers.toml"
        self.emit: EventSink = on_event or (lambda event: None)
        self._docker_factory = docker
        self._docker: DockerClient | None = None
        self.cancel = cancel or threading.Event()
        self.work = work_dir or self.root / ".objectnet-wizard"
        self.state = PipelineState()
        self._gpu_runtime: bool | None = None

    # -- helpers ---------------------------------------------------------------------------

    @property
    def docker(self) -> DockerClient:
        if self._docker is None:
            if self._docker_factory is None:
                from wizard import docker_ops

                self._docker_factory = docker_ops.connect
            self._docker = self._docker_factory()
        return self._docker

    def _log(self, stage: str) -> Callable[[str], None]:
        return lambda line: self.emit(Log(stage, line))

    def _docker_log(self, stage: str) -> Callable[[DockerEvent], None]:
        def forward(event: DockerEvent) -> None:
            reported = from_docker(stage, event)
            if reported is not None:
                self.emit(reported)

        return forward

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise PipelineCancelledError("cancelled by the user")

    # -- stages ----------------------------------------------------------------------------

    def check(self) -> list[str]:
        """The model's findings (wizard.findings, as `check` prints them). Stops the run for
        what `check` reports as an error: a base image that cannot drive the target GPU
        (GpuIncompatibleError), requirements that cannot be built offline (WheelhouseError),
        a model class that cannot be built or a checkpoint that does not fit
        (ModelProblemError), a model folder that cannot be listed (RenderError). Returns the
        warnings that do not stop it: base image vs checkpoint torch, torch pins left out,
        model code that needs the network."""
        self.emit(StageStarted("check", "Checking the answers against the files"))
        answers, root = self.answers, self.root
        gpu = findings.gpu(answers.base_image, answers.target_gpu)
        _stop_at_error(gpu, GpuIncompatibleError)
        _stop_at_error(findings.smoke_images(answers, root), ModelProblemError)
        warnings: list[str] = [str(f) for f in gpu if f.status is Status.WARNING]
        warnings += self._ensure_dependencies()
        fits = findings.model(answers.model_path(root), answers.model_class,
                              answers.checkpoint_path(root), answers.trust_checkpoint)
        _stop_at_error([fits], ModelProblemError)
        folder = findings.model_folder(answers, root)
        _stop_at_error([folder], RenderError)
        # The review step lists what goes into the image: the same selection, kept.
        self.state.model_files = model_folder.resolve(
            answers.model_path(root), answers.checkpoint, answers.model_include,
            answers.model_exclude)
        saved_by, advice = findings.checkpoint(answers.checkpoint_path(root),
                                               answers.trust_checkpoint)
        advice += findings.base_image(answers.base_image, saved_by)
        for finding in (fits, folder):
            for line in finding.detail.splitlines():
                self.emit(Log("check", line))
        warnings += [str(f) for f in advice if f.status is Status.WARNING]
        warnings += [f"not offline-ready: {f}" for f in findings.offline(answers.model_path(root))
                     if f.status is Status.WARNING]
        for text in warnings:
            self.emit(StageWarning("check", text))
        self.state.warnings = warnings
        self.emit(StageFinished("check", f"{len(warnings)} warning(s)"))
        return warnings

    def dependencies(self) -> list[str]:
        """model/requirements.txt as a hash-pinned wheelhouse for the base image (read once
        from the image, with no network) and a private install for the local run."""
        from wizard.samples import default_cache_dir

        self.docker.ensure_base_image(self.answers.base_image,
                                      on_event=self._docker_log("check"))
        image = wheelhouse.image_env(self.docker, self.answers.base_image,
                                     default_cache_dir())
        prepared = wheelhouse.prepare(
            self.answers.model_path(self.root) / wheelhouse.REQUIREMENTS, image,
            wheelhouse.host_env(), self.work, self.root)
        self.state.dependencies = prepared
        for line in prepared.lines():
            self.emit(Log("check", line))
        return list(prepared.warnings)

    def _ensure_dependencies(self) -> list[str]:
        """The requirements prepared once per pipeline (the TUI may start at any stage), and
        the local run's private install of them first on sys.path."""
        warnings: list[str] = []
        requirements = self.answers.model_path(self.root) / wheelhouse.REQUIREMENTS
        if self.state.dependencies is None and requirements.is_file():
            warnings = self.dependencies()
        deps = self.state.dependencies
        if deps is not None and deps.local_site is not None:
            wheelhouse.activate(deps.local_site)
        return warnings

    def render(self, *, force: bool = False) -> list[Path]:
        """Write Dockerfile and .dockerignore into the project folder."""
        self.emit(StageStarted("render", "Rendering the Dockerfile"))
        self._ensure_dependencies()
        rendered = dockerfile.render(self.answers, self.root,
                                     answers_name=self.answers_path.name)
        paths = dockerfile.write(rendered, self.root, force=force)
        self.state.rendered = paths
        self.emit(StageFinished("render", "wrote " + ", ".join(p.name for p in paths)))
        return paths

    def smoke(self) -> LocalSmokeResult:
        """The engine on the smoke images, on this machine, exactly as the image will run it."""
        from wizard import smoke

        self.emit(StageStarted("smoke", "Local smoke run"))
        self._ensure_dependencies()
        result = smoke.local_smoke(
            self.answers, None, self.work / "smoke-local",
            on_progress=lambda done, total: self.emit(Progress("smoke", done, total)),
            project_root=self.root, log=self._log("smoke"), cancel=self.cancel)
        self.state.local_smoke = result
        lines = result.lines()
        if self.answers.precision != "fp32":
            lines += self._precision_agreement(result.images_dir)
        self.emit(StageFinished("smoke", "\n".join(lines)))
        return result

    def report(self, folder: Path) -> Path:
        """The smoke run on labelled images as a report folder (report.html, PNG plots,
        report.json); runs the local smoke stage first when it has not run."""
        from wizard import report

        labels = None
        if self.state.local_smoke is None:  # before minutes of smoke run, not after
            images = self.answers.smoke_images_path(self.root)
            if images is None:
                raise report.ReportError(f"smoke_images is not set: {report.NO_LABELS}")
            if images.is_dir():  # the folder the smoke run below reads: walked once
                labels = report.labels_of(images)
        local = self.state.local_smoke or self.smoke()
        self.emit(StageStarted("report", "Writing the report"))
        if labels is None:
            labels = report.labels_of(local.images_dir)
        data = report.build_data(local, labels, report.BatchClock(local.batch_marks))
        page = report.write_report(folder, data)
        self.emit(StageFinished("report", f"wrote {page}"))
        return page

    def _precision_agreement(self, images_dir: Path) -> list[str]:
        """How much the chosen bf16/fp16 changes predictions on the smoke images: the number
        a user needs before trading exactness for speed."""
        from engine.errors import EngineError
        from wizard.engine_settings import local_config
        from wizard.local_torch import using_torch

        with using_torch():
            from engine.precision import compare

        config = local_config(self.answers, self.root, images_dir, self.work / "unused.csv")
        try:
            agreement = compare(config)
        except EngineError as error:
            self.emit(StageWarning("smoke", f"could not compare {self.answers.precision} with "
                               f"fp32 here: {error}"))
            return []
        return agreement.lines()

    def build(self) -> BuildResult:
        """docker build of the rendered Dockerfile, tagged with the image reference."""
        self.emit(StageStarted("build", "Building " + self.answers.image_reference()))
        if not self.state.rendered:
            self.render()
        from wizard.docker_ops import BUILD_PLATFORM

        host = platform.machine().lower()
        emulated = (f" on this {host} host: Docker emulates it, slower, but it is what the "
                    "challenge runs") if host in ("arm64", "aarch64") else ""
        self.emit(Log("build", f"building for {BUILD_PLATFORM}{emulated}"))
        self.docker.ensure_base_image(self.answers.base_image,
                                      on_event=self._docker_log("build"))
        result = self.docker.build(self.root, "Dockerfile", self.answers.image_reference(),
                                   on_event=self._docker_log("build"),
                                   cancel=self.cancel, base_image=self.answers.base_image)
        self.state.build = result
        self.emit(StageFinished("build", build_summary(result)))
        return result

    def image_smoke(self) -> ImageSmokeResult:
        """The built image run the way the challenge runs it, compared with the local run."""
        from wizard import smoke

        self.emit(StageStarted("image-smoke", "Smoke run inside the image (no network)"))
        local = self.state.local_smoke or self.smoke()
        self._check_cancel()
        profile = RunnerProfile.from_answers(self.answers)
        gpus = self._gpus("image-smoke")
        reference = self.answers.image_reference()
        # The container's output and the engine's progress, live, as the local run's are.
        watch: dict[str, Any] = {
            "log": self._log("image-smoke"),
            "on_progress": lambda done, total: self.emit(Progress("image-smoke", done, total)),
        }
        result = smoke.image_smoke(self.docker, reference, local.images_dir,
                                   self.work / "smoke-image", local.predictions,
                                   precision=self.answers.precision, cancel=self.cancel,
                                   profile=profile, gpus=gpus, **watch)
        self._check_cancel()  # an Esc as the container ended is still a cancel, not a pass
        if profile.strict != "skip":
            self.emit(Log("image-smoke", "strict passes: read-only root filesystem, then "
                          "a non-root user"))
            passes = smoke.strict_passes(self.docker, reference, local.images_dir,
                                         self.work / "smoke-image", profile, gpus=gpus,
                                         cancel=self.cancel, **watch)
            result = dataclasses.replace(result, strict=passes)
            for failed in (p for p in passes if not p.ok):
                if profile.strict == "require":
                    raise RunnerLimitError(f"{failed.name}: the image fails ({failed.detail}); "
                                           "runner_strict = \"require\" makes this an error")
                self.emit(StageWarning("image-smoke", f"{failed.name}: the image fails "
                                   f"({failed.detail}); the ObjectNet runner did not need "
                                   "this, stricter runners do"))
        self.state.image_smoke = result
        self.emit(StageFinished("image-smoke", "\n".join(result.lines())))
        return result

    def push(self, username: str, token: str) -> str:
        """Log in, size the upload, push, verify the pushed image (pulled back by digest and
        smoke-tested again), and write the submission record beside the answers file."""
        from wizard import receipt, submission

        reference = self.answers.image_reference()
        self.emit(StageStarted("push", "Pushing " + reference))
        record_path = submission.submission_path(self.answers_path)
        earlier = [r.pinned_reference for r in submission.read_submissions(record_path)]
        self.docker.login(self.answers.registry, username, token)
        plan = receipt.upload_plan(self.docker, reference, username, token, earlier)
        self.state.upload = plan
        self.emit(Log("push", plan.line()))
        sent = receipt.PushedLayers()
        forward = self._docker_log("push")

        def on_push(event: Any) -> None:
            sent.feed(event)
            forward(event)

        digest = self.docker.push(reference, on_event=on_push)
        self.emit(Log("push", sent.line(plan)))
        self.state.digest = digest
        pinned = f"{reference.rsplit(':', 1)[0]}@{digest}"
        extra: dict[str, Any] = {"upload": plan.record() | sent.record()}
        if self.state.build is not None:
            extra["image_size_over_base"] = self.state.build.size_over_base
        requirement_pins = wheelhouse.pinned(self.work)
        if requirement_pins and (self.answers.model_path(self.root)
                                 / wheelhouse.REQUIREMENTS).is_file():
            extra["requirements_pinned"] = requirement_pins
        if self.state.image_smoke is not None:
            comparison = self.state.image_smoke.comparison
            extra["smoke_top1_agreement"] = f"{comparison.top1_agree}/{comparison.rows}"
        local = self.state.local_smoke or self.smoke()
        verified: Verification | None = None
        try:
            verified = receipt.verify_push(
                self.docker, reference, pinned, local,
                self.work / "smoke-pulled", precision=self.answers.precision,
                profile=RunnerProfile.from_answers(self.answers), gpus=self._gpus("push"),
                log=self._log("push"), cancel=self.cancel)
            verification = verified.record()
            self.state.verification = verified
        except WizardError as error:
            verification = {"pulled": pinned, "failed": str(error).splitlines()[0]}
        record = submission.record_for(
            self.answers, self.root, digest,
            torch_version=None if verified is None else self.docker.torch_version(reference),
            image_id=self.state.build.image_id if self.state.build else None, extra=extra,
            verification=verification)
        self.state.record = submission.write_submission(record, self.answers_path)
        if verified is None:
            raise WizardError(f"pushed {pinned}, but the image pulled back by that digest "
                              f"failed its smoke run ({verification['failed']}): do not submit "
                              f"it; the record in {self.state.record.name} says so")
        lines = [f"pushed {record.pinned_reference}; record in {self.state.record.name}",
                 *verified.lines(),
                 f"submit: {record.pinned_reference}"]
        self.emit(StageFinished("push", "\n".join(lines)))
        return digest

    def _gpus(self, stage: str) -> bool:
        """Whether smoke containers get GPUs: the profile wants them and the engine has the
        NVIDIA runtime. Says once when it has not."""
        wanted = self.answers.runner_gpus
        if not wanted:
            return False
        if self._gpu_runtime is None:
            self._gpu_runtime = self.docker.has_gpu_runtime()
            if not self._gpu_runtime:
                self.emit(StageWarning(stage, "this Docker engine has no NVIDIA runtime: the "
                                   "in-image smoke runs use the CPU, so their times are CPU "
                                   "figures"))
        return self._gpu_runtime

    def close(self) -> None:
        if self._docker is not None and hasattr(self._docker, "close"):
            self._docker.close()

    def run_all(self, until: str = "push", credentials: Callable[[], tuple[str, str]] | None
                = None) -> PipelineState:
        """Every stage in order up to `until` (render | smoke | build | push)."""
        last = UNTIL[until]
        self.check()
        for stage in STAGES[1:]:
            self._check_cancel()
            if stage == "push":
                if credentials is None:
                    raise WizardError("pushing needs a Synapse user name and token")
                self.push(*credentials())
            else:
                getattr(self, stage.replace("-", "_"))()
            if stage == last:
                break
        return self.state


def build_summary(result: BuildResult) -> str:
    """One line on a finished build: what the issue's closing note asks to see."""
    return (f"{result.tag}: {result.size / 1e6:.0f} MB ({result.size_over_base / 1e6:.1f} MB over "
            f"the base), {result.layers} layers ({result.new_layers} new), "
            f"{result.cached_steps}/{result.steps} steps from cache, {result.seconds:.1f} s")


def _stop_at_error(found: list[Finding], error: type[WizardError]) -> None:
    """Raise `error` with the first blocking finding's detail: the one-line message `run`
    prints, with the exit code that error class maps to."""
    for finding in found:
        if finding.blocking:
            raise error(finding.detail)
