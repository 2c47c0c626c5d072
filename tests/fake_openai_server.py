"""A scriptable fake OpenAI-compatible server for offline tests.

Runs a real HTTP server on ``127.0.0.1`` (ephemeral port) in a background thread, so
client code is exercised end to end: connection pooling, timeouts, dropped sockets.

Each ``POST /v1/chat/completions`` consumes the next behaviour from a *fault plan*
(``default`` once the plan is empty). A behaviour is a :class:`Behaviour` or one of the
shorthand strings:

``"ok"``             answer normally (see below)
``"429"``, ``"500"`` any 3-digit status with a JSON error body (no ``Retry-After``)
``"slow"``           sleep ``slow_s`` seconds, then answer normally (client timed out)
``"drop"``           close the connection without sending any response
``"trickle"``        send the headers, then the reply one byte every ``trickle_s``
                     seconds (bytes sent are counted in ``trickled``)
``"reject_system"``  400 "System role not supported" if a system message is present,
                     otherwise answer normally

Requests carrying lem's canary prompt (:data:`lem.backends.openai.CANARY_MESSAGES`, the
model fingerprint a backend asks once) are answered by ``canary`` (default: the responder)
without consuming the plan, and are left out of :attr:`chat_requests`.

Use :func:`status` for a status with ``Retry-After`` or a custom body, and :func:`ok`
for a reply with fixed content or extra latency. A normal answer's content comes from
``responder(body)`` when given, else ``"echo: "`` plus the first eight words of the last
user message; usage counts are whitespace word counts. Every request (any path) is
recorded in :attr:`FakeOpenAIServer.requests` with its headers and JSON body.

Example::

    with FakeOpenAIServer(plan=["429", "ok"]) as srv:
        backend = OpenAIBackend(srv.url, "m")
        ...
        assert len(srv.chat_requests) == 2
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lem.backends.openai import CANARY_MESSAGES

__all__ = [
    "Behaviour",
    "FakeOpenAIServer",
    "RecordedRequest",
    "default_content",
    "ok",
    "status",
]

SYSTEM_REJECTION = "System role not supported"


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one chat request.

    ``kind`` is ``ok``, ``status``, ``slow``, ``drop`` or ``reject_system``. For
    ``status``: ``code``, optional ``body`` (default: an OpenAI-style JSON error) and
    ``retry_after`` header. For ``ok``: optional fixed ``content`` and ``delay_s``.
    """

    kind: str
    code: int = 200
    body: str | None = None
    retry_after: str | None = None
    content: str | None = None
    delay_s: float = 0.0


def ok(content: str | None = None, *, delay_s: float = 0.0) -> Behaviour:
    """A normal reply, optionally with fixed content or after ``delay_s`` seconds."""
    return Behaviour("ok", content=content, delay_s=delay_s)


def status(
    code: int, *, retry_after: float | str | None = None, body: str | None = None
) -> Behaviour:
    """An error reply with status ``code``, optional ``Retry-After`` and body."""
    ra = None if retry_after is None else str(retry_after)
    return Behaviour("status", code=code, body=body, retry_after=ra)


def _parse(item: Behaviour | str) -> Behaviour:
    if isinstance(item, Behaviour):
        return item
    if item in ("ok", "slow", "drop", "reject_system", "trickle"):
        return Behaviour(item)
    if item.isdigit() and len(item) == 3:
        return status(int(item))
    raise ValueError(f"unknown fake-server behaviour {item!r}")


@dataclass
class RecordedRequest:
    """One request as the server saw it; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    behaviour: str = ""
    time: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict):
            return list(self.body.get("messages") or [])
        return []


def _words(text: str) -> list[str]:
    return text.split()


def default_content(body: dict[str, Any]) -> str:
    """``"echo: "`` plus the first eight words of the last user message."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    last = str(users[-1].get("content", "")) if users else ""
    return "echo: " + " ".join(_words(last)[:8])


class FakeOpenAIServer:
    """Fake OpenAI-compatible server; use as a context manager.

    ``plan`` is consumed one behaviour per chat request (more can be queued with
    :meth:`push`); ``default`` answers once it runs out. ``models`` is what
    ``GET /v1/models`` lists (default none, like mlx_lm.server; ``models_status``
    overrides its status, e.g. 404; ``models_delay_s`` makes it slow).
    ``served_model`` is the reply's ``model`` field when the request names none.
    ``api_key`` makes every endpoint demand ``Authorization: Bearer <api_key>`` (401
    otherwise). ``reasoning`` adds a ``reasoning_content`` field (``reasoning_field``
    picks another name); ``reject_system_role`` rejects every system message like a
    Gemma chat template. ``latency_s`` delays every normal reply.
    """

    def __init__(
        self,
        plan: Iterable[Behaviour | str] = (),
        *,
        default: Behaviour | str = "ok",
        models: Iterable[str] = (),
        models_status: int = 200,
        models_delay_s: float = 0.0,
        served_model: str = "fake-model",
        api_key: str | None = None,
        reasoning: bool = False,
        reasoning_field: str = "reasoning_content",
        reject_system_role: bool = False,
        responder: Callable[[dict[str, Any]], str] | None = None,
        slow_s: float = 2.0,
        latency_s: float = 0.0,
        finish_reason: str = "stop",
        canary: Callable[[dict[str, Any]], str] | None = None,
        trickle_s: float = 0.1,
        serial: bool = False,
    ) -> None:
        self._plan: deque[Behaviour] = deque(_parse(b) for b in plan)
        self.default = _parse(default)
        self.models = list(models)
        self.models_status = models_status
        self.models_delay_s = models_delay_s
        self.served_model = served_model
        self.api_key = api_key
        self.reasoning = reasoning
        self.reasoning_field = reasoning_field
        self.reject_system_role = reject_system_role
        self.responder = responder or default_content
        self.slow_s = slow_s
        self.latency_s = latency_s
        self.finish_reason = finish_reason
        self.canary = canary
        self.model_entries: dict[str, dict[str, Any]] = {}
        self.models_fail_times = 0  # answer GET /v1/models with 503 this many times first
        self.trickle_s = trickle_s
        self.trickled = 0
        self.serial = serial
        self._serial_lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._stop.clear()
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            with self._lock:
                conns = list(self._conns)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and inspection -------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (kept after :meth:`stop`, for error-message checks)."""
        assert self._port is not None, "server not started"
        return self._port

    @property
    def url(self) -> str:
        """Root URL without ``/v1`` (what users usually paste)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.endswith("/chat/completions") and r.behaviour != "canary"
            ]

    @property
    def canary_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.behaviour == "canary"]

    def push(self, *behaviours: Behaviour | str) -> None:
        """Append behaviours to the fault plan."""
        with self._lock:
            self._plan.extend(_parse(b) for b in behaviours)

    @property
    def pending(self) -> int:
        """Behaviours left in the plan."""
        with self._lock:
            return len(self._plan)

    # -- internals used by the handler -------------------------------------------------

    def _next(self) -> Behaviour:
        with self._lock:
            return self._plan.popleft() if self._plan else self.default

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def completion(self, body: dict[str, Any], content: str | None = None) -> dict[str, Any]:
        """The JSON of a normal reply to ``body``."""
        text = self.responder(body) if content is None else content
        prompt_words = sum(
            len(_words(str(m.get("content", "")))) for m in body.get("messages") or []
        )
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self.reasoning:
            message[self.reasoning_field] = "thinking: " + text
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.served_model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": len(_words(text)),
                "total_tokens": prompt_words + len(_words(text)),
            },
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _error_body(message: str, code: int) -> str:
    return json.dumps({"error": {"message": message, "type": "fake_error", "code": code}})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._conns.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def _send(self, code: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _trickle(self, data: bytes) -> None:
        fake = self.fake
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(data)):
                if fake._stop.is_set():
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                with fake._lock:
                    fake.trickled += 1
                fake._sleep(fake.trickle_s)
        except OSError:
            pass
        self.close_connection = True

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _authorized(self) -> bool:
        key = self.fake.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._send(401, _error_body("invalid API key", 401))
        return False

    def _recorded(self, body: Any, behaviour: str = "") -> RecordedRequest:
        rec = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            behaviour=behaviour,
        )
        self.fake._record(rec)
        return rec

    def do_GET(self) -> None:
        self._recorded(None)
        if not self._authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            fake = self.fake
            if fake.models_delay_s:
                fake._sleep(fake.models_delay_s)
            with fake._lock:
                transient = fake.models_fail_times > 0
                fake.models_fail_times -= int(transient)
            if transient:
                self._send(503, _error_body("loading", 503))
                return
            if fake.models_status != 200:
                self._send(fake.models_status, _error_body("models unavailable", 404))
                return
            data = [
                {"id": m, "object": "model", "owned_by": "fake", **fake.model_entries.get(m, {})}
                for m in fake.models
            ]
            self._send(200, json.dumps({"object": "list", "data": data}))
            return
        self._send(404, _error_body(f"no route {self.path}", 404))

    def do_POST(self) -> None:
        body = self._read_body()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._recorded(body)
            self._send(404, _error_body(f"no route {self.path}", 404))
            return
        fake = self.fake
        if isinstance(body, dict) and body.get("messages") == CANARY_MESSAGES:
            self._recorded(body, "canary")
            if self._authorized():
                answer = (fake.canary or fake.responder)(body)
                self._send(200, json.dumps(fake.completion(body, answer)))
            return
        behaviour = fake._next()
        rec = self._recorded(body, behaviour.kind)
        if not self._authorized():
            return
        if not isinstance(body, dict):
            self._send(400, _error_body("body must be a JSON object", 400))
            return
        with fake._serial_lock if fake.serial else contextlib.nullcontext():
            fake._enter()
            try:
                self._answer(behaviour, body, rec)
            finally:
                fake._leave()

    def _answer(self, b: Behaviour, body: dict[str, Any], rec: RecordedRequest) -> None:
        fake = self.fake
        has_system = any(m.get("role") == "system" for m in rec.messages)
        if b.kind == "drop":
            self.close_connection = True
            return
        if b.kind == "status":
            headers = {"Retry-After": b.retry_after} if b.retry_after is not None else None
            self._send(b.code, b.body or _error_body(f"fake error {b.code}", b.code), headers)
            return
        if (b.kind == "reject_system" or fake.reject_system_role) and has_system:
            self._send(400, _error_body(SYSTEM_REJECTION, 400))
            return
        if b.kind == "trickle":
            self._trickle(json.dumps(fake.completion(body, b.content)).encode("utf-8"))
            return
        if b.kind == "slow":
            fake._sleep(fake.slow_s)
        delay = b.delay_s or fake.latency_s
        if delay:
            fake._sleep(delay)
        self._send(200, json.dumps(fake.completion(body, b.content)))
