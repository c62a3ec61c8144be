"""The core session the TUI drives, tested without Textual: opening an answers file as a draft,
the one overwrite policy, the step to open at, display paths and the pipeline's lifetime."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from projects import make_project, tiny_answers

from wizard.answers_file import load_answers, save_answers
from wizard.session import Session, defaults


def test_a_new_project_starts_from_the_defaults_and_may_save(tmp_path: Path) -> None:
    session = Session.open(None, tmp_path)
    assert session.draft == defaults()
    assert session.answers_path == tmp_path.resolve() / "answers.toml"
    assert not session.opened and session.may_save and not session.unsaved
    assert session.answers() is None
    step, error = session.first_incomplete()
    assert step == "model" and error


def test_an_answers_file_not_named_is_not_replaced_without_asking(tmp_path: Path) -> None:
    (tmp_path / "answers.toml").write_text("# the user's own notes\n")
    session = Session.open(None, tmp_path)
    assert not session.opened and not session.may_save


def test_an_invalid_file_prefills_what_it_has_and_may_be_replaced(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text('model_class = "tiny"\nbatch_size = -3\n')
    session = Session.open(path, tmp_path)
    assert session.opened and session.load_problems
    assert session.draft["model_class"] == "tiny" and session.draft["batch_size"] == -3
    assert session.may_save  # it was read, so saving the fixed answers over it is expected


def test_a_file_that_is_not_toml_is_never_overwritten_silently(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    path.write_text("this is not [toml\n")
    session = Session.open(path, tmp_path)
    assert session.load_problems and session.draft == defaults()
    assert not session.may_save


def test_set_save_and_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    session = Session.open(path, tmp_path)
    assert not session.up_to_date  # no file yet
    for name, value in tiny_answers().model_dump(exclude_none=True).items():
        session.set(name, value)
    assert session.unsaved
    assert session.save() == "saved answers.toml"
    assert not session.unsaved and session.up_to_date
    assert load_answers(path) == session.answers() == tiny_answers()
    session.set("tag", None)  # an emptied field leaves the draft
    assert "tag" not in session.draft and session.unsaved and not session.up_to_date


def test_complete_answers_open_at_review_or_at_a_missing_checkpoint(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    save_answers(tiny_answers(), project / "answers.toml")
    assert Session.open(project / "answers.toml", project).first_step_to_fix() == "review"
    (project / "model" / "tiny.pth").unlink()
    assert Session.open(project / "answers.toml", project).first_step_to_fix() == "model"
    text = (project / "answers.toml").read_text().replace('tag = "v1"', 'tag = "not a tag!"')
    (project / "answers.toml").write_text(text)
    assert Session.open(project / "answers.toml", project).first_step_to_fix() == "registry"


def test_paths_are_shown_relative_to_the_project(tmp_path: Path) -> None:
    session = Session.open(None, tmp_path)
    root = tmp_path.resolve()
    assert session.show_path(root / "model" / "tiny.pth") == str(Path("model", "tiny.pth"))
    assert session.show_path(Path("/elsewhere/x")) == "/elsewhere/x"
    assert session.short(f"cannot read {root}/model/tiny.pth in {root}") == \
        "cannot read model/tiny.pth in ."


def test_the_pipeline_follows_the_answers(tmp_path: Path) -> None:
    session = Session.open(None, tmp_path)
    assert session.pipeline() is None  # incomplete answers have no pipeline
    for name, value in tiny_answers().model_dump(exclude_none=True).items():
        session.set(name, value)
    events: list[object] = []
    session.on_event = events.append
    first = session.pipeline()
    assert first is not None and first.answers == tiny_answers()
    assert session.pipeline() is first  # same answers, same run state
    session.set("tag", "v2")
    assert session.pipeline(keep=True) is first  # a running stage keeps its pipeline
    second = session.pipeline()
    assert second is not first and second.answers.tag == "v2"
    assert second.cancel is session.cancel
    second.emit("hello")
    assert events == ["hello"]


def test_the_save_state_says_what_changed_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "answers.toml"
    save_answers(tiny_answers(), path)
    path.write_text("# the user's notes\n" + path.read_text())
    before = path.read_text()
    session = Session.open(path, tmp_path)
    assert session.changed() == [] and session.save_state() == "answers.toml is up to date"
    session.set("tag", "v2")
    session.set("batch_size", 4)
    assert session.changed() == ["batch_size", "tag"]  # in the answers file's order
    assert session.save_state() == ("answers.toml is not saved: batch_size, tag changed; "
                                    "ctrl+s saves these answers")
    assert path.read_text() == before
    session.save()
    assert session.changed() == [] and session.save_state() == "answers.toml is up to date"


def test_the_save_state_of_a_new_file_and_of_one_not_opened(tmp_path: Path) -> None:
    session = Session.open(None, tmp_path)
    assert session.save_state() == "answers.toml is not saved yet: ctrl+s saves these answers"
    (tmp_path / "answers.toml").write_text("# someone else's\n")
    session = Session.open(None, tmp_path)
    assert not session.up_to_date  # it exists, but this session never read it
    assert session.save_state() == ("answers.toml was not opened here and is left as it is: "
                                    "ctrl+s replaces it")


def test_an_answers_file_to_open_must_be_a_file(tmp_path: Path) -> None:
    from wizard.session import answers_file_to_open

    (tmp_path / "mine.toml").write_text("")
    (tmp_path / "folder").mkdir()
    assert answers_file_to_open(" mine.toml ", tmp_path) == (tmp_path / "mine.toml").resolve()
    for typed, said in (("", "type the path of an answers file, or start new"),
                        ("nope.toml", '"nope.toml" does not exist: give the path of an '
                         "answers file (e.g. answers.toml), or start new"),
                        ("folder", '"folder" is a folder: give the path'),
                        ("x" * 5000, "cannot be opened")):
        with pytest.raises(ValueError, match=re.escape(said)):
            answers_file_to_open(typed, tmp_path)


def test_prefill_fills_only_what_is_still_a_default(tmp_path: Path) -> None:
    session = Session.open(None, tmp_path)
    session.set("model_class", "mine")
    session.prefill({"model_class": "tiny", "checkpoint": "tiny.pth", "not_a_field": "x"})
    assert session.draft["model_class"] == "mine"
    assert session.draft["checkpoint"] == "tiny.pth" and "not_a_field" not in session.draft
    assert session.unsaved and not (tmp_path / "answers.toml").exists()


def test_field_error_is_the_core_message_without_the_field_name() -> None:
    from wizard.session import REQUIRED, field_error

    assert field_error("model_class", None) == REQUIRED
    assert field_error("tag", None) is None  # optional: blank is its default
    assert field_error("batch_size", 8) is None
    error = field_error("batch_size", -3)
    assert error is not None and "-3" in error and not error.startswith("batch_size:")
    assert field_error("synapse_project_id", "12345") is not None
