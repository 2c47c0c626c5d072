"""A fake Hugging Face Hub for offline tests of ``lem publish``.

A real HTTP server on ``127.0.0.1`` (ephemeral port, background thread) serving exactly
the endpoints huggingface_hub's ``HfApi.create_repo``, ``repo_info`` and ``create_commit``
call:

``POST /api/repos/create``
    creates the repo (``type``, ``visibility`` recorded); 409 when it exists, as the Hub;
``GET /api/{type}s/{ns}/{name}[/revision/{rev}]``
    repo info (``id``, ``private``, ``sha``, ``siblings``) or 404 ``RepoNotFound``;
``POST /api/validate-yaml``
    the dataset card's front matter: 400 with an error when it is not a YAML mapping;
``POST /api/{type}s/{ns}/{name}/preupload/{rev}``
    answers ``uploadMode: "regular"`` for every file, so the client never tries LFS or
    xet and sends every file inline;
``POST /api/{type}s/{ns}/{name}/commit/{rev}``
    the ndjson commit: the header and ``file`` lines (base64 content, decoded and kept);
    any other line (``lfsFile``, deletions) is recorded in :attr:`FakeHub.unexpected`
    and answered 400.

Every request needs ``Authorization: Bearer <token>`` (else 401); the bearer values seen
are kept in :attr:`FakeHub.tokens_seen` (only so a test can check they equal the token)
and nowhere else. Any other path is answered 404 and recorded in :attr:`FakeHub.unknown`,
so a test fails loudly when the client calls something unexpected. ``fail`` maps an
endpoint name (``create``, ``info``, ``validate``, ``preupload``, ``commit``) to a
``(status, message)`` answer given instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["FakeHub", "HubRepo", "HubRequest"]

_REPO = r"(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("POST", "create", re.compile(r"^/api/repos/create$")),
    ("POST", "validate", re.compile(r"^/api/validate-yaml$")),
    ("POST", "preupload", re.compile(rf"^/api/{_REPO}/preupload/(?P<rev>[^/]+)$")),
    ("POST", "commit", re.compile(rf"^/api/{_REPO}/commit/(?P<rev>[^/]+)$")),
    ("GET", "info", re.compile(rf"^/api/{_REPO}(?:/revision/(?P<rev>[^/]+))?$")),
]


@dataclass
class HubRequest:
    """One request: method, path, endpoint name (None when unknown) and JSON body."""

    method: str
    path: str
    endpoint: str | None
    body: Any = None


@dataclass
class HubRepo:
    """A repository on the fake Hub."""

    repo_id: str
    type: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)


class FakeHub:
    """``with FakeHub(token="hf_x") as hub: ... hub.url ...``"""

    def __init__(self, token: str, fail: dict[str, tuple[int, str]] | None = None) -> None:
        self.token = token
        self.fail = dict(fail or {})
        self.requests: list[HubRequest] = []
        self.unknown: list[str] = []
        self.unexpected: list[dict[str, Any]] = []
        self.tokens_seen: list[str | None] = []
        self.repos: dict[str, HubRepo] = {}
        self.create_payloads: list[dict[str, Any]] = []
        self.preuploaded: list[dict[str, Any]] = []
        self.validated: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def endpoints(self) -> list[str]:
        """``METHOD name`` of every request, in order (``?`` for unknown paths)."""
        return [f"{r.method} {r.endpoint or '?'}" for r in self.requests]

    def __enter__(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self, "GET")

            def do_POST(self) -> None:
                hub._handle(self, "POST")

            def do_PUT(self) -> None:
                hub._handle(self, "PUT")

            def do_DELETE(self) -> None:
                hub._handle(self, "DELETE")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- request handling -------------------------------------------------------------

    @staticmethod
    def _read(h: BaseHTTPRequestHandler) -> bytes:
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(h.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length else b""

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(h.path).path
        raw = self._read(h)
        name, match = None, None
        for m, n, pattern in _ROUTES:
            if m == method and (found := pattern.match(path)):
                name, match = n, found
                break
        body: Any = None
        if raw and name != "commit":
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        auth = h.headers.get("Authorization")
        with self._lock:
            self.requests.append(HubRequest(method, path, name, body))
            self.tokens_seen.append(auth.removeprefix("Bearer ") if auth else None)
            if name is None or match is None:
                self.unknown.append(f"{method} {path}")
                self._send(h, 404, {"error": "Not found"})
                return
            if auth != f"Bearer {self.token}":
                self._send(
                    h,
                    401,
                    {"error": "Invalid credentials in Authorization header"},
                    {"X-Error-Message": "Invalid credentials in Authorization header"},
                )
                return
            if name in self.fail:
                status, message = self.fail[name]
                self._send(h, status, {"error": message}, {"X-Error-Message": message})
                return
            getattr(self, f"_{name}")(h, match, body if name != "commit" else raw)

    def _repo(self, h: BaseHTTPRequestHandler, match: re.Match[str]) -> HubRepo | None:
        repo = self.repos.get(match["repo"])
        if repo is None or f"{repo.type}s" != match["kind"]:
            self._send(
                h,
                404,
                {"error": "Repository not found"},
                {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
            )
            return None
        return repo

    def _create(self, h: BaseHTTPRequestHandler, match: re.Match[str], body: Any) -> None:
        self.create_payloads.append(body)
        repo_id = f"{body.get('organization')}/{body['name']}"
        kind = body.get("type") or "model"
        prefix = "" if kind == "model" else f"{kind}s/"
        url = f"{self.url}/{prefix}{repo_id}"
        if repo_id in self.repos:
            self._send(h, 409, {"error": "You already created this repo", "url": url})
            return
        self.repos[repo_id] = HubRepo(repo_id, kind, body.get("visibility") == "private")
        self._send(h, 200, {"url": url, "name": repo_id, "id": repo_id})

    def _info(self, h: BaseHTTPRequestHandler, match: re.Match[str], body: Any) -> None:
        repo = self._repo(h, match)
        if repo is None:
            return
        sha = repo.commits[-1]["oid"] if repo.commits else "0" * 40
        self._send(
            h,
            200,
            {
                "id": repo.repo_id,
                "private": repo.private,
                "sha": sha,
                "siblings": [{"rfilename": p} for p in sorted(repo.files)],
            },
        )

    def _validate(self, h: BaseHTTPRequestHandler, match: re.Match[str], body: Any) -> None:
        content = str(body.get("content", ""))
        self.validated.append(content)
        parts = content.split("---\n")
        meta = yaml.safe_load(parts[1]) if content.startswith("---\n") and len(parts) > 2 else None
        if not isinstance(meta, dict):
            self._send(h, 400, {"errors": [{"message": "metadata is not a YAML mapping"}]})
            return
        self._send(h, 200, {"errors": [], "warnings": []})

    def _preupload(self, h: BaseHTTPRequestHandler, match: re.Match[str], body: Any) -> None:
        if self._repo(h, match) is None:
            return
        self.preuploaded.extend(body["files"])
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in body["files"]
        ]
        self._send(h, 200, {"files": files, "commitOid": "0" * 40})

    def _commit(self, h: BaseHTTPRequestHandler, match: re.Match[str], raw: bytes) -> None:
        repo = self._repo(h, match)
        if repo is None:
            return
        lines = [json.loads(x) for x in raw.decode().splitlines() if x.strip()]
        header = lines[0] if lines and lines[0].get("key") == "header" else None
        files: dict[str, bytes] = {}
        for line in lines[1:]:
            value = line.get("value") or {}
            if line.get("key") == "file" and value.get("encoding") == "base64":
                files[value["path"]] = base64.b64decode(value["content"])
            else:
                self.unexpected.append(line)
        if header is None or len(files) != len(lines) - 1:
            self._send(h, 400, {"error": "unsupported commit operation"})
            return
        oid = hashlib.sha1(raw).hexdigest()
        repo.files.update(files)
        repo.commits.append(
            {
                "oid": oid,
                "revision": match["rev"],
                "summary": header["value"].get("summary"),
                "description": header["value"].get("description"),
                "files": files,
            }
        )
        prefix = "" if repo.type == "model" else f"{repo.type}s/"
        self._send(
            h,
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{oid}",
            },
        )
