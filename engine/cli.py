"""Command line compatible with the ObjectNet demo's objectnet_eval.py, plus the engine's own
options. Parses once into an immutable Config and hands it to run()."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional

from engine import __version__
from engine.config import PRECISIONS, Config
from engine.errors import EngineError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3

_TRUE = ("true", "t", "1", "yes", "y", "on")
_FALSE = ("false", "f", "0", "no", "n", "off")

EPILOG = """\
exit codes:
  0  every image was predicted
  1  the run failed after it started (the message says why)
  2  usage or configuration error, found before any image was read
  3  finished, but some images were unreadable (named above; their rows hold -1 ids)
  130 interrupted (no predictions file is left behind)
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
    parser.add_argument("--batch_size", "--batch-size", type=_positive, default=96, metavar="N",
                        help="images per batch and per GPU (default: 96)")
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
    )


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


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    config = _config(args)
    # Imported here so --help answers without loading torch.
    from engine.report import make_reporter
    from engine.run import run

    reporter = make_reporter(sys.stderr)
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
    except KeyboardInterrupt:
        reporter.close()
        print("interrupted: no predictions file was written", file=sys.stderr)
        return 130
    except Exception as error:  # the model or torch failing mid-run
        reporter.close()
        print(failure_line(error), file=sys.stderr)
        return EXIT_FAILED
    reporter.close()
    reporter.summary(summary)
    return EXIT_UNREADABLE if summary.unreadable else EXIT_OK
