"""`objectnet-wizard`: the TUI with no arguments (or `tui`); `run`, `render`, `check` and
`validate` for scripts and CI. Every subcommand drives wizard.pipeline, the same core as the TUI.

Exit codes: 0 done; 1 a stage failed (build, smoke disagreement, push); 2 usage or answers
error, or a model/checkpoint/requirements problem; 3 the environment is not ready (no Docker
engine, base image missing); 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from wizard import __version__
from wizard.errors import AnswersError, WizardError
from wizard.events import Event, Progress, describe_event

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

EPILOG = """\
exit codes:
  0    done
  1    a stage failed (build step, smoke run, disagreement with the local run, push)
  2    usage, answers-file or model error (each problem on one line): a model class that
       cannot be built, a checkpoint that does not fit, requirements that cannot be built
       into a wheelhouse, no model folder or smoke images folder, smoke images without
       labels for `report`
  3    environment not ready (no Docker engine, base image missing): the message says how
  130  interrupted
"""

VALIDATE_EPILOG = """\
exit codes:
  0    VALIDATED: the challenge would accept the file (its verdict is printed as JSON)
  1    INVALID: the JSON lists each problem with its line
  2    the file or the answers cannot be read (missing, a folder, not a regular file)
"""

# soft_wrap: an error stays one line however narrow the terminal (logs grep by line).
console = Console(stderr=True, soft_wrap=True)


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line built from plain text and (text, style) pairs. User text (answers,
    paths, names, messages that quote them) never goes through Rich markup, where `[/]`
    would raise and `[bold]` would vanish."""
    console.print(Text.assemble(*parts), highlight=False)


def error_line(message: object) -> None:
    say(("error:", "red"), " ", str(message))


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="objectnet-wizard", formatter_class=formatter, epilog=EPILOG,
        description="From a trained PyTorch classifier to a tested ObjectNet challenge image. "
        "With no command, opens the interactive wizard.")
    parser.add_argument("--answers", type=Path, help="answers file to open in the "
                        "interactive wizard (default: ./answers.toml when it exists, else "
                        "it asks)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    tui = commands.add_parser("tui", help="the interactive wizard (the same as no command)",
                              formatter_class=formatter, epilog=EPILOG)
    tui.add_argument("--answers", type=Path, default=argparse.SUPPRESS,
                     help="answers file to open (default: ./answers.toml when it exists, "
                     "else it asks: open another file, or start new from ./model)")

    run = commands.add_parser("run", help="render, smoke-test, build and push from an answers "
                              "file, with no questions", formatter_class=formatter, epilog=EPILOG)
    run.add_argument("--answers", type=Path, required=True, help="answers file (TOML)")
    run.add_argument("--until", choices=("render", "smoke", "build", "push"), default="push",
                     help="last stage to run (default: push; build includes the in-image "
                     "smoke run)")
    run.add_argument("--username", default=os.environ.get("SYNAPSE_USERNAME"),
                     help="registry user name (default: $SYNAPSE_USERNAME, else asked)")
    run.add_argument("--force", action="store_true",
                     help="overwrite a Dockerfile the wizard did not write")

    render = commands.add_parser("render", help="write Dockerfile and .dockerignore",
                                 formatter_class=formatter, epilog=EPILOG)
    render.add_argument("--answers", type=Path, required=True, help="answers file (TOML)")
    render.add_argument("--force", action="store_true",
                        help="overwrite a Dockerfile the wizard did not write")

    check = commands.add_parser("check", help="doctor: Docker, base image, checkpoint, "
                                "offline-readiness", formatter_class=formatter, epilog=EPILOG)
    check.add_argument("--answers", type=Path, required=True, help="answers file (TOML)")

    validate = commands.add_parser("validate", help="check a predictions.csv with the "
                                   "challenge scorer's rules", formatter_class=formatter,
                                   epilog=VALIDATE_EPILOG)
    validate.add_argument("predictions", type=Path)
    truth = validate.add_mutually_exclusive_group()
    truth.add_argument("--answers", type=Path, help="answers JSON (image name -> id) to "
                       "score against")
    truth.add_argument("--images-dir", type=Path, help="ObjectNet's images folder: score "
                       "against the class folder each image sits in")

    report = commands.add_parser("report", help="run the model here on labelled smoke "
                                 "images and write a report folder (report.html, plots)",
                                 formatter_class=formatter, epilog=EPILOG)
    report.add_argument("--answers", type=Path, required=True, help="answers file (TOML); "
                        "smoke_images must carry labels (ObjectNet class folders or an "
                        "answers.json)")
    report.add_argument("--out", type=Path, default=None,
                        help="folder to write (default: .objectnet-wizard/report beside the "
                        "answers file)")

    init = commands.add_parser("init", help="write a commented example answers file")
    init.add_argument("path", type=Path, nargs="?", default=Path("answers.toml"))
    return parser


def _load(path: Path):
    from wizard.answers_file import load_answers

    return load_answers(path)


def _no_credentials(registry: str) -> str:
    from wizard.answers import TOKEN_ENV_VAR

    return (f"pushing to {registry} needs a user name (--username or $SYNAPSE_USERNAME) and a "
            f"token (${TOKEN_ENV_VAR} or the prompt on a terminal)")


def _unattended_push_lacks_credentials(username: str | None) -> bool:
    """With no terminal to prompt on, whether the push is sure to fail for want of a user
    name or token: said before the build, not after it."""
    from wizard.answers import TOKEN_ENV_VAR

    return not sys.stdin.isatty() and not (username and os.environ.get(TOKEN_ENV_VAR))


def _credentials(username: str | None, registry: str):
    from wizard.answers import TOKEN_ENV_VAR

    def ask() -> tuple[str, str]:
        user = username or (input(f"{registry} user name: ") if sys.stdin.isatty() else None)
        token = os.environ.get(TOKEN_ENV_VAR)
        if token is None and sys.stdin.isatty():
            token = getpass.getpass(f"{registry} personal access token (not echoed, not "
                                    "stored): ")
        if not user or not token:
            raise WizardError(_no_credentials(registry))
        return user, token

    return ask


class StagePrinter:
    """Pipeline events on stderr, as describe_event() words them (Text, never markup). Each
    stage ends with its elapsed time; on a terminal, a stage that reports progress (the
    smoke runs, here and in the image) shows a live bar with its ETA, elsewhere (CI logs) a
    line at each quarter."""

    def __init__(self, out: Console) -> None:
        self.console = out
        self.started = time.monotonic()
        self.bar: Any = None  # a rich.progress.Progress while one is shown
        self.task: Any = None
        self.quarter = -1

    def __call__(self, event: Event) -> None:
        described = describe_event(event)
        if described.kind == "title":
            self._stop_bar()
            self.started, self.quarter = time.monotonic(), -1
            self.console.rule(Text(described.text, style="bold"))
        elif described.kind == "done":
            self._stop_bar()
            say(("✓ ", "green"), described.text,
                (f" ({time.monotonic() - self.started:.1f} s)", "dim"))
        elif described.kind == "skipped":
            say(("- ", "yellow"), described.text)
        elif described.kind == "warning":
            say(("warning: ", "yellow"), described.text)
        elif described.kind == "log":
            self.console.print(Text(described.text), highlight=False)
        elif isinstance(event, Progress):
            self._progress(event.done, event.total, described.text)

    def _progress(self, done: int, total: int, text: str) -> None:
        if done == 0:  # a run starts (the in-image stage runs the image up to three times)
            self._stop_bar()
            self.quarter = -1
        if self.console.is_terminal:
            if self.bar is None:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )
                from rich.progress import Progress as RichProgress

                self.bar = RichProgress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                    transient=True)
                self.task = self.bar.add_task("images", total=total)
                self.bar.start()
            self.bar.update(self.task, completed=done, total=total)
            return
        quarter = 4 * done // total if total else 4
        if quarter > self.quarter:
            self.quarter = quarter
            say(text, (f" ({time.monotonic() - self.started:.0f} s)", "dim"))

    def _stop_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar, self.task = None, None

    def close(self) -> None:
        """End a live bar left by a stage that failed."""
        self._stop_bar()


print_event = StagePrinter(console)


def _exit_code(error: WizardError) -> int:
    from wizard.docker_events import BaseImageMissingError, DockerUnavailableError
    from wizard.errors import ModelProblemError, RenderError
    from wizard.report import ReportError
    from wizard.wheelhouse import WheelhouseError

    environment = (DockerUnavailableError, BaseImageMissingError)
    # A Dockerfile that cannot be rendered is the project's to fix (a missing model folder
    # or checkpoint, a folder named Dockerfile), as `check` and `run` say of the same thing.
    if isinstance(error, ModelProblemError | WheelhouseError | RenderError | ReportError):
        return EXIT_USAGE
    return EXIT_ENVIRONMENT if isinstance(error, environment) else EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    from wizard.pipeline import Pipeline

    answers = _load(args.answers)
    root = args.answers.resolve().parent
    pipe = Pipeline(answers, root, answers_path=args.answers.resolve(), on_event=print_event)
    if args.command == "render":
        pipe.render(force=args.force)
        return EXIT_OK
    if args.until == "push" and _unattended_push_lacks_credentials(args.username):
        error_line(_no_credentials(answers.registry))
        return EXIT_USAGE
    if args.force:
        pipe.render(force=True)
    try:
        pipe.run_all(args.until, _credentials(args.username, answers.registry))
    finally:
        print_event.close()
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from wizard import doctor

    answers = _load(args.answers)
    report = doctor.diagnose(answers, args.answers.resolve().parent)
    doctor.print_report(report, console)
    if report.ready:
        return EXIT_OK
    return EXIT_USAGE if report.model_problem else EXIT_ENVIRONMENT


def _validate(args: argparse.Namespace) -> int:
    import json

    from engine.labels import answers_from_folders
    from engine.validate import validate_file

    try:
        answers = (answers_from_folders(args.images_dir) if args.images_dir is not None
                   else str(args.answers) if args.answers else None)
        result = validate_file(args.predictions, answers)
    except ValueError as error:
        error_line(error)
        return EXIT_USAGE
    print(json.dumps(result, indent=2))
    return EXIT_OK if result["prediction_file_status"] == "VALIDATED" else EXIT_FAILED


def _report(args: argparse.Namespace) -> int:
    from wizard.pipeline import Pipeline

    answers = _load(args.answers)
    root = args.answers.resolve().parent
    pipe = Pipeline(answers, root, answers_path=args.answers.resolve(), on_event=print_event)
    pipe.report(args.out or pipe.work / "report")
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    # Generated, not copied from templates/ (which an installed wheel does not carry).
    from rich.text import Text

    from wizard.answers_reference import reference_toml
    from wizard.files import write_text_atomic
    from wizard.init_answers import discover
    from wizard.validators import show

    shown = show(str(args.path))
    try:
        if args.path.exists():
            error_line(f"{shown} exists: choose another name or remove it")
            return EXIT_USAGE
        if not args.path.parent.is_dir():
            error_line(f"{shown}: the folder {show(str(args.path.parent))} does not exist: "
                       "create it first, or give a path in an existing folder")
            return EXIT_USAGE
        found = discover(args.path.resolve().parent / "model")
        write_text_atomic(args.path, reference_toml(found.values))
    except OSError as error:
        error_line(f"{shown}: cannot write it: {error.strerror or error}: give a shorter "
                   "path in a folder you can write to")
        return EXIT_USAGE
    for note in found.notes:
        console.print(Text("  " + note))
    say(f"wrote {args.path}: fill it in, then `objectnet-wizard run --answers {args.path}`")
    return EXIT_OK


def _debug_traceback() -> None:
    """With OBJECTNET_WIZARD_DEBUG=1, the traceback of the error being handled, with the
    library error it was raised from (docker-py's, pip's, the OS's) above it; the one-line
    message still follows. Call it from inside an `except` block."""
    if os.environ.get("OBJECTNET_WIZARD_DEBUG"):
        console.print_exception()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "tui"):
            from wizard.tui.app import run_tui

            return run_tui(args.answers)
        handler = {"run": _run, "render": _run, "check": _check, "validate": _validate,
                   "report": _report, "init": _init}[args.command]
        return handler(args)
    except AnswersError as error:
        _debug_traceback()
        for line in error.lines:
            error_line(line)
        return EXIT_USAGE
    except WizardError as error:
        _debug_traceback()
        error_line(error)
        return _exit_code(error)
    except KeyboardInterrupt:
        console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug of ours or a library's: one line, traceback on request
        _debug_traceback()
        first = (str(error).strip().splitlines() or [""])[0]
        error_line(f"unexpected {type(error).__name__}: {first} (set "
                   "OBJECTNET_WIZARD_DEBUG=1 for the traceback, and please report it)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
