"""Command line compatible with the ObjectNet demo's objectnet_eval.py, plus the engine's own
options. Parses once into an immutable Config and hands it to run()."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional

from engine import __version__
from engine.config import MAX_IMAGE_MB, MB, PRECISIONS, Config
from engine.errors import EngineError, Terminated

if TYPE_CHECKING:  # pragma: no cover
    from engine.report import PlainReporter

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM

# Upper bounds that keep a typo from overflowing deep inside torch: far above any real use.
MAX_BATCH = 1 << 20
MAX_IMAGE_MB_LIMIT = 1 << 20

_TRUE = ("true", "t", "1", "yes", "y", "on")
_FALSE = ("false", "f", "0", "no", "n", "off")

EPILOG = """\
exit codes:
  0  every image was predicted
  1  the run failed after it started (the message says why)
  2  usage or configuration error, found before any image was read
  3  finished, but some images got no prediction (unreadable, not a regular file, over
     --max-image-mb, or NaN/Inf scores; named above, their rows hold -1 ids)
  130 interrupted by Ctrl-C, 143 terminated by SIGTERM (no predictions file is left behind)
"""


def parse_bool(text: str) -> bool:
    """The demo's --softmax used argparse type=bool, so "False" was True; accept real words."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError("expected true/false, yes/no or 1/0, got %r" % text)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more, got %d" % value)
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be 1 or more, got 0")
    return value


def _at_most(limit: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _positive(text)
        if value > limit:
            raise argparse.ArgumentTypeError("must be at most %d, got %s" % (limit, text))
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="objectnet-eval",
        description="Evaluate a PyTorch model on ObjectNet images and write predictions.csv "
        "(one row per image: name, then five ObjectNet id/confidence pairs).",
        epilog=EPILOG,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100),
    )
    parser.add_argument("images_dir", metavar="images-dir", type=Path,
                        help="folder of images, searched recursively (folder structure ignored)")
    parser.add_argument("output_file", metavar="output-file", type=Path,
                        help="predictions CSV to write")
    parser.add_argument("model_class", metavar="model-class-name",
                        help="model class name in MODEL_DIR/model_description.py")
    parser.add_argument("checkpoint", metavar="model-checkpoint", type=Path,
                        help="state_dict (.pth/.pt, also nested or DataParallel), safetensors, "
                        "TorchScript, or a pickled model (needs --trust-checkpoint)")
    parser.add_argument("--workers", type=_non_negative, default=None, metavar="N",
                        help="data-loading worker processes (default: the CPU count; 0 = load "
                        "in the main process)")
    parser.add_argument("--gpus", type=_non_negative, default=None, metavar="N",
                        help="GPUs to use (default: all visible; 0 = run on the CPU)")
    parser.add_argument("--batch_size", "--batch-size", type=_at_most(MAX_BATCH), default=96,
                        metavar="N", help="images per batch and per GPU (default: 96)")
    parser.add_argument("--softmax", type=parse_bool, default=True, metavar="T/F",
                        help="turn outputs into probabilities with softmax (default: true)")
    parser.add_argument("--convert_outputs_mode", "--convert-outputs-mode", type=int,
                        choices=(0, 1, 2), default=1, metavar="N",
                        help="0: the model's own class ids; 1: ImageNet-1k ids mapped to "
                        "ObjectNet ids after top-5, as the demo did (default); 2: ImageNet "
                        "scores collapsed onto the 113 ObjectNet classes, then top-5")
    parser.add_argument("--model-dir", "--model_dir", type=Path, default=Path("model"),
                        metavar="DIR", help="folder holding model_description.py and "
                        "data_transform_description.py (default: model)")
    parser.add_argument("--border", type=_non_negative, default=2, metavar="N",
                        help="pixels cropped from each side before the transform (default: 2, "
                        "ObjectNet's red frame)")
    parser.add_argument("--max-image-mb", type=_at_most(MAX_IMAGE_MB_LIMIT),
                        default=MAX_IMAGE_MB, metavar="N",
                        help="an image file larger than this is not read and gets a -1 row "
                        "(default: %d)" % MAX_IMAGE_MB)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output file (default: refuse)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="allow a checkpoint that is a whole pickled model; unpickling runs "
                        "code stored in the file, so only for files you trust")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="fp32 (default, exact) or bf16/fp16 autocast (faster; may change "
                        "some predictions, see --compare-precision)")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (torch 2.0+; slower start, faster batches)")
    parser.add_argument("--plain-load", action="store_true",
                        help="build the model with its random initialisation and read the "
                        "whole checkpoint before copying it in, as the demo did (slower start, "
                        "twice the memory; by default torch 2.1+ skips the initialisation "
                        "where the model class allows it)")
    parser.add_argument("--score", action="store_true",
                        help="when the images carry labels (ObjectNet's class folders "
                        "images/<folder>/<file>.png, or an answers.json at the top of "
                        "images-dir), also report top-1 and top-5 of conversions 1 and 2 (or 0 "
                        "for a model with ObjectNet outputs) from the same forward pass, and "
                        "which scores better; predictions.csv holds --convert_outputs_mode")
    parser.add_argument("--compare-precision", action="store_true",
                        help="instead of predicting, run a sample of the images in fp32 and "
                        "with the chosen --precision/--compile, print how often their top-1 "
                        "and top-5 agree and the speed of each, and exit without writing "
                        "predictions")
    parser.add_argument("--compare-sample", type=_positive, default=500, metavar="N",
                        help="images for --compare-precision, evenly spread (default: 500)")
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    return parser


def config_from_args(argv: Optional[List[str]] = None) -> Config:
    return _config(build_parser().parse_args(argv))


def _config(args: argparse.Namespace) -> Config:
    return Config(
        images_dir=args.images_dir,
        output_file=args.output_file,
        model_class=args.model_class,
        checkpoint=args.checkpoint,
        model_dir=args.model_dir,
        workers=args.workers,
        gpus=args.gpus,
        batch_size=args.batch_size,
        softmax=args.softmax,
        convert_outputs_mode=args.convert_outputs_mode,
        border=args.border,
        overwrite=args.overwrite,
        trust_checkpoint=args.trust_checkpoint,
        precision=args.precision,
        compile=args.compile,
        fast_load=not args.plain_load,
        score=args.score,
        max_image_bytes=args.max_image_mb * MB,
    )


_DEFAULTS = Config(Path("."), Path("."), "", Path("."))


def to_argv(config: Config) -> List[str]:
    """The command line that parses back into `config` (the inverse of config_from_args, for
    every setting the command line carries). The settings a user chooses for an image are always
    spelled out, so `docker inspect` shows them; the rest only when they differ from the
    default. Options given after these (`docker run IMAGE --batch_size 32`) win."""
    argv = [str(config.images_dir), str(config.output_file), config.model_class,
            str(config.checkpoint), "--model-dir", str(config.model_dir),
            "--batch_size", str(config.batch_size),
            "--softmax", "true" if config.softmax else "false",
            "--convert_outputs_mode", str(config.convert_outputs_mode),
            "--precision", config.precision]
    if config.workers is not None:
        argv += ["--workers", str(config.workers)]
    if config.gpus is not None:
        argv += ["--gpus", str(config.gpus)]
    if config.border != _DEFAULTS.border:
        argv += ["--border", str(config.border)]
    if config.max_image_bytes != _DEFAULTS.max_image_bytes:
        # The command line counts whole MB; a Config between two MB keeps the larger cap.
        argv += ["--max-image-mb", str(-(-config.max_image_bytes // MB))]
    for flag, on in (("--overwrite", config.overwrite),
                     ("--trust-checkpoint", config.trust_checkpoint),
                     ("--compile", config.compile),
                     ("--score", config.score),
                     ("--plain-load", not config.fast_load)):
        if on:
            argv.append(flag)
    return argv


def failure_line(error: BaseException) -> str:
    """One line for a failure nobody planned for, last in the log (the challenge keeps only the
    last lines); the traceback comes before it with OBJECTNET_ENGINE_DEBUG=1."""
    if os.environ.get("OBJECTNET_ENGINE_DEBUG"):
        traceback.print_exception(type(error), error, error.__traceback__)
    lines = str(error).strip().splitlines()
    text = "%s: %s" % (type(error).__name__, lines[0] if lines else "")
    hint = "set OBJECTNET_ENGINE_DEBUG=1 for the traceback"
    if "out of memory" in text.lower():
        hint = "lower --batch_size, then " + hint
    return "error: the run failed while predicting (%s); no predictions file was written: %s" % (
        text, hint)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM as an exception in the main thread, so the run unwinds as on Ctrl-C: the output
    is aborted, loader workers are told to stop, and the reason is printed."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
    raise Terminated()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    config = _config(args)
    # Imported here so --help answers without loading torch.
    from engine.report import make_reporter

    reporter = make_reporter(sys.stderr)
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread can take signals
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(args, config, reporter)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(args: argparse.Namespace, config: Config, reporter: "PlainReporter") -> int:
    from engine.run import run

    try:
        if args.compare_precision:
            from engine.precision import compare

            agreement = compare(config, args.compare_sample, on_progress=reporter.progress)
            reporter.close()
            for line in agreement.lines():
                print(line)
            print("no predictions were written: run without --compare-precision to predict")
            return EXIT_OK
        summary = run(config, on_progress=reporter.progress, log=reporter.log)
    except EngineError as error:
        reporter.close()
        print("error: %s" % error, file=sys.stderr)
        return error.exit_code
    except Terminated:
        reporter.close()
        print("terminated (SIGTERM): no predictions file was written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        reporter.close()
        print("interrupted: no predictions file was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as error:  # user code the boundaries did not catch: never its exit code
        reporter.close()
        print("error: the model's code called sys.exit(%s) during the run; no predictions "
              "file was written" % ("" if error.code is None else repr(error.code)),
              file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # the model or torch failing mid-run
        reporter.close()
        print(failure_line(error), file=sys.stderr)
        return EXIT_FAILED
    reporter.close()
    reporter.summary(summary)
    return EXIT_UNREADABLE if summary.unreadable else EXIT_OK
