"""Backend for any OpenAI-compatible chat-completions server.

Works with llama.cpp ``llama-server``, Ollama, ``mlx_lm.server``, ``vllm serve`` and LM
Studio. Model specs look like ``openai:http://127.0.0.1:8080#MODEL``; the ``#MODEL`` part
is optional because several of those servers serve exactly one model and mlx_lm.server
must not be sent a ``model`` field at all.

Requests run ``concurrency`` at a time on a thread pool sharing one :class:`httpx.Client`
and are yielded as they finish. Transient failures (429, 5xx, timeouts, dropped
connections) are retried with capped exponential backoff; a request that still fails is
returned as a :class:`GenerationResult` with ``error`` set, never raised, so one bad item
cannot stop a run. Servers whose chat template rejects the system role get the request
again with the system text folded into the first user turn (see :func:`fold_system`).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from lem.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    Message,
    SamplingParams,
    fold_system,
    prompt_hash,
    register_backend,
)
from lem.errors import BackendError
from lem.redact import redact, secret_from_env

__all__ = [
    "CANARY_MESSAGES",
    "RETRY_STATUSES",
    "OpenAIBackend",
    "fold_system",
    "normalize_base_url",
]

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth retrying: rate limits, overload and gateway hiccups."""

PROBE_TIMEOUT_S = 8.0
_BODY_CHARS = 200
_SYSTEM_REJECTION = re.compile(
    r"system[ _-]?(role|message|prompt)|role[ '\"]*system|roles? must alternate",
    re.IGNORECASE,
)


def normalize_base_url(target: str) -> str:
    """The server's API root, always ending in ``/v1``.

    Accepts ``host:port``, ``http://host:port``, ``http://host:port/v1`` and even a full
    ``.../v1/chat/completions`` URL, so users can paste whatever their server printed.
    """
    url = target.strip()
    if not url:
        raise BackendError("OpenAI backend needs a server URL, e.g. openai:http://127.0.0.1:8080")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(
            f"OpenAI backend URL {target!r} is not an http:// or https:// URL; "
            "use e.g. openai:http://127.0.0.1:8080"
        )
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/completions", "/models"):
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    return url


def _has_system(messages: list[Message]) -> bool:
    return any(m.get("role") == "system" for m in messages)


def _one_line(text: str, limit: int = _BODY_CHARS) -> str:
    return " ".join(text.split())[:limit]


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if parseable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _content_text(content: Any, field: str) -> str:
    """Message content as text (a string or a list of content parts); anything else is a
    malformed reply, named by ``field``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    raise _Malformed(f"{field} is a {type(content).__name__}, not text")


class _Malformed(ValueError):
    """An HTTP 200 reply that is not a chat completion; the message says what is wrong."""


def _render_json(messages: list[Message]) -> str:
    """What a chat server is sent, as text: the message list JSON (see :func:`prompt_hash`)."""
    return json.dumps(messages, ensure_ascii=False)


CANARY_MESSAGES: list[Message] = [
    {
        "role": "user",
        "content": "Continue the list with the next five words only: "
        "north, east, south, west, red, green, blue,",
    }
]
"""The fixed prompt whose greedy answer fingerprints a served model (see identity)."""
CANARY_MAX_TOKENS = 24

_CONTEXT_ERROR = re.compile(
    r"context (length|size|window)|maximum context|too many tokens|exceeds? the "
    r"(available )?context|prompt is too long|max_model_len",
    re.IGNORECASE,
)


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Failure:
    """Why one attempt failed, and whether another attempt may help."""

    def __init__(
        self,
        message: str,
        retryable: bool,
        retry_after: float | None = None,
        *,
        timed_out: bool = False,
        overflow: bool = False,
    ) -> None:
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.timed_out = timed_out
        self.overflow = overflow


class _Deadline(Exception):
    """The request's total time ran out."""


class _AdaptiveLimit:
    """How many requests may be in flight; halves when queued requests time out while
    others complete (a server that answers one at a time), never below 1."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.completed = 0
        self._cond = threading.Condition()

    def acquire(self) -> int:
        """Wait for a slot; returns the completion count at the start (see :meth:`lower`)."""
        with self._cond:
            while self.in_flight >= self.limit:
                self._cond.wait(0.5)
            self.in_flight += 1
            return self.completed

    def release(self, *, completed: bool) -> None:
        with self._cond:
            self.in_flight -= 1
            if completed:
                self.completed += 1
            self._cond.notify_all()

    def lower(self, started_at: int) -> int | None:
        """After a timeout: if other requests completed meanwhile, halve the limit and
        return the new one; None if nothing changed."""
        with self._cond:
            if self.completed > started_at and self.limit > 1:
                self.limit = max(1, self.limit // 2)
                return self.limit
            return None


@register_backend("openai")
class OpenAIBackend(Backend):
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    ``target`` is the server URL (``/v1`` is appended when missing); ``model`` is sent as
    the request's ``model`` field only when given, and must be one the server lists. The
    API key, if any, is read once from the environment variable ``api_key_env`` and sent
    as a bearer token; it never appears in :meth:`identity`, reprs, logs or errors. With
    ``check`` the constructor probes ``GET /v1/models`` (retrying transient failures) so
    a wrong URL, key or model name fails fast with a :class:`~lem.errors.BackendError`.

    ``timeout`` is a total deadline per request (connect, queue, generation and reading
    the reply), not a per-read limit. Requests that time out while others complete mean
    the server queues them (``mlx_lm.server`` answers one at a time): concurrency is
    halved each time, and :meth:`notices` says to what.
    """

    def __init__(
        self,
        target: str,
        model: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 4,
        timeout: float = 300.0,
        max_retries: int = 6,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        check: bool = True,
        canary: bool = True,
        model_id: str | None = None,
        adaptive_concurrency: bool = True,
    ) -> None:
        if concurrency < 1:
            raise BackendError(f"OpenAI backend concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise BackendError(f"OpenAI backend max_retries must be >= 0, got {max_retries}")
        if not timeout > 0 or timeout == float("inf"):
            raise BackendError(f"OpenAI backend timeout must be > 0 seconds, got {timeout}")
        self.base_url = normalize_base_url(target)
        self.model = model or None
        self.model_id = model_id or None
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = max(0.0, float(backoff))
        self.backoff_max = max(0.0, float(backoff_max))
        self.use_canary = canary
        self.adaptive = adaptive_concurrency
        self._api_key = secret_from_env(api_key_env)
        self._listed: list[str] | None = None
        self._served_model: str | None = None
        self._canary: str | None = None
        self._context_length: int | None = None
        self._folds_system = False
        self._limit = _AdaptiveLimit(concurrency)
        self._notices: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=True,
        )
        if check:
            try:
                self._probe()
            except BaseException:
                self._client.close()
                raise

    def __repr__(self) -> str:
        return f"OpenAIBackend(base_url={redact(self.base_url)!r}, model={self.model!r})"

    @property
    def served_model(self) -> str | None:
        """The model name the server lists for this backend (None if it lists none)."""
        return self._served_model

    @property
    def effective_concurrency(self) -> int:
        """Requests allowed in flight now (lowered when the server queues requests)."""
        return self._limit.limit

    def identity(self) -> dict[str, Any]:
        """The served model (requested and listed names), the canary fingerprint and the
        user's ``model_id``; never the URL, and nothing learnt from a reply that might
        not come. The canary (a fixed greedy prompt, asked once per backend) catches a
        server whose weights were swapped behind the same name and URL."""
        if self._listed is None:
            self._probe()
        ident: dict[str, Any] = {
            "backend": "openai",
            "model": self.model or "",
            "served_model": self._served_model or "",
        }
        if self.use_canary:
            ident["canary"] = self.canary_fingerprint()
        if self.model_id:
            ident["model_id"] = self.model_id
        return ident

    def provenance(self) -> dict[str, Any]:
        return {"base_url": redact(self.base_url)}

    def context_length(self) -> int | None:
        """The context the server reports for the model (vLLM's ``max_model_len``), if any."""
        return self._context_length

    def notices(self) -> list[str]:
        with self._lock:
            return list(self._notices)

    def canary_fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of the served model's greedy answer to
        :data:`CANARY_MESSAGES`; asked once, retried like any request, and a
        :class:`BackendError` if the server cannot answer it."""
        if self._canary is None:
            req = GenerationRequest(
                key="lem-canary",
                messages=CANARY_MESSAGES,
                sampling=SamplingParams(temperature=0.0, max_tokens=CANARY_MAX_TOKENS),
                seed=0,
            )
            res = self._generate_one(req)
            if not res.ok:
                raise BackendError(
                    f"OpenAI-compatible server at {redact(self.base_url)} did not answer lem's "
                    f"canary prompt ({res.error}); it identifies the served model: fix the "
                    "server, or pass --no-canary with --model-id NAME to declare the model"
                )
            self._canary = prompt_hash(res.text)[:16]
        return self._canary

    def supports_system_role(self) -> bool:
        return not self._folds_system

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        if self._folds_system and _has_system(messages):
            return _render_json(fold_system(messages)), True
        return _render_json(messages), False

    def preferred_batch_size(self) -> int:
        return self.concurrency * 4

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        if not requests:
            return
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(requests)), thread_name_prefix="lem-openai"
        )
        finished = False
        try:
            futures: list[Future[GenerationResult]] = [
                pool.submit(self._run_one, req) for req in requests
            ]
            for fut in as_completed(futures):
                yield fut.result()
            finished = True
        finally:
            pool.shutdown(wait=finished, cancel_futures=True)

    def _probe(self) -> None:
        """Check the server answers and the key is accepted; learn the listed models.

        Transient answers (429/5xx) are retried like any request and no answer at all is
        an error, so identity never depends on a lucky side request: it either learns
        the listing or fails with one line. A 404 (no listing endpoint) or an empty listing
        (``mlx_lm.server``) is a definite answer: nothing listed.
        """
        url = f"{self.base_url}/models"
        shown = redact(self.base_url)
        retries = 0
        while True:
            failure: _Failure | None = None
            try:
                resp = self._client.get(url, timeout=min(self.timeout, PROBE_TIMEOUT_S))
            except httpx.TimeoutException:
                raise BackendError(
                    f"cannot reach OpenAI-compatible server at {shown} (no answer within "
                    f"{min(self.timeout, PROBE_TIMEOUT_S):g} s); start it or fix the URL"
                ) from None
            except httpx.HTTPError as exc:
                reason = self._scrub(_one_line(str(exc) or type(exc).__name__, 120))
                raise BackendError(
                    f"cannot reach OpenAI-compatible server at {shown} ({reason}); "
                    "start it or fix the URL"
                ) from None
            if resp.status_code in RETRY_STATUSES:
                failure = _Failure(
                    f"HTTP {resp.status_code}", True, _retry_after(resp.headers.get("Retry-After"))
                )
            if failure is None:
                break
            if retries >= self.max_retries:
                raise BackendError(
                    f"OpenAI-compatible server at {shown} answered {failure.message} to GET "
                    f"/v1/models {retries + 1} times; it is not ready: retry later"
                )
            delay = self._delay("models", retries, failure.retry_after)
            retries += 1
            log.debug("GET %s failed (%s); retrying in %.2f s", url, failure.message, delay)
            self._closed.wait(delay)
        if resp.status_code in (401, 403):
            what = "rejected the API key in" if self._api_key else "needs an API key; set"
            raise BackendError(
                f"OpenAI-compatible server at {shown} answered HTTP "
                f"{resp.status_code}: it {what} the environment variable {self.api_key_env}"
            )
        entries: list[dict[str, Any]] = []
        if resp.status_code == 200:
            try:
                data = resp.json().get("data") or []
                entries = [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
            except (ValueError, AttributeError, TypeError):
                entries = []
        else:
            log.debug("GET %s answered HTTP %s; no model listing", url, resp.status_code)
        ids = [str(m["id"]) for m in entries]
        self._listed = ids
        if not ids:
            return
        if self.model is None:
            chosen = ids[0]
        elif self.model in ids:
            chosen = self.model
        else:
            listed = ", ".join(ids[:10]) + (" …" if len(ids) > 10 else "")
            raise BackendError(
                f"the server at {shown} does not serve model {self.model!r}; it serves: "
                f"{listed}. Use one of them after '#' in the model spec"
            )
        self._served_model = chosen
        entry = entries[ids.index(chosen)]
        ctx = entry.get("max_model_len") or entry.get("context_length")
        self._context_length = ctx if isinstance(ctx, int) and ctx > 0 else None

    def _payload(self, messages: list[Message], req: GenerationRequest) -> dict[str, Any]:
        sp = req.sampling
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": sp.max_tokens,
            "temperature": sp.temperature,
            "top_p": sp.top_p,
            "seed": req.seed,
        }
        if sp.stop:
            body["stop"] = list(sp.stop)
        if self.model:
            body["model"] = self.model
        return body

    def _delay(self, key: str, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.backoff_max, retry_after)
        base = min(self.backoff_max, self.backoff * (2.0**retry))
        jitter = random.Random(f"{key}/{retry}").random()
        return base * (0.5 + 0.5 * jitter)

    def _scrub(self, text: str) -> str:
        return redact(text, [self._api_key] if self._api_key else [])

    def _run_one(self, req: GenerationRequest) -> GenerationResult:
        try:
            return self._generate_one(req)
        except Exception as exc:  # a bug must not kill the whole batch
            log.debug("request %s failed unexpectedly", req.key, exc_info=True)
            msg = self._scrub(_one_line(f"{type(exc).__name__}: {exc}"))
            return GenerationResult(key=req.key, error=msg)

    def _post(self, url: str, payload: dict[str, Any]) -> tuple[int, bytes, httpx.Headers]:
        """POST with a total deadline of ``timeout`` seconds: a watchdog closes the
        connection when it passes, so a server that trickles its reply cannot hold a
        request longer than that."""
        deadline = time.monotonic() + self.timeout
        expired = threading.Event()
        streams: list[Any] = []

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete" and info.get("return_value"):
                streams.append(info["return_value"])

        def kill() -> None:
            expired.set()
            for stream in list(streams):
                with contextlib.suppress(Exception):
                    stream.close()

        watchdog = threading.Timer(self.timeout, kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            with self._client.stream(
                "POST", url, json=payload, extensions={"trace": trace}
            ) as resp:
                stream = resp.extensions.get("network_stream")
                if stream is not None:
                    streams.append(stream)
                if expired.is_set():
                    raise _Deadline
                body = bytearray()
                for chunk in resp.iter_raw():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise _Deadline
                return resp.status_code, bytes(body), resp.headers
        except httpx.HTTPError:
            if expired.is_set():
                raise _Deadline from None
            raise
        finally:
            watchdog.cancel()

    def _generate_one(self, req: GenerationRequest) -> GenerationResult:
        url = f"{self.base_url}/chat/completions"
        folded = self._folds_system and _has_system(req.messages)
        messages = fold_system(req.messages) if folded else req.messages
        attempts = 0
        retries = 0
        while True:
            if self._closed.is_set():
                return GenerationResult(
                    key=req.key,
                    error="backend closed before the request finished",
                    system_fallback=folded,
                    rendered_hash=prompt_hash(_render_json(messages)),
                    extra={"attempts": attempts},
                )
            attempts += 1
            started_at = self._limit.acquire()
            start = time.perf_counter()
            reply: tuple[int, bytes, httpx.Headers] | None = None
            failure: _Failure | None = None
            try:
                reply = self._post(url, self._payload(messages, req))
            except _Deadline:
                failure = _Failure(
                    f"timeout: no complete reply within {self.timeout:g} s", True, timed_out=True
                )
            except httpx.TimeoutException as exc:
                failure = _Failure(
                    f"timeout after {self.timeout:g} s ({type(exc).__name__})",
                    True,
                    timed_out=True,
                )
            except httpx.TransportError as exc:
                reason = _one_line(str(exc) or "no detail", 120)
                failure = _Failure(f"connection error ({type(exc).__name__}: {reason})", True)
            finally:
                self._limit.release(completed=reply is not None and reply[0] == 200)
            if reply is not None:
                code, raw, headers = reply
                text = raw.decode("utf-8", "replace")
                if code == 200:
                    elapsed = time.perf_counter() - start
                    return self._parse(req, text, messages, folded, attempts, elapsed)
                if (
                    code >= 400
                    and not folded
                    and _has_system(messages)
                    and _SYSTEM_REJECTION.search(text)
                ):
                    log.debug("%s rejected the system role; folding it into the user turn", url)
                    folded = True
                    messages = fold_system(req.messages)
                    continue
                body = _one_line(text)
                overflow = code in (400, 413, 422) and bool(_CONTEXT_ERROR.search(text))
                failure = _Failure(
                    (
                        f"prompt + max_tokens exceed the server's context (HTTP {code}: {body})"
                        if overflow
                        else f"HTTP {code}: {body}"
                    ),
                    code in RETRY_STATUSES,
                    _retry_after(headers.get("Retry-After")),
                    overflow=overflow,
                )
            assert failure is not None
            if failure.timed_out and self.adaptive:
                lowered = self._limit.lower(started_at)
                if lowered is not None:
                    self._notice(
                        f"server at {redact(self.base_url)} let queued requests time out while "
                        f"answering others (it serves fewer at a time): concurrency lowered to "
                        f"{lowered}; start there with --concurrency {lowered}"
                    )
            if not failure.retryable or retries >= self.max_retries:
                extra: dict[str, Any] = {"attempts": attempts}
                if failure.overflow:
                    extra["context_overflow"] = True
                return GenerationResult(
                    key=req.key,
                    error=self._scrub(failure.message),
                    system_fallback=folded,
                    rendered_hash=prompt_hash(_render_json(messages)),
                    extra=extra,
                )
            delay = self._delay(req.key, retries, failure.retry_after)
            retries += 1
            log.debug(
                "request %s attempt %d failed (%s); retrying in %.2f s",
                req.key,
                attempts,
                self._scrub(failure.message),
                delay,
            )
            self._closed.wait(delay)

    def _notice(self, text: str) -> None:
        with self._lock:
            if text not in self._notices:
                self._notices.append(text)
        log.warning("%s", text)

    def _parse(
        self,
        req: GenerationRequest,
        body: str,
        messages: list[Message],
        folded: bool,
        attempts: int,
        elapsed: float,
    ) -> GenerationResult:
        result = GenerationResult(
            key=req.key,
            time_s=elapsed,
            system_fallback=folded,
            rendered_hash=prompt_hash(_render_json(messages)),
            extra={"attempts": attempts},
        )
        try:
            data = json.loads(body)
        except ValueError:
            result.error = self._scrub(f"HTTP 200 with invalid JSON: {_one_line(body)}")
            return result
        try:
            self._read_reply(data, result)
        except _Malformed as exc:
            result.error = self._scrub(f"malformed reply: {exc}")
            result.text = result.reasoning = ""
            return result
        if folded and not self._folds_system:
            self._folds_system = True
        return result

    def _read_reply(self, data: Any, result: GenerationResult) -> None:
        """Fill ``result`` from a chat-completion JSON object; :class:`_Malformed` names
        the first thing that is not as the protocol says."""
        if not isinstance(data, dict):
            raise _Malformed(f"the reply is a JSON {type(data).__name__}, not an object")
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise _Malformed(
                "no 'choices' list"
                if choices is None
                else f"'choices' is a {type(choices).__name__}, not a list"
            )
        if not choices:
            raise _Malformed("'choices' is empty")
        choice = choices[0]
        if not isinstance(choice, dict):
            raise _Malformed(f"choices[0] is a {type(choice).__name__}, not an object")
        message = choice.get("message")
        if not isinstance(message, dict):
            raise _Malformed(
                "choices[0] has no 'message'"
                if message is None
                else f"choices[0].message is a {type(message).__name__}, not an object"
            )
        finish = choice.get("finish_reason")
        result.finish_reason = finish if isinstance(finish, str) else None
        result.reasoning = _content_text(
            message.get("reasoning_content") or message.get("reasoning"),
            "choices[0].message.reasoning",
        )
        content = message.get("content")
        if content is None and not result.reasoning:
            raise _Malformed(
                f"the reply had no content (message.content is null, finish_reason "
                f"{result.finish_reason or 'missing'})"
            )
        result.text = _content_text(content, "choices[0].message.content")
        usage = data.get("usage") or {}
        if isinstance(usage, dict):
            result.prompt_tokens = _opt_int(usage.get("prompt_tokens"))
            result.completion_tokens = _opt_int(usage.get("completion_tokens"))
        served = data.get("model")
        result.extra["served_model"] = (
            served if isinstance(served, str) and served else self._served_model
        )
