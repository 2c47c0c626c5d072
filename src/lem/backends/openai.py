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

import email.utils
import json
import logging
import os
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
    fold_system,
    messages_hash,
    register_backend,
)
from lem.errors import BackendError

__all__ = ["RETRY_STATUSES", "OpenAIBackend", "fold_system", "normalize_base_url"]

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


def _content_text(content: Any) -> str:
    """Message content as text; tolerates ``null`` and content-part lists."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Failure:
    """Why one attempt failed, and whether another attempt may help."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None) -> None:
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


@register_backend("openai")
class OpenAIBackend(Backend):
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    ``target`` is the server URL (``/v1`` is appended when missing); ``model`` is sent as
    the request's ``model`` field only when given. The API key, if any, is read once
    from the environment variable ``api_key_env`` and sent as a bearer token; it never
    appears in :meth:`identity`, reprs, logs or error messages. With ``check`` the
    constructor probes ``GET /v1/models`` so a wrong URL or key fails fast with a
    :class:`~lem.errors.BackendError`.
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
        **_ignored: Any,
    ) -> None:
        if concurrency < 1:
            raise BackendError(f"OpenAI backend concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise BackendError(f"OpenAI backend max_retries must be >= 0, got {max_retries}")
        if timeout <= 0:
            raise BackendError(f"OpenAI backend timeout must be > 0 seconds, got {timeout}")
        self.base_url = normalize_base_url(target)
        self.model = model or None
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = max(0.0, float(backoff))
        self.backoff_max = max(0.0, float(backoff_max))
        self._api_key = os.environ.get(api_key_env) or None
        self._served_model: str | None = None
        self._folds_system = False
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
        return f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def served_model(self) -> str | None:
        """The model name the server reports, once known (listing or first reply)."""
        return self._served_model

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "backend": "openai",
            "base_url": self.base_url,
            "model": self.model or "",
        }
        if self._served_model:
            ident["served_model"] = self._served_model
        return ident

    def supports_system_role(self) -> bool:
        return not self._folds_system

    def render(self, messages: list[Message]) -> tuple[str, bool]:
        if self._folds_system and _has_system(messages):
            return json.dumps(fold_system(messages), ensure_ascii=False), True
        return json.dumps(messages, ensure_ascii=False), False

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
        """Check the server answers and the key is accepted; learn the served model."""
        url = f"{self.base_url}/models"
        try:
            resp = self._client.get(url, timeout=min(self.timeout, PROBE_TIMEOUT_S))
        except httpx.TimeoutException:
            raise BackendError(
                f"cannot reach OpenAI-compatible server at {self.base_url} (no answer within "
                f"{min(self.timeout, PROBE_TIMEOUT_S):g} s); start it or fix the URL"
            ) from None
        except httpx.HTTPError as exc:
            reason = self._scrub(_one_line(str(exc) or type(exc).__name__, 120))
            raise BackendError(
                f"cannot reach OpenAI-compatible server at {self.base_url} ({reason}); "
                "start it or fix the URL"
            ) from None
        if resp.status_code in (401, 403):
            what = "rejected the API key in" if self._api_key else "needs an API key; set"
            raise BackendError(
                f"OpenAI-compatible server at {self.base_url} answered HTTP "
                f"{resp.status_code}: it {what} the environment variable {self.api_key_env}"
            )
        if resp.status_code != 200:
            log.debug("GET %s answered HTTP %s; skipping model check", url, resp.status_code)
            return
        try:
            data = resp.json().get("data") or []
            ids = [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        except (ValueError, AttributeError, TypeError):
            ids = []
        if not ids:
            return
        if self.model is None:
            self._served_model = ids[0]
        elif self.model in ids:
            self._served_model = self.model
        elif len(ids) == 1:
            self._served_model = ids[0]

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
        return text.replace(self._api_key, "***") if self._api_key else text

    def _run_one(self, req: GenerationRequest) -> GenerationResult:
        try:
            return self._generate_one(req)
        except Exception as exc:  # a bug or odd reply must not kill the whole batch
            log.debug("request %s failed unexpectedly", req.key, exc_info=True)
            msg = self._scrub(_one_line(f"{type(exc).__name__}: {exc}"))
            return GenerationResult(key=req.key, error=msg)

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
                    rendered_hash=messages_hash(messages),
                    extra={"attempts": attempts},
                )
            attempts += 1
            start = time.perf_counter()
            failure: _Failure
            try:
                resp = self._client.post(url, json=self._payload(messages, req))
            except httpx.TimeoutException as exc:
                failure = _Failure(f"timeout after {self.timeout:g} s ({type(exc).__name__})", True)
            except httpx.TransportError as exc:
                reason = _one_line(str(exc) or "no detail", 120)
                failure = _Failure(f"connection error ({type(exc).__name__}: {reason})", True)
            else:
                elapsed = time.perf_counter() - start
                if resp.status_code == 200:
                    return self._parse(req, resp, messages, folded, attempts, elapsed)
                body = _one_line(resp.text)
                if (
                    resp.status_code >= 400
                    and not folded
                    and _has_system(messages)
                    and _SYSTEM_REJECTION.search(resp.text)
                ):
                    log.debug("%s rejected the system role; folding it into the user turn", url)
                    folded = True
                    messages = fold_system(req.messages)
                    continue
                failure = _Failure(
                    f"HTTP {resp.status_code}: {body}",
                    resp.status_code in RETRY_STATUSES,
                    _retry_after(resp.headers.get("Retry-After")),
                )
            if not failure.retryable or retries >= self.max_retries:
                return GenerationResult(
                    key=req.key,
                    error=self._scrub(failure.message),
                    system_fallback=folded,
                    rendered_hash=messages_hash(messages),
                    extra={"attempts": attempts},
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

    def _parse(
        self,
        req: GenerationRequest,
        resp: httpx.Response,
        messages: list[Message],
        folded: bool,
        attempts: int,
        elapsed: float,
    ) -> GenerationResult:
        result = GenerationResult(
            key=req.key,
            time_s=elapsed,
            system_fallback=folded,
            rendered_hash=messages_hash(messages),
            extra={"attempts": attempts},
        )
        try:
            data = resp.json()
        except ValueError:
            result.error = self._scrub(f"HTTP 200 with invalid JSON: {_one_line(resp.text)}")
            return result
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            result.error = self._scrub(f"HTTP 200 without choices: {_one_line(resp.text)}")
            return result
        choice = choices[0]
        message = choice.get("message") or {}
        result.text = _content_text(message.get("content"))
        result.reasoning = _content_text(
            message.get("reasoning_content") or message.get("reasoning")
        )
        finish = choice.get("finish_reason")
        result.finish_reason = finish if isinstance(finish, str) else None
        usage = data.get("usage") or {}
        if isinstance(usage, dict):
            result.prompt_tokens = _opt_int(usage.get("prompt_tokens"))
            result.completion_tokens = _opt_int(usage.get("completion_tokens"))
        served = data.get("model")
        if isinstance(served, str) and served:
            with self._lock:
                if self._served_model is None:
                    self._served_model = served
        else:
            served = self._served_model
        result.extra["served_model"] = served
        if folded and not self._folds_system:
            self._folds_system = True
        return result
