"""Checks for every value a user types that ends up in an image name, a path or the Dockerfile.

Each function returns the cleaned value or raises ValueError with one line that names the
value and says how to fix it. The answers model and the TUI's Textual validators only wrap
these, so the rules live in one place. Image references are also parsed here
(`split_reference` and friends): docker_ops refuses a bad one before Docker sees it.
"""

from __future__ import annotations

import keyword
import posixpath
import re

# Docker's reference grammar (distribution/reference): path components of a repository are
# lowercase alphanumerics joined by one separator (`[_.]`, `__` or one or more dashes); a tag
# is a word character then up to 127 word characters, dots or dashes. Every separator takes
# at least one character, so a run of alphanumerics splits one way only and a failed match
# gives up in linear time (a separator that could match nothing made it exponential).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_REGISTRY = re.compile(rf"(?P<host>{_HOST})(?::(?P<port>[0-9]+))?")
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_REF = re.compile(
    rf"(?:(?P<domain>{_HOST}(?::[0-9]+)?)/)?"
    rf"(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
    rf"(?:@(?P<digest>{_DIGEST}))?",
    re.ASCII,
)
SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
"""What a registry reports a pushed image under, and what the challenge pulls it by."""
_SYNAPSE_ID = re.compile(r"syn[0-9]+", re.ASCII)
# Docker refuses repository names (registry + path) longer than this.
NAME_MAX = 255
# The longest reference worth parsing: a name, a tag and a sha512 digest, with room to spare.
REF_MAX = NAME_MAX + 1 + 128 + 1 + 7 + 128

# Characters that a Dockerfile (or the shell behind a RUN) would interpret inside a value.
_DOCKERFILE_SPECIAL = {
    '"': "a double quote",
    "'": "a single quote",
    "\\": "a backslash",
    "$": "a dollar sign",
    "`": "a backtick",
}
# Wildcards for COPY sources and .dockerignore patterns: a file name holding them would be
# read as a pattern, not as itself.
_GLOB_SPECIAL = "*?[]"

_SHOW_MAX = 60


def show(value: object) -> str:
    """A value as messages quote it: strings in double quotes with invisible characters
    escaped (so a message stays on one line), long values shortened."""
    if not isinstance(value, str):
        text = repr(value)
    else:
        escaped = "".join(
            ch if ch.isprintable() and ch not in '"\\' else _escape(ch) for ch in value
        )
        text = f'"{escaped}"'
    if len(text) > _SHOW_MAX:
        text = text[: _SHOW_MAX - 4] + '..."' if text.endswith('"') else text[:_SHOW_MAX] + "..."
    return text


def _suggest(text: str) -> str:
    """A suggested value, bare when it is plain text, else quoted like show()."""
    return text if text.isprintable() and len(text) <= _SHOW_MAX else show(text)


def _escape(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def dockerfile_safe(value: str) -> str:
    """Refuse anything the Dockerfile parser or a shell would interpret: line breaks, quotes,
    backslashes, `$`, backticks, NUL and every other control or invisible character."""
    for ch in value:
        if ch in _DOCKERFILE_SPECIAL:
            raise ValueError(
                f"{show(value)} contains {_DOCKERFILE_SPECIAL[ch]} ({ch}), which a Dockerfile "
                "would interpret: remove it"
            )
        if not ch.isprintable():
            raise ValueError(
                f"{show(value)} contains an invisible or control character (U+{ord(ch):04X}), "
                "which must not reach a Dockerfile: remove it"
            )
    return value


def relative_path(value: str, inside: str = "the project folder") -> str:
    """A path relative to a folder that stays inside it; returned normalised with `/`.

    Docker can only copy what is inside the build context, so absolute paths and `..` that
    climbs out are refused rather than silently resolved.
    """
    text = value.strip()
    if not text:
        raise ValueError(f"the path is empty: give a path inside {inside}")
    if "\\" in text:
        suggestion = _suggest(text.replace("\\", "/"))
        raise ValueError(
            f"{show(text)} uses backslashes: write it with forward slashes, e.g. {suggestion}"
        )
    if text.startswith(("/", "~")) or re.match(r"[A-Za-z]:", text):
        raise ValueError(
            f"{show(text)} is an absolute path: give it relative to {inside} "
            "(Docker only sees files inside the build context)"
        )
    normal = posixpath.normpath(text)
    if normal.startswith("~"):
        # "./~" normalises to "~", which a shell (and a reader) takes for the home folder.
        raise ValueError(
            f"{show(text)} names a folder called ~, which reads as your home folder: rename it"
        )
    if normal == ".":
        raise ValueError(f"{show(text)} is {inside} itself: name a file or folder inside it")
    if normal == ".." or normal.startswith("../"):
        raise ValueError(
            f"{show(text)} leads out of {inside}: move the file inside it "
            "(Docker only sees files inside the build context)"
        )
    return normal


def dockerfile_path(value: str, inside: str = "the project folder") -> str:
    """A relative path (see relative_path) that is also safe to write into COPY and
    .dockerignore lines: no Dockerfile specials and no wildcards."""
    normal = relative_path(value, inside)
    dockerfile_safe(normal)
    for ch in normal:
        if ch in _GLOB_SPECIAL:
            raise ValueError(
                f"{show(normal)} contains {ch}, which COPY and .dockerignore read as a "
                "wildcard: rename the file or folder without it"
            )
    return normal


def synapse_project_id(value: str) -> str:
    """A Synapse project id: `syn` followed by digits (returned in lowercase, as image names
    must be)."""
    text = value.strip()
    if _SYNAPSE_ID.fullmatch(text.lower()):
        return text.lower()
    if text.isdigit():
        raise ValueError(f'{show(text)} lacks the "syn" prefix: write syn{text}')
    raise ValueError(
        f'{show(text)} is not a Synapse project id: use "syn" followed by digits, as shown on '
        "your Synapse project page, e.g. syn12345678"
    )


def _repository_suggestion(text: str) -> str:
    words = re.split(r"[^a-z0-9]+", text.lower())
    return "-".join(word for word in words if word)


def repository(value: str) -> str:
    """A repository path under the project id: lowercase components such as `my-model`."""
    text = value.strip()
    if not text:
        raise ValueError("the repository name is empty: pick a name such as my-model")
    if ":" in text or "@" in text:
        raise ValueError(
            f"{show(text)} contains a tag or digest: give only the name here, e.g. "
            f"{_repository_suggestion(text.split(':')[0].split('@')[0]) or 'my-model'}, "
            "and put the tag in the tag setting"
        )
    first = text.split("/", 1)[0]
    if _SYNAPSE_ID.fullmatch(first.lower()) and "/" in text:
        raise ValueError(
            f"{show(text)} starts with a Synapse project id: give only the repository, e.g. "
            f"{_suggest(text.split('/', 1)[1])}; the project id has its own setting"
        )
    if not _REPOSITORY.fullmatch(text):
        if _REPOSITORY.fullmatch(text.lower()):
            raise ValueError(
                f"{show(text)} has capital letters, which Docker refuses: use {text.lower()}"
            )
        suggestion = _repository_suggestion(text)
        hint = f", e.g. {suggestion}" if suggestion else ", e.g. my-model"
        raise ValueError(
            f"{show(text)} is not a valid repository name: use lowercase letters and digits, "
            f"joined by single dots, dashes or underscores{hint}"
        )
    if len(text) > NAME_MAX:
        raise ValueError(f"{show(text)} is longer than {NAME_MAX} characters: shorten it")
    return text


def tag(value: str) -> str:
    """An image tag such as `v1` or `latest`."""
    text = value.strip()
    if _TAG.fullmatch(text):
        return text
    raise ValueError(
        f"{show(text)} is not a valid tag: use up to 128 letters, digits, _ . or -, not "
        "starting with . or -, e.g. v1"
    )


_SIZE = re.compile(r"(\d{1,9}(?:\.\d{1,3})?)([kmgt]?)(?:i?b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
DOCKER_MIN_MEMORY = 6 * 1024 ** 2
"""Docker refuses a memory limit below 6 MiB."""
_USER = re.compile(r"(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10})(?::(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10}))?")


def parse_size(value: str) -> int:
    """Bytes in a Docker-style size such as `32g`, `512m` or `12GB` (binary units, as
    Docker reads them)."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{show(value)} is not a size: write a number with k, m, g or t, "
                         "e.g. 32g")
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])


def memory_size(value: str) -> str:
    """A memory or shared-memory size Docker accepts, e.g. `32g`; at least 6m."""
    text = value.strip()
    if parse_size(text) < DOCKER_MIN_MEMORY:
        raise ValueError(f"{show(text)} is below the 6m Docker allows: e.g. 2g or 32g")
    return text


def user_spec(value: str) -> str:
    """A container user as Docker's --user takes it: name or uid, with an optional :group."""
    text = value.strip()
    if _USER.fullmatch(text):
        return text
    raise ValueError(f"{show(text)} is not a user: write a name or uid, optionally with "
                     ":group, e.g. 1000:1000")


def registry(value: str) -> str:
    """A registry host with an optional port, such as `docker.synapse.org` or
    `127.0.0.1:5000`."""
    text = value.strip()
    if "://" in text:
        rest = _suggest(text.split("://", 1)[1].rstrip("/"))
        raise ValueError(f"{show(text)} has a scheme: write only the host, e.g. {rest}")
    text = text.rstrip("/")
    if "/" in text:
        raise ValueError(
            f"{show(text)} is more than a host: write only the registry host (and port), "
            "e.g. docker.synapse.org; the project id and repository have their own settings"
        )
    match = _REGISTRY.fullmatch(text)
    if not match:
        raise ValueError(
            f"{show(text)} is not a registry host: use a host name with an optional port, "
            "e.g. docker.synapse.org or 127.0.0.1:5000"
        )
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"{show(text)} has port {port}: use a port from 1 to 65535")
    # Docker reads a first component without a dot or port as a Docker Hub user name.
    if "." not in text and ":" not in text and text != "localhost":
        raise ValueError(
            f"{show(text)} would be read by Docker as a Docker Hub user name: give a full "
            "host name with a dot or a port, e.g. docker.synapse.org or localhost:5000"
        )
    return text


def model_class_name(value: str) -> str:
    """A Python class name, as defined in model_description.py."""
    text = value.strip()
    if text.isascii() and text.isidentifier() and not keyword.iskeyword(text):
        return text
    raise ValueError(
        f"{show(text)} is not a Python class name: give the name of a class in "
        "model_description.py, e.g. resnet50 (ASCII letters, digits and _, not starting "
        "with a digit)"
    )


def image_ref(value: str) -> str:
    """Any Docker image reference, `[registry/]path[:tag][@digest]`, e.g. for FROM."""
    text = value.strip()
    if len(text) > REF_MAX:
        raise ValueError(f"{show(text)} is {len(text)} characters long, longer than any Docker "
                         "image reference: use NAME:TAG, e.g. "
                         "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime")
    match = _IMAGE_REF.fullmatch(text)
    if not match:
        if _IMAGE_REF.fullmatch(text.lower()) and text.lower() != text:
            raise ValueError(
                f"{show(text)} has capital letters, which Docker refuses in image names: "
                f"use {text.lower()}"
            )
        raise ValueError(
            f"{show(text)} is not a Docker image reference: use NAME:TAG, e.g. "
            "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"
        )
    domain = match.group("domain")
    # Like Docker, read a first component without a dot or port as part of the path (on
    # Docker Hub), where capitals are not allowed, not as a registry host.
    if (domain and "." not in domain and ":" not in domain and domain != "localhost"
            and domain != domain.lower()):
        raise ValueError(
            f"{show(text)} has capital letters, which Docker refuses in image names: "
            f"use {text.lower()}"
        )
    name = (domain + "/" if domain else "") + match.group("path")
    if len(name) > NAME_MAX:
        raise ValueError(f"{show(text)} has a name longer than {NAME_MAX} characters")
    return text


def split_reference(reference: str) -> tuple[str, str | None, str | None]:
    """`[registry/]path[:tag][@digest]` as (repository, tag, digest), checked against
    Docker's grammar."""
    text = image_ref(reference)
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
    tag = None
    colon = text.rfind(":")
    if colon > text.rfind("/"):
        text, tag = text[:colon], text[colon + 1:]
    return text, tag, digest


def tagged_reference(reference: str) -> tuple[str, str]:
    """A reference an image can be tagged or pushed as: repository and tag, no digest."""
    repository, tag, digest = split_reference(reference)
    if digest is not None:
        raise ValueError(
            f"{show(reference)} holds a digest: images are tagged and pushed by name and tag, "
            "e.g. docker.synapse.org/syn12345678/my-model:v1"
        )
    return repository, tag or "latest"


def digest_reference(reference: str) -> tuple[str, str]:
    """A `repository@sha256:...` reference as (repository, digest)."""
    repository, tag, digest = split_reference(reference)
    if digest is None or not SHA256_DIGEST.fullmatch(digest):
        raise ValueError(
            f"{show(reference)} is not pinned by digest: give repository@sha256:<64 hex digits>, "
            "as the push reported"
        )
    if tag is not None:
        raise ValueError(
            f"{show(reference)} holds both a tag and a digest: give repository@digest"
        )
    return repository, digest


def image_reference(registry_host: str, synapse_id: str, repository_name: str,
                    image_tag: str) -> str:
    """The full name an image is built and pushed as:
    `registry/synapse-project-id/repository:tag`, each part validated."""
    host = registry(registry_host)
    project = synapse_project_id(synapse_id)
    repo = repository(repository_name)
    cleaned_tag = tag(image_tag)
    name = f"{host}/{project}/{repo}"
    if len(name) > NAME_MAX:
        raise ValueError(
            f"{show(name)} is longer than the {NAME_MAX} characters Docker allows: use a "
            "shorter repository name"
        )
    return f"{name}:{cleaned_tag}"
