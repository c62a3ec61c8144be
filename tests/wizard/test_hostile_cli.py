"""Hostile values through `objectnet-wizard` (issue 12): markup in any value, types that
only look right, numbers past any sensible bound, a BOM, impossible paths, and an image
name made to make a backtracking pattern hang. Each gets one line and exit 2, in time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

EXIT_USAGE = 2


def wizard(*args: object, cwd: Path = REPO, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wizard", *[str(a) for a in args]],
                          cwd=str(cwd), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80"})


def _one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == EXIT_USAGE, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "unexpected" not in lines[0], lines[0]
    return lines[0]


def _error_line(result: subprocess.CompletedProcess) -> str:
    """The one error line of a command that got as far as its stages (their headings and
    check rows come before it), exit 2."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == EXIT_USAGE, result.stderr
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "unexpected" not in errors[0], errors[0]
    return errors[0]


def _set(project: Path, setting: str, value: str | None) -> Path:
    """The answers file with `setting = value` (TOML as written) in place of its line, or
    without the setting when `value` is None."""
    answers = project / "answers.toml"
    text = "\n".join(line for line in answers.read_text().splitlines()
                     if not line.startswith(f"{setting} ="))
    answers.write_text(f"{text}\n" + (f"{setting} = {value}\n" if value is not None else ""))
    return answers


@pytest.mark.parametrize("value", ["[/]", "[bold]x", "a[/red]b"])
def test_markup_in_an_answer_is_shown_as_typed(project: Path, value: str) -> None:
    answers = _set(project, "model_class", f'"{value}"')
    line = _one_line(wizard("render", "--answers", answers))
    assert f'"{value}"' in line and "model_class" in line


def test_markup_in_the_answers_path_is_shown_as_typed(tmp_path: Path) -> None:
    line = _one_line(wizard("render", "--answers", tmp_path / "x[/]y.toml"))
    assert "x[/]y.toml" in line and "no such file" in line


@pytest.mark.parametrize(("setting", "value"), [
    ("trust_checkpoint", '"yes"'), ("trust_checkpoint", "1"), ("softmax", '"false"'),
    ("batch_size", "true"), ("batch_size", "1180591620717411303424"), ("batch_size", "8.0"),
    ("batch_size", '"8"'), ("workers", "100000"), ("gpus", "4096"),
    ("convert_outputs_mode", "true"),
])
def test_values_of_the_wrong_type_or_out_of_bounds_are_refused(project: Path, setting: str,
                                                               value: str) -> None:
    answers = _set(project, setting, value)
    line = _one_line(wizard("render", "--answers", answers))
    assert setting in line, line
    assert not (project / "Dockerfile").exists()


def test_a_bom_is_named_as_the_cause(project: Path) -> None:
    answers = project / "answers.toml"
    answers.write_bytes(b"\xef\xbb\xbf" + answers.read_bytes())
    line = _one_line(wizard("render", "--answers", answers))
    assert "BOM" in line and "answers.toml" in line


def test_init_into_a_missing_folder(tmp_path: Path) -> None:
    line = _one_line(wizard("init", tmp_path / "missing" / "answers.toml"))
    assert "missing" in line


def test_init_with_a_path_too_long(tmp_path: Path) -> None:
    line = _one_line(wizard("init", tmp_path / ("a" * 5000 + ".toml")))
    assert len(line) < 400, "the path is shortened, not printed whole"


def test_an_image_name_made_to_backtrack_is_refused_at_once(project: Path) -> None:
    # 35 characters then ':' used to take over a minute in a backtracking pattern.
    answers = _set(project, "base_image", '"' + "a" * 35 + ':"')
    line = _one_line(wizard("render", "--answers", answers, timeout=20))
    assert "base_image" in line


@pytest.mark.parametrize("what", ["fifo", "device", "huge"])
@pytest.mark.parametrize("command", ["render", "check", "run"])
def test_an_answers_path_that_is_no_file_is_refused_at_once(tmp_path: Path, what: str,
                                                            command: str) -> None:
    """A FIFO as --answers waited forever for a writer, /dev/zero read until memory ran out
    (hostile testing, issue 12); a file of megabytes is some other file. One line, exit 2,
    nothing read past the first megabyte."""
    if what == "fifo":
        path = tmp_path / "answers.toml"
        os.mkfifo(path)
    elif what == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "answers.toml"
        path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    line = _one_line(wizard(command, "--answers", path, timeout=20))
    assert str(path) in line
    assert {"fifo": "is a FIFO, not a file", "device": "is a character device, not a file",
            "huge": "is over a megabyte"}[what] in line, line


@pytest.mark.parametrize("what", ["fifo", "device"])
def test_validate_refuses_what_is_not_a_file(tmp_path: Path, what: str) -> None:
    """`validate` on /dev/zero read one endless line until memory ran out; on a FIFO it
    waited forever. Both engine entry points refuse it, as the predictions or answers file."""
    path = Path("/dev/zero") if what == "device" else tmp_path / "predictions.csv"
    if what == "fifo":
        os.mkfifo(path)
    line = _one_line(wizard("validate", path, timeout=20))
    assert f"predictions file {path} is not a regular file" in line, line
    good = tmp_path / "good.csv"
    good.write_text("a.png,1,0.5,2,0.2,3,0.1,4,0.1,5,0.1\n")
    scored = subprocess.run([sys.executable, "-m", "engine.validate", good, "--answers", path],
                            cwd=str(REPO), capture_output=True, text=True, timeout=20)
    assert scored.returncode == EXIT_USAGE, scored.stderr
    assert "is not a regular file" in scored.stderr and "Traceback" not in scored.stderr


def test_a_folder_where_the_dockerfile_goes_is_one_line(project: Path) -> None:
    """`render` over a folder named Dockerfile was an "unexpected IsADirectoryError", exit 1
    (hostile testing, issue 12): the project is not as the wizard needs it, exit 2."""
    (project / "Dockerfile").mkdir()
    line = _error_line(wizard("render", "--answers", project / "answers.toml"))
    assert f"{project / 'Dockerfile'} is a folder" in line, line
    assert (project / "Dockerfile").is_dir()


def test_render_and_check_agree_on_a_missing_model_folder(project: Path) -> None:
    """The same missing model folder was exit 2 from `check` and `run`, and exit 1 from
    `render` (hostile testing, issue 12): a project the Dockerfile cannot be rendered for is
    the user's to fix."""
    answers = _set(project, "model_dir", '"models"')
    for command in (["render"], ["run", "--until", "build"]):
        line = _error_line(wizard(*command, "--answers", answers))
        assert "models does not exist" in line and "check the model_dir setting" in line, \
            (command, line)
    # `check` gave the engine's advice ("pass --model-dir", a flag of another command) and
    # blamed model_exclude; its row now names the setting.
    checked = wizard("check", "--answers", answers)
    assert checked.returncode == EXIT_USAGE, checked.stderr
    assert "model_dir" in checked.stderr and "Traceback" not in checked.stderr
    assert "--model-dir" not in checked.stderr and "model_exclude" not in checked.stderr
    assert "offline-ready" not in checked.stderr, "no code was scanned"


def test_check_refuses_the_symlinked_checkpoint_render_refuses(project: Path) -> None:
    """`check` said ready for a checkpoint that is a symbolic link, and `render` then
    refused it (Docker copies the link): both say so now, exit 2 (hostile testing)."""
    import tomllib

    answers = project / "answers.toml"
    settings = tomllib.loads(answers.read_text())
    checkpoint = project / settings.get("model_dir", "model") / settings["checkpoint"]
    real = project / "weights.pth"
    checkpoint.rename(real)
    checkpoint.symlink_to(real)
    checked = wizard("check", "--answers", answers)
    assert checked.returncode == EXIT_USAGE, checked.stderr
    assert "symbolic" in checked.stderr and "not ready" in checked.stderr
    line = _error_line(wizard("render", "--answers", answers))
    assert "is a symbolic link" in line, line


def test_a_missing_smoke_images_folder_is_found_by_check(project: Path) -> None:
    """`check` passed a smoke_images folder that is not there, and `run` then failed at its
    smoke stage, exit 1 (hostile testing): `check` names it, and `run` stops at its check."""
    answers = _set(project, "smoke_images", '"no-such-images"')
    checked = wizard("check", "--answers", answers)
    assert checked.returncode == EXIT_USAGE, checked.stderr
    assert "no-such-images" in checked.stderr and "not ready" in checked.stderr
    ran = wizard("run", "--answers", answers, "--until", "build")
    line = _error_line(ran)
    assert "no-such-images does not exist" in line and "smoke_images" in line, line
    assert "Local smoke run" not in ran.stderr


def test_an_unattended_push_without_credentials_stops_before_anything_runs(
        project: Path) -> None:
    """With no terminal to prompt on and no token, `run` built the image and only then said
    the push needs credentials, exit 1 (hostile testing): it says so first, exit 2."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("SYNAPSE_AUTH_TOKEN", "SYNAPSE_USERNAME")}
    result = subprocess.run([sys.executable, "-m", "wizard", "run", "--answers",
                             str(project / "answers.toml"), "--username", "someone"],
                            cwd=str(REPO), capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, env=env)
    line = _error_line(result)
    assert "needs a user name" in line and "SYNAPSE_AUTH_TOKEN" in line, line
    assert "Rendering" not in result.stderr and not (project / "Dockerfile").exists()


def test_report_without_labels_stops_before_the_smoke_run(project: Path,
                                                          tmp_path: Path) -> None:
    """`report` ran the whole smoke run before finding the images carry no labels, then
    exited 1: it is the answers' to fix (exit 2), said before anything runs."""
    from wizard.samples import make_images

    make_images(project / "unlabelled", 3)
    for value, said in (('"unlabelled"', "carry no labels"), (None, "smoke_images")):
        answers = _set(project, "smoke_images", value)
        result = wizard("report", "--answers", answers, "--out", tmp_path / "report")
        line = _error_line(result)
        assert said in line, line
        assert "Local smoke run" not in result.stderr + result.stdout
        assert not (tmp_path / "report").exists()


def test_validate_help_lists_its_exit_codes() -> None:
    shown = wizard("validate", "--help").stdout
    assert "exit codes:" in shown
    assert "0    VALIDATED" in shown and "1    INVALID" in shown and "2    " in shown
