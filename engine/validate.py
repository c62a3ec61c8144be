"""Check a predictions.csv the way the ObjectNet challenge scorer does, and score it.

Usage: ``python -m engine.validate PREDICTIONS [--answers ANSWERS.json | --images-dir DIR]``

Prints the scorer's JSON (keys prediction_file_status, prediction_file_errors, accuracy,
top5_accuracy, images_scored, total_images) and exits 0 when VALIDATED, 1 when INVALID, 2 when
a file cannot be used at all. ANSWERS.json maps image file name to ObjectNet id. DIR is
ObjectNet's own layout (``objectnet-1.0/images/<folder>/<file>.png``): the folder each image
sits in is its answer (see engine/labels.py), so no answers file is needed.

Rules shared with the demo's validate_and_score.py, so a file passing here passes there:
no header; the first field is the image name (a leading directory is ignored); a name missing
from the answers, or seen twice, makes the file INVALID; ids are integers in -1..312 (an
empty id field counts as -1); top-1 = first id equals the answer, top-5 = answer among the
five; images missing from the file count as wrong; confidences do not affect the score.
Accuracies are percentages (0-100) of all answer images, as the scorer reports them.

Stricter than the scorer, because each of these means the writer is broken even where the
scorer would still count the file: every row has exactly 11 fields (name, then five
id,confidence pairs), confidences are finite numbers, and an empty file is INVALID (the
challenge runner wrote an empty file when a container wrote none). Unlike the scorer, which
stops at the first problem, every problem is listed (the first 20, then a count).

Without answers only the format is checked: accuracy fields are null and total_images is the
number of rows. Needs only the standard library.
"""

import argparse
import csv
import json
import math
import os
import sys
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .labels import answers_from_folders
from .mapping import NO_CLASS, NUM_OBJECTNET_CLASSES, TOP_K
from .regular import NotRegularFile, open_regular

FIELDS_PER_ROW = 1 + 2 * TOP_K
MAX_LISTED_ERRORS = 20
MIN_ID = NO_CLASS
MAX_ID = NUM_OBJECTNET_CLASSES - 1

Field = Union[str, int, float]
AnswersSource = Union[str, "os.PathLike[str]", Mapping[str, int]]


def load_answers(source: AnswersSource) -> Dict[str, int]:
    """Answers as a dict of image name -> ObjectNet id, from a JSON file path or a mapping.

    Raises ValueError with a one-line message when the answers cannot be used.
    """
    if isinstance(source, Mapping):
        data: Any = source
        where = "answers"
    else:
        where = f"answers file {os.fspath(source)}"
        try:
            with open_regular(source, text=True, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"{where} not found: pass an existing answers JSON") from None
        except NotRegularFile as kind:
            raise ValueError(f"{where} is not a regular file ({kind}): pass the answers "
                             "JSON file itself") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"{where} cannot be read: {e}") from None
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{where} is not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}"
            ) from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a JSON object of image name -> ObjectNet id, "
                         f"got {type(data).__name__}")
    if not data:
        raise ValueError(f"{where} lists no images: nothing to score against")
    answers = {}
    for name, answer in data.items():
        if not isinstance(name, str) or isinstance(answer, bool) or not isinstance(answer, int):
            raise ValueError(f"{where}: entry {name!r}: {answer!r} must be an integer "
                             "ObjectNet id keyed by image file name")
        answers[name] = answer
    return answers


def validate_rows(rows: Iterable[Sequence[Field]],
                  answers: Optional[AnswersSource] = None) -> Dict[str, Any]:
    """Validate (and with answers, score) in-memory rows; row n (from 1) is reported as line n.

    Fields may be strings as read from the CSV, or ints/floats as the engine holds them.
    """
    return _validate(enumerate(rows, start=1), None if answers is None else load_answers(answers))


def validate_file(path: Union[str, "os.PathLike[str]"],
                  answers: Optional[AnswersSource] = None) -> Dict[str, Any]:
    """Validate (and with answers, score) a predictions CSV file.

    Raises ValueError with a one-line message when the file or the answers cannot be opened;
    problems with the file's content are reported in the result, not raised.
    """
    where = os.fspath(path)
    if not os.path.exists(where):
        raise ValueError(f"predictions file {where} not found: pass the CSV the engine wrote")
    if os.path.isdir(where):
        raise ValueError(f"predictions file {where} is a directory: pass the CSV file itself")
    loaded = None if answers is None else load_answers(answers)
    try:
        with open_regular(where, text=True, encoding="utf-8", newline="") as f:
            return _validate(_read_csv(f), loaded)
    except NotRegularFile as kind:
        raise ValueError(f"predictions file {where} is not a regular file ({kind}): pass the "
                         "CSV file the engine wrote") from None
    except OSError as e:
        raise ValueError(f"predictions file {where} cannot be read: {e}") from None


class _Unreadable(Exception):
    """The rest of the file cannot be parsed; carries the line where parsing stopped."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _read_csv(f: Iterable[str]) -> Iterator[Tuple[int, List[str]]]:
    reader = csv.reader(f)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            # Decoding runs ahead in blocks, so the bad byte is at or after this line.
            raise _Unreadable(reader.line_num + 1, "not UTF-8 text at or after this line") \
                from None
        except csv.Error as e:
            raise _Unreadable(reader.line_num, f"not readable as CSV ({e})") from None
        yield reader.line_num, row


def _parse_id(field: Field) -> Optional[int]:
    if isinstance(field, bool):
        return None
    if isinstance(field, int):
        return field
    if isinstance(field, str):
        if field == "":
            return NO_CLASS  # the scorer reads an empty id as "no prediction"
        try:
            return int(field)  # same parse as the scorer: surrounding spaces allowed
        except ValueError:
            return None
    return None


def _parse_confidence(field: Field) -> Optional[float]:
    if isinstance(field, bool) or not isinstance(field, (str, int, float)):
        return None
    try:
        value = float(field)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _row_problems(row: Sequence[Field]) -> Tuple[List[str], List[int]]:
    """Problems with a row's 11 fields, and its five ids when there are none."""
    if len(row) != FIELDS_PER_ROW:
        return [f"has {len(row)} fields, expected {FIELDS_PER_ROW} "
                "(image name, then five id,confidence pairs)"], []
    problems = []
    ids = []
    for rank in range(TOP_K):
        id_field, conf_field = row[1 + 2 * rank], row[2 + 2 * rank]
        value = _parse_id(id_field)
        if value is None:
            problems.append(f"id {rank + 1} is {id_field!r}, not an integer")
        elif not MIN_ID <= value <= MAX_ID:
            problems.append(f"id {rank + 1} is {value}, outside {MIN_ID}..{MAX_ID}")
        else:
            ids.append(value)
        if _parse_confidence(conf_field) is None:
            problems.append(f"confidence {rank + 1} is {conf_field!r}, not a finite number")
    return problems, ids


def _looks_like_header(row: Sequence[Field]) -> bool:
    """Column titles rather than an image name (names have an extension) and an id."""
    return (len(row) > 1 and "." not in str(row[0]) and isinstance(row[1], str)
            and _parse_id(row[1]) is None)


def _validate(numbered_rows: Iterable[Tuple[int, Sequence[Field]]],
              truth: Optional[Dict[str, int]]) -> Dict[str, Any]:
    errors: List[str] = []
    first_line: Dict[str, int] = {}
    rows = scored = top1 = top5 = 0
    try:
        for line, row in numbered_rows:
            rows += 1
            if not row:
                errors.append(f"line {line}: empty line: the scorer rejects it; remove it")
                continue
            if rows == 1 and _looks_like_header(row):
                errors.append(f"line {line}: looks like a header row {list(row[:3])!r}...: "
                              "predictions.csv has no header; remove it")
                continue
            raw_name = str(row[0])
            if rows == 1 and raw_name.startswith("\ufeff"):
                errors.append(f"line {line}: file starts with a byte-order mark, which the "
                              "scorer reads as part of the image name: write plain UTF-8")
            name = raw_name.rsplit("/", 1)[-1]  # the scorer drops a leading directory
            row_errors = []
            if not name:
                row_errors.append("image name is empty")
            elif truth is not None and name not in truth:
                row_errors.append(f"image {name!r} is not in the answers")
            if name in first_line:
                row_errors.append(f"image {name!r} repeats line {first_line[name]}")
            else:
                first_line[name] = line
            problems, ids = _row_problems(row)
            row_errors.extend(problems)
            if row_errors:
                errors.extend(f"line {line}: {problem}" for problem in row_errors)
                continue
            scored += 1
            if truth is not None:
                top1 += ids[0] == truth[name]
                top5 += truth[name] in ids
    except _Unreadable as e:
        errors.append(f"line {e.line}: {e.problem}; stopped reading here")
    if not errors and rows == 0:
        errors.append("line 1: file is empty: expected one row per image")
    return _result(errors, truth, rows, scored, top1, top5)


def _result(errors: List[str], truth: Optional[Dict[str, int]], rows: int, scored: int,
            top1: int, top5: int) -> Dict[str, Any]:
    valid = not errors
    listed = errors[:MAX_LISTED_ERRORS]
    if len(errors) > MAX_LISTED_ERRORS:
        listed.append(f"... and {len(errors) - MAX_LISTED_ERRORS} more errors")
    total = len(truth) if truth is not None else rows
    score = valid and truth is not None
    return {
        "prediction_file_status": "VALIDATED" if valid else "INVALID",
        "prediction_file_errors": listed,
        "accuracy": 100.0 * top1 / total if score else None,
        "top5_accuracy": 100.0 * top5 / total if score else None,
        "images_scored": scored,
        "total_images": total,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.validate",
        description="Check a predictions.csv as the ObjectNet challenge scorer does; with "
                    "answers, also score it (accuracies in percent).")
    parser.add_argument("predictions", metavar="PREDICTIONS", help="the predictions CSV to check")
    truth = parser.add_mutually_exclusive_group()
    truth.add_argument("--answers", "-a", metavar="ANSWERS.json",
                       help="JSON object mapping image file name to ObjectNet id")
    truth.add_argument("--images-dir", metavar="DIR",
                       help="ObjectNet's images folder (DIR/<class folder>/<file>.png): score "
                       "against the folder each image sits in")
    args = parser.parse_args(argv)
    try:
        answers: Optional[AnswersSource] = args.answers
        if args.images_dir is not None:
            answers = answers_from_folders(args.images_dir)
        result = validate_file(args.predictions, answers)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result["prediction_file_status"] == "VALIDATED" else 1


if __name__ == "__main__":
    sys.exit(main())
