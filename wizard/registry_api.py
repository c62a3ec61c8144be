"""What a registry already holds of a repository, asked over the Registry HTTP API v2.

Docker does not say before a push what it will send, so the wizard asks the registry: it reads
the repository's image manifests (the digests of earlier pushes first, then its tags), and from
each manifest's config blob the `rootfs.diff_ids`, the digests of the *uncompressed* layers,
which are what a local image's `RootFS.Layers` lists. A local layer whose diff_id is in one of
those manifests is in the repository, and Docker, which learnt its compressed digest when it
pushed or pulled it, skips it.

Authentication is the registry's own, as `docker login` does it: a registry that answers
`/v2/` with 401 names either Basic (send the user name and token) or Bearer (fetch a pull
token for the repository from the realm it names, with the same user name and token).
HTTPS is used, and plain HTTP only for loopback hosts, which Docker treats as insecure
registries by default: there, like Docker, HTTPS is tried first and HTTP after it fails.

Uses `requests` (docker-py's own HTTP library); never imports docker.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from wizard.errors import WizardError

TIMEOUT_S = 10.0
"""For each request."""
BUDGET_S = 30.0
"""For reading the repository's manifests, all together."""
MAX_MANIFESTS = 40
"""Image manifests read at most. A repository with more images, or one that takes longer than
BUDGET_S, is read in part, which can only make the upload look larger than it is."""
TAGS_PAGE = 100

IMAGE_MANIFESTS = ("application/vnd.docker.distribution.manifest.v2+json",
                   "application/vnd.oci.image.manifest.v1+json")
INDEXES = ("application/vnd.docker.distribution.manifest.list.v2+json",
           "application/vnd.oci.image.index.v1+json")
ACCEPT = ", ".join(IMAGE_MANIFESTS + INDEXES)


class RegistryQueryError(WizardError):
    """The registry could not be asked; the message says why, on one line."""


class RegistryAuthError(RegistryQueryError):
    """The registry refused the credentials, or refused to show the repository."""


class RegistryUnreachableError(RegistryQueryError):
    """No answer from the registry (network, TLS, a server error)."""


@dataclass(frozen=True)
class Holdings:
    """The layers a repository holds, by diff_id (sha256 of the uncompressed layer)."""

    registry: str
    repository: str
    exists: bool
    """False when the registry does not know the repository: a first push."""
    diff_ids: frozenset[str]
    manifests: int
    """Image manifests read."""
    complete: bool
    """False when the repository has more images than were read (MAX_MANIFESTS)."""


def is_loopback(host: str) -> bool:
    """Whether a registry host (with an optional port: `127.0.0.1:5000`, `[::1]:5000`) is
    this machine."""
    if host.startswith("["):
        name = host[1:host.find("]")]
    else:
        name = host.split(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://x/auth",service="reg",scope="..."` as ("bearer", {params}).
    Values are quoted strings (commas inside quotes kept) or bare tokens."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            value = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(rest[i])
                i += 1
            i += 1
            params[key] = "".join(value)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            params[key] = rest[i:end].strip()
            i = end
    return scheme.lower(), params


class RegistryClient:
    """A pull-only reader of one repository on one registry."""

    def __init__(self, registry: str, repository: str, username: str | None = None,
                 token: str | None = None, *, timeout: float = TIMEOUT_S) -> None:
        self.registry = registry
        self.repository = repository
        self.credentials = (username, token) if username and token else None
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "objectnet-wizard"
        # Docker takes loopback registries as insecure: HTTPS without certificate checks, then
        # plain HTTP. The traffic never leaves this machine.
        self.loopback = is_loopback(registry)
        self.session.verify = not self.loopback
        self.base: str | None = None

    def close(self) -> None:
        self.session.close()

    # -- connection and authentication --

    def _connect(self) -> None:
        """Find the scheme that answers, and authenticate against the challenge of /v2/."""
        schemes = ("https", "http") if self.loopback else ("https",)
        failure: Exception | None = None
        for scheme in schemes:
            try:
                answer = self.session.get(f"{scheme}://{self.registry}/v2/",
                                          timeout=self.timeout)
            except requests.RequestException as error:
                failure = error
                continue
            self.base = f"{scheme}://{self.registry}"
            break
        else:
            raise RegistryUnreachableError(
                f"cannot reach registry {self.registry} ({_reason(failure)})")
        if answer.status_code == 401:
            self._authenticate(answer.headers.get("WWW-Authenticate", ""))
        elif answer.status_code >= 400:
            raise RegistryUnreachableError(f"registry {self.registry} answered /v2/ with HTTP "
                                           f"{answer.status_code}: it may not be a registry")

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.credentials is None:
                raise RegistryAuthError(f"registry {self.registry} needs a login, and no user "
                                        "name and token were given")
            self.session.auth = self.credentials
            return
        realm = params.get("realm", "")
        if scheme != "bearer" or not realm:
            raise RegistryAuthError(f"registry {self.registry} asks for an authentication "
                                    f"this wizard does not speak ({scheme or 'none named'})")
        realm_host = urlsplit(realm)
        if realm_host.scheme != "https" and not (realm_host.scheme == "http"
                                                 and is_loopback(realm_host.netloc)):
            raise RegistryAuthError(f"registry {self.registry} names a token service that is "
                                    f"not HTTPS ({realm}): the token is sent only over HTTPS")
        query = {"scope": f"repository:{self.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        try:
            answer = requests.get(realm, params=query, auth=self.credentials,
                                  timeout=self.timeout,
                                  headers={"User-Agent": "objectnet-wizard"})
        except requests.RequestException as error:
            raise RegistryUnreachableError(f"cannot reach the token service of registry "
                                           f"{self.registry} ({_reason(error)})") from None
        if answer.status_code in (401, 403):
            raise RegistryAuthError(f"registry {self.registry} refused the user name and token "
                                    f"(HTTP {answer.status_code} from its token service)")
        try:
            body = answer.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if answer.status_code != 200 or not isinstance(token, str) or not token:
            raise RegistryUnreachableError(f"the token service of registry {self.registry} "
                                           f"gave no token (HTTP {answer.status_code})")
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, **headers: str) -> requests.Response:
        if self.base is None:
            self._connect()
        try:
            answer = self.session.get(f"{self.base}{path}", headers=headers,
                                      timeout=self.timeout)
        except requests.RequestException as error:
            raise RegistryUnreachableError(f"registry {self.registry} stopped answering "
                                           f"({_reason(error)})") from None
        if answer.status_code in (401, 403):
            raise RegistryAuthError(
                f"registry {self.registry} refused to show {self.repository} (HTTP "
                f"{answer.status_code}{_error_code(answer)}): check the user name and token")
        return answer

    # -- reading --

    def tags(self) -> Iterator[str] | None:
        """The repository's tags, page by page; None when the registry does not know it."""
        first = self._get(f"/v2/{self.repository}/tags/list?n={TAGS_PAGE}")
        if first.status_code == 404:
            return None
        _expect(first, "list the tags of " + self.repository)

        def pages() -> Iterator[str]:
            answer = first
            while True:
                yield from _json(answer).get("tags") or ()
                following = str(answer.links.get("next", {}).get("url") or "")
                if following.startswith(f"{self.base}/"):
                    following = following[len(str(self.base)):]
                if not following.startswith("/"):  # none, or on another host: stop there
                    return
                answer = self._get(following)
                _expect(answer, "list the tags of " + self.repository)

        return pages()

    def diff_ids(self, reference: str) -> list[str] | None:
        """The diff_ids of the image(s) `reference` (a tag or a digest) names; None when the
        registry has no such manifest. An index (multi-platform) gives its images' together."""
        answer = self._get(f"/v2/{self.repository}/manifests/{reference}", Accept=ACCEPT)
        if answer.status_code == 404:
            return None
        _expect(answer, f"read the manifest {reference} of {self.repository}")
        manifest = _json(answer)
        kind = manifest.get("mediaType") or answer.headers.get("Content-Type", "")
        if kind in INDEXES or "manifests" in manifest:
            out: list[str] = []
            for entry in manifest.get("manifests") or ():
                platform = entry.get("platform") or {}
                if platform.get("os") == "unknown":  # attestations, not images
                    continue
                if entry.get("digest"):
                    out.extend(self.diff_ids(str(entry["digest"])) or ())
            return out
        config = manifest.get("config") or {}
        if not config.get("digest"):
            return []  # a schema-1 manifest or an artifact: no diff_ids to read
        blob = self._get(f"/v2/{self.repository}/blobs/{config['digest']}")
        if blob.status_code == 404:
            return []
        _expect(blob, f"read the image config of {reference} in {self.repository}")
        rootfs = _json(blob).get("rootfs") or {}
        return [str(d) for d in rootfs.get("diff_ids") or ()]


def holdings(registry: str, repository: str, username: str | None = None,
             token: str | None = None, *, digests: Iterable[str] = (),
             first_tags: Iterable[str] = (), timeout: float = TIMEOUT_S,
             budget: float = BUDGET_S) -> Holdings:
    """The layers `registry` holds in `repository` (e.g. syn123/my-model), read from the
    manifests of `digests` (earlier pushes, still there when a tag has moved on), then of
    `first_tags`, then of every other tag, at most MAX_MANIFESTS within `budget` seconds.
    Raises RegistryQueryError."""
    deadline = time.monotonic() + budget
    client = RegistryClient(registry, repository, username, token, timeout=timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            tags = client.tags()
            if tags is None:
                return Holdings(registry, repository, False, frozenset(), 0, True)
            seen: set[str] = set()
            layers: set[str] = set()
            read = 0
            complete = True
            for reference in itertools.chain(digests, first_tags, tags):
                if read >= MAX_MANIFESTS or time.monotonic() > deadline:
                    complete = False
                    break
                if reference in seen:
                    continue
                seen.add(reference)
                found = client.diff_ids(reference)
                if found is not None:
                    read += 1
                    layers.update(found)
            return Holdings(registry, repository, True, frozenset(layers), read, complete)
    finally:
        client.close()


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        body = json.loads(answer.content)
    except ValueError:
        raise RegistryUnreachableError(f"registry answered {answer.url} with something that "
                                       "is not JSON") from None
    if not isinstance(body, dict):
        raise RegistryUnreachableError(f"registry answered {answer.url} with unexpected JSON")
    return body


def _expect(answer: requests.Response, what: str) -> None:
    if answer.status_code != 200:
        raise RegistryUnreachableError(f"cannot {what}: HTTP {answer.status_code}"
                                       f"{_error_code(answer)}")


def _error_code(answer: requests.Response) -> str:
    """The registry's own error code (e.g. ", DENIED"), when its body has one."""
    try:
        errors = json.loads(answer.content).get("errors") or []
        code = errors[0].get("code")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
    return f", {code}" if isinstance(code, str) else ""


def _reason(error: BaseException | None) -> str:
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS failed"
    if isinstance(error, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "connection refused or no route"
    return type(error).__name__ if error is not None else "no answer"
