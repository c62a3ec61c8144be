"""The runner profile's settings: parsing and the messages for bad values."""

from __future__ import annotations

import pytest
from projects import tiny_answers

from wizard import validators
from wizard.answers_messages import validate_partial
from wizard.runner_profile import RunnerProfile, Usage, show_size, usage_lines


@pytest.mark.parametrize(("text", "size"), [
    ("32g", 32 * 1024 ** 3), ("12GB", 12 * 1024 ** 3), ("512m", 512 * 1024 ** 2),
    ("1.5g", int(1.5 * 1024 ** 3)), ("2GiB", 2 * 1024 ** 3), ("100000", 100000)])
def test_sizes_read_as_docker_reads_them(text, size):
    assert validators.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "g", "32 gigs", "-1g", "1e9", "32g32g"])
def test_bad_sizes_say_how_to_write_one(text):
    with pytest.raises(ValueError, match=r"e\.g\. 32g"):
        validators.parse_size(text)


def test_memory_below_dockers_minimum_is_refused():
    with pytest.raises(ValueError, match="below the 6m Docker allows"):
        validators.memory_size("1m")


@pytest.mark.parametrize("text", ["1000:1000", "nobody", "1000", "app:app"])
def test_users_docker_accepts(text):
    assert validators.user_spec(text) == text


@pytest.mark.parametrize("text", ["1000:", "root user", "$(id)", ":1000"])
def test_users_docker_refuses(text):
    with pytest.raises(ValueError, match=r"e\.g\. 1000:1000"):
        validators.user_spec(text)


def test_answers_carry_the_objectnet_runner_by_default():
    profile = RunnerProfile.from_answers(tiny_answers())
    assert profile == RunnerProfile()
    assert (profile.memory_bytes, profile.shm_bytes) == (32 * 1024 ** 3, 12 * 1024 ** 3)
    assert profile.time_limit_hours is None and profile.strict == "warn"


def test_bad_runner_answers_get_one_line_each():
    errors = validate_partial({"runner_memory": "lots", "runner_strict": "maybe",
                               "runner_time_limit_hours": -2}).errors
    assert "e.g. 32g" in errors["runner_memory"]
    assert '"warn", "require" or "skip"' in errors["runner_strict"]
    assert "above 0" in errors["runner_time_limit_hours"]


def test_usage_lines_name_the_limits():
    lines = usage_lines(Usage(3 * 1024 ** 3, None), RunnerProfile(memory="4g"))
    assert lines[0] == "peak memory: 3.0 GiB of the 4.0 GiB limit (75%)"
    assert lines[1].startswith("peak /dev/shm: not measured")
    assert show_size(1536) == "1.5 KiB"
