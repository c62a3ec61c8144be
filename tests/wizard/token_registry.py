"""A registry with Bearer (token) authentication, as Synapse's and Docker Hub's are: Debian's
docker-registry configured with `auth: token`, and a token service that issues the JSON Web
Tokens it accepts (RS256, signed with openssl, the signing certificate in the `x5c` header).

The registry is the real one; the token service is the protocol's issuing side written out
(Docker's "token authentication specification"), because no token server is packaged here.
Both listen on loopback ports of their own and are stopped when the test ends.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlparse

SERVICE = "reg13-token-registry"
ISSUER = "reg13-token-issuer"


class TokenRegistry(NamedTuple):
    host: str
    user: str
    password: str
    issued: list[list[str]]
    """The scopes of each token issued, in order."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _signed(claims: dict, key: Path, cert_der: bytes) -> str:
    header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(cert_der).decode()]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)],
                               input=signing_input.encode(), capture_output=True,
                               check=True).stdout
    return f"{signing_input}.{_b64(signature)}"


def _access(scopes: list[str]) -> list[dict]:
    out = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind == "repository" and name:
            out.append({"type": kind, "name": name,
                        "actions": [a for a in actions.split(",") if a in ("pull", "push")]})
    return out


@contextmanager
def token_registry(folder: Path, user: str = "reg13-user",
                   password: str = "reg13-password") -> Iterator[TokenRegistry]:
    """Start the token service and the registry; yields when /v2/ asks for a Bearer token."""
    if shutil.which("docker-registry") is None or shutil.which("openssl") is None:
        raise RuntimeError("docker-registry and openssl are needed: run scripts/test-env up")
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={ISSUER}"],
                   capture_output=True, check=True)
    cert_der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                              capture_output=True, check=True).stdout
    issued: list[list[str]] = []

    class Tokens(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            query = parse_qs(urlparse(self.path).query)
            scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
            now = int(time.time())
            token = _signed({"iss": ISSUER, "sub": user, "aud": SERVICE, "iat": now,
                             "nbf": now - 60, "exp": now + 600, "jti": secrets.token_hex(8),
                             "access": _access(scopes)}, key, cert_der)
            issued.append(scopes)
            body = json.dumps({"token": token, "access_token": token,
                               "expires_in": 600}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    tokens = ThreadingHTTPServer(("127.0.0.1", 0), Tokens)
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    port = _free_port()
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: {secrets.token_hex(8)}\n"
        f"auth:\n  token:\n    realm: http://127.0.0.1:{tokens.server_address[1]}/token\n"
        f"    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {cert}\n")
    log = (folder / "registry.log").open("wb")
    server = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        host = f"127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
            except urllib.error.HTTPError as error:
                if error.code == 401 and "Bearer" in error.headers.get("WWW-Authenticate", ""):
                    break
            except OSError:
                pass
            if server.poll() is not None:
                raise RuntimeError("docker-registry exited: "
                                   + (folder / "registry.log").read_text()[-2000:])
            time.sleep(0.1)
        else:
            raise RuntimeError("docker-registry did not answer with a Bearer challenge")
        yield TokenRegistry(host, user, password, issued)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        tokens.shutdown()
        tokens.server_close()
