"""OpenAIBackend against a local fake server: payloads, retries, fallbacks, concurrency."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lem.backends.base import (
    GenerationRequest,
    GenerationResult,
    Message,
    SamplingParams,
    create_backend,
    prompt_hash,
)
from lem.backends.openai import CANARY_MESSAGES, OpenAIBackend, fold_system, normalize_base_url
from lem.errors import BackendError
from tests.fake_openai_server import FakeOpenAIServer, default_content, ok, status

pytestmark = pytest.mark.timeout(30)

CANARY = prompt_hash(default_content({"messages": CANARY_MESSAGES}))[:16]

FAST = {"timeout": 2.0, "backoff": 0.01, "backoff_max": 0.05, "max_retries": 3}
SYS_USER: list[Message] = [
    {"role": "system", "content": "Be kind."},
    {"role": "user", "content": "hello there general kenobi"},
]


@pytest.fixture
def make() -> Iterator[Callable[..., tuple[FakeOpenAIServer, OpenAIBackend]]]:
    """Start a fake server and a backend pointed at it; both torn down after the test."""
    servers: list[FakeOpenAIServer] = []
    backends: list[OpenAIBackend] = []

    def _make(
        *, model: str | None = "m", server: dict[str, Any] | None = None, **opts: Any
    ) -> tuple[FakeOpenAIServer, OpenAIBackend]:
        listed = {"models": [model]} if model else {}
        srv = FakeOpenAIServer(**{**listed, **(server or {})}).start()
        servers.append(srv)
        backend = OpenAIBackend(srv.url, model, **{**FAST, **opts})
        backends.append(backend)
        return srv, backend

    yield _make
    for b in backends:
        b.close()
    for s in servers:
        s.stop()


def req(
    key: str = "k1",
    messages: list[Message] | None = None,
    seed: int = 7,
    **sampling: Any,
) -> GenerationRequest:
    msgs = messages if messages is not None else [{"role": "user", "content": f"say {key}"}]
    return GenerationRequest(key=key, messages=msgs, sampling=SamplingParams(**sampling), seed=seed)


def one(backend: OpenAIBackend, request: GenerationRequest) -> GenerationResult:
    results = list(backend.generate([request]))
    assert len(results) == 1
    return results[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- success path --------------------------------------------------------------------------


def test_success_passes_sampling_and_reads_reply(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"models": ["m", "other"]})
    request = req(
        "a",
        SYS_USER,
        seed=1234,
        temperature=0.7,
        top_p=0.9,
        max_tokens=32,
        stop=("END", "###"),
    )
    res = one(backend, request)

    assert res.ok and res.key == "a"
    assert res.text == "echo: hello there general kenobi"
    assert res.reasoning == ""
    assert res.prompt_tokens == 6 and res.completion_tokens == 5
    assert res.finish_reason == "stop"
    assert res.time_s > 0
    assert res.system_fallback is False
    assert res.rendered_hash == prompt_hash(json.dumps(SYS_USER, ensure_ascii=False))
    assert res.extra == {"attempts": 1, "served_model": "m"}

    body = srv.chat_requests[0].body
    assert body == {
        "messages": SYS_USER,
        "max_tokens": 32,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 1234,
        "stop": ["END", "###"],
        "model": "m",
    }
    assert backend.identity() == {
        "backend": "openai",
        "model": "m",
        "served_model": "m",
        "canary": CANARY,
    }
    assert backend.provenance() == {"base_url": srv.base_url}
    assert backend.render(SYS_USER) == (json.dumps(SYS_USER), False)
    assert backend.preferred_batch_size() == 16


def test_model_omitted_when_not_given(make: Callable[..., Any]) -> None:
    srv, backend = make(
        model=None, server={"models": ["listed-a", "listed-b"], "served_model": "s"}
    )
    res = one(backend, req())
    body = srv.chat_requests[0].body
    assert "model" not in body and "stop" not in body
    assert srv.requests[0].method == "GET" and srv.requests[0].path == "/v1/models"
    assert backend.identity() == {
        "backend": "openai",
        "model": "",
        "served_model": "listed-a",
        "canary": CANARY,
    }
    assert res.extra["served_model"] == "s"


def test_identity_never_depends_on_a_reply(make: Callable[..., Any]) -> None:
    srv, backend = make(
        model=None, check=False, server={"served_model": "from-reply", "models": ["fake-model"]}
    )
    before = backend.identity()
    assert one(backend, req()).ok
    assert backend.identity() == before
    assert before["served_model"] == "fake-model"  # the listing, not the reply's name
    assert [r.method for r in srv.requests] == ["GET", "POST", "POST"]
    assert len(srv.canary_requests) == 1  # asked once per backend


def test_models_404_is_tolerated(make: Callable[..., Any]) -> None:
    _, backend = make(server={"models_status": 404})
    assert backend.identity()["served_model"] == ""
    assert one(backend, req()).ok


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"),
        ("http://host:11434/v1", "http://host:11434/v1"),
        ("http://host:11434/v1/", "http://host:11434/v1"),
        ("https://h/v1/chat/completions", "https://h/v1"),
        ("localhost:1234", "http://localhost:1234/v1"),
    ],
)
def test_normalize_base_url(target: str, expected: str) -> None:
    assert normalize_base_url(target) == expected


@pytest.mark.parametrize("target", ["", "http://", "ftp://host:21"])
def test_bad_url_raises_backend_error(target: str) -> None:
    with pytest.raises(BackendError, match="URL"):
        normalize_base_url(target)


def test_registered_and_created_from_spec() -> None:
    backend = create_backend("openai:http://127.0.0.1:9/#my-model", check=False)
    try:
        assert isinstance(backend, OpenAIBackend)
        assert backend.model == "my-model"
        assert backend.provenance() == {"base_url": "http://127.0.0.1:9/v1"}
    finally:
        backend.close()


def test_bad_settings_raise_backend_error() -> None:
    with pytest.raises(BackendError, match="concurrency"):
        OpenAIBackend("http://127.0.0.1:9", concurrency=0, check=False)


# -- retries -------------------------------------------------------------------------------


def test_429_then_ok_is_retried(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": ["429", "ok"]})
    res = one(backend, req())
    assert res.ok and res.extra["attempts"] == 2
    assert len(srv.chat_requests) == 2


def _recorded_waits(backend: OpenAIBackend) -> list[float]:
    """Make the backend's backoff waits observable (they still happen)."""
    waits: list[float] = []
    real = backend._closed.wait

    def wait(timeout: float | None = None) -> bool:
        waits.append(float(timeout or 0.0))
        return real(timeout)

    backend._closed.wait = wait  # type: ignore[method-assign]
    return waits


def test_retry_after_is_honoured(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": [status(429, retry_after=1), "ok"]}, backoff_max=5.0)
    waits = _recorded_waits(backend)
    res = one(backend, req())
    assert res.ok and res.extra["attempts"] == 2
    assert waits == [1.0]
    first, second = srv.chat_requests
    assert second.time - first.time >= 0.95  # a lower bound: load can only lengthen it


def test_retry_after_is_capped_at_backoff_max(make: Callable[..., Any]) -> None:
    _, backend = make(server={"plan": [status(503, retry_after=30), "ok"]}, backoff_max=0.1)
    waits = _recorded_waits(backend)
    assert one(backend, req()).ok
    assert waits == [0.1]


@pytest.mark.parametrize("code", ["500", "502", "503", "504"])
def test_server_errors_then_ok(make: Callable[..., Any], code: str) -> None:
    srv, backend = make(server={"plan": [code, code, "ok"]})
    res = one(backend, req())
    assert res.ok and res.extra["attempts"] == 3
    assert [r.behaviour for r in srv.chat_requests] == ["status", "status", "ok"]


def test_slow_reply_times_out_and_is_retried(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": ["slow", "ok"], "slow_s": 3.0}, timeout=0.3)
    res = one(backend, req())
    assert res.ok and res.extra["attempts"] == 2
    assert len(srv.chat_requests) == 2
    assert res.time_s < 3.0  # the time of the answered attempt, not of the abandoned one


def test_dropped_connection_is_retried(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": ["drop", "drop", "ok"]})
    res = one(backend, req())
    assert res.ok and res.extra["attempts"] == 3
    assert len(srv.chat_requests) == 3


def test_persistent_500_gives_error_result(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"default": status(500, body="boom " * 100)}, max_retries=2)
    res = one(backend, req())
    assert not res.ok and res.error is not None
    assert res.error.startswith("HTTP 500: boom boom")
    assert len(res.error) <= len("HTTP 500: ") + 200
    assert "\n" not in res.error
    assert res.extra["attempts"] == 3
    assert len(srv.chat_requests) == 3


def test_persistent_timeouts_give_error_result(make: Callable[..., Any]) -> None:
    _, backend = make(server={"default": "slow", "slow_s": 3.0}, timeout=0.2, max_retries=1)
    res = one(backend, req())
    assert res.error is not None and "timeout" in res.error
    assert res.extra["attempts"] == 2


@pytest.mark.parametrize("code", [400, 404, 422])
def test_other_client_errors_are_not_retried(make: Callable[..., Any], code: int) -> None:
    body = '{"error": {"message": "max_tokens is too large"}}'
    srv, backend = make(server={"plan": [status(code, body=body)]})
    res = one(backend, req("x", SYS_USER))
    assert res.error == f"HTTP {code}: {body}"
    assert res.system_fallback is False
    assert len(srv.chat_requests) == 1


# -- system-role fallback ------------------------------------------------------------------


def test_system_rejection_folds_and_retries(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": ["reject_system"]})
    res = one(backend, req("s", SYS_USER))
    folded = [{"role": "user", "content": "Be kind.\n\nhello there general kenobi"}]
    assert res.ok and res.system_fallback is True
    assert res.extra["attempts"] == 2
    assert res.rendered_hash == prompt_hash(json.dumps(folded, ensure_ascii=False))
    assert res.text == "echo: Be kind. hello there general kenobi"
    assert [r.messages for r in srv.chat_requests] == [SYS_USER, folded]

    assert backend.supports_system_role() is False
    assert backend.render(SYS_USER) == (json.dumps(folded), True)
    again = one(backend, req("t", SYS_USER))
    assert again.system_fallback is True and again.extra["attempts"] == 1
    assert srv.chat_requests[-1].messages == folded


def test_system_rejection_as_500_alternate_roles(make: Callable[..., Any]) -> None:
    body = "Conversation roles must alternate user/assistant/user/assistant/..."
    srv, backend = make(server={"plan": [status(500, body=body)]})
    res = one(backend, req("s", SYS_USER))
    assert res.ok and res.system_fallback is True
    assert len(srv.chat_requests) == 2


def test_system_role_always_rejected_without_system_message_is_fine(
    make: Callable[..., Any],
) -> None:
    _, backend = make(server={"reject_system_role": True})
    res = one(backend, req())
    assert res.ok and res.system_fallback is False
    assert backend.supports_system_role() is True


def test_folded_request_still_failing_reports_error(make: Callable[..., Any]) -> None:
    body = "System role not supported"
    srv, backend = make(server={"default": status(400, body=body)})
    res = one(backend, req("s", SYS_USER))
    assert res.error == f"HTTP 400: {body}"
    assert res.system_fallback is True
    assert len(srv.chat_requests) == 2
    assert backend.supports_system_role() is True


def test_fold_system() -> None:
    msgs: list[Message] = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "U2"},
    ]
    snapshot = json.dumps(msgs)
    assert fold_system(msgs) == [
        {"role": "user", "content": "S\n\nU1"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "U2"},
    ]
    assert json.dumps(msgs) == snapshot
    plain: list[Message] = [{"role": "user", "content": "U"}]
    assert fold_system(plain) == plain and fold_system(plain) is not plain
    assert fold_system([{"role": "system", "content": "S"}]) == [{"role": "user", "content": "S"}]


# -- reasoning -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field_is_captured(make: Callable[..., Any], field: str) -> None:
    _, backend = make(server={"reasoning": True, "reasoning_field": field})
    res = one(backend, req("r", [{"role": "user", "content": "why"}]))
    assert res.text == "echo: why"
    assert res.reasoning == "thinking: echo: why"


# -- concurrency and streaming of results ---------------------------------------------------


def test_concurrency_overlaps_requests(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"latency_s": 0.3}, concurrency=4)
    results = list(backend.generate([req(f"k{i}") for i in range(8)]))
    assert len(results) == 8 and all(r.ok for r in results)
    assert srv.max_in_flight == 4


def test_results_are_yielded_as_they_complete(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": [ok(delay_s=2.0)]}, concurrency=4)
    keys = [r.key for r in backend.generate([req(f"k{i}") for i in range(4)])]
    slow = srv.chat_requests[0].body["messages"][0]["content"].removeprefix("say ")
    assert sorted(keys) == ["k0", "k1", "k2", "k3"]
    assert keys[-1] == slow  # the delayed request came back last, not in submission order


def test_every_key_yielded_exactly_once(make: Callable[..., Any]) -> None:
    plan = ["500", "drop", "429", "ok", "503", "ok", "drop", "502"] * 2
    srv, backend = make(server={"plan": plan}, concurrency=4, max_retries=12)
    keys = [f"key-{i}" for i in range(20)]
    results = list(backend.generate([req(k) for k in keys]))
    assert sorted(r.key for r in results) == sorted(keys)
    assert all(r.ok for r in results)
    by_key = {r.key: r for r in results}
    assert by_key["key-3"].text == "echo: say key-3"
    assert len(srv.chat_requests) == 20 + 12


def test_empty_batch_and_early_stop(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"latency_s": 0.1}, concurrency=2)
    assert list(backend.generate([])) == []
    gen = backend.generate([req(f"k{i}") for i in range(10)])
    first = next(gen)
    assert first.ok
    gen.close()
    sent = len(srv.chat_requests)
    assert sent < 10  # the queued requests were cancelled, not sent


# -- API key -------------------------------------------------------------------------------

SECRET = "sk-test-secret-4f9a"


def test_api_key_sent_as_bearer_and_never_shown(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEM_TEST_KEY", SECRET)
    srv, backend = make(
        api_key_env="LEM_TEST_KEY",
        server={"api_key": SECRET, "plan": ["ok", status(400, body=f"bad request for {SECRET}")]},
    )
    good = one(backend, req("a"))
    bad = one(backend, req("b"))
    assert good.ok
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in srv.requests)
    assert bad.error is not None and SECRET not in bad.error and "***" in bad.error
    assert SECRET not in repr(backend)
    assert SECRET not in json.dumps(backend.identity())


def test_wrong_api_key_raises_naming_env_var(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEM_TEST_KEY", SECRET)
    with FakeOpenAIServer(api_key="other-key") as srv, pytest.raises(BackendError) as err:
        OpenAIBackend(srv.url, "m", api_key_env="LEM_TEST_KEY")
    msg = str(err.value)
    assert "LEM_TEST_KEY" in msg and "401" in msg and SECRET not in msg


def test_missing_api_key_raises_naming_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEM_TEST_KEY", raising=False)
    expected = "set the environment variable LEM_TEST_KEY"
    with FakeOpenAIServer(api_key="needed") as srv, pytest.raises(BackendError, match=expected):
        OpenAIBackend(srv.url, api_key_env="LEM_TEST_KEY")


# -- unreachable ---------------------------------------------------------------------------


def test_unreachable_server_raises_one_line_backend_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(BackendError) as err:
        OpenAIBackend(url, "m")
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"cannot reach OpenAI-compatible server at {url}/v1 (")
    assert msg.endswith("; start it or fix the URL")


def test_server_not_answering_probe_raises_backend_error() -> None:
    with FakeOpenAIServer(models_delay_s=3.0) as srv, pytest.raises(BackendError) as err:
        OpenAIBackend(srv.url, "m", timeout=0.3)
    msg = str(err.value)
    assert msg.startswith(f"cannot reach OpenAI-compatible server at {srv.base_url} (no answer")
    assert "\n" not in msg


# -- hardening: identity, deadlines, malformed replies, queueing servers ----------------------


def test_models_503_once_is_retried_and_identity_unchanged(make: Callable[..., Any]) -> None:
    srv, steady = make()
    expected = steady.identity()
    srv.models_fail_times = 1
    again = OpenAIBackend(srv.url, "m", **FAST)
    try:
        assert again.identity() == expected
        assert [r.method for r in srv.requests].count("GET") == 3  # steady, 503, retry
    finally:
        again.close()


def test_models_503_forever_is_one_line_error() -> None:
    with (
        FakeOpenAIServer(models=["m"], models_status=503) as srv,
        pytest.raises(BackendError) as err,
    ):
        OpenAIBackend(srv.url, "m", **FAST)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == (
        f"OpenAI-compatible server at {srv.base_url} answered HTTP 503 to GET /v1/models "
        "4 times; it is not ready: retry later"
    )


def test_unlisted_model_fails_naming_the_served_ones() -> None:
    with FakeOpenAIServer(models=["llama-3", "qwen"]) as srv:
        with pytest.raises(BackendError) as err:
            OpenAIBackend(srv.url, "mistral", **FAST)
        assert srv.chat_requests == []
    assert str(err.value) == (
        f"the server at {srv.base_url} does not serve model 'mistral'; it serves: "
        "llama-3, qwen. Use one of them after '#' in the model spec"
    )


def test_identity_is_content_not_url_and_catches_a_swap() -> None:
    """Same served model at two URLs → one identity; new weights behind the same URL and
    name (a different canary answer) → a new identity."""
    with (
        FakeOpenAIServer(models=["m"]) as a,
        FakeOpenAIServer(models=["m"]) as b,
        FakeOpenAIServer(models=["m"], canary=lambda _body: "purple, pink, grey") as swapped,
    ):
        ids = []
        for srv in (a, b, swapped):
            backend = OpenAIBackend(srv.url, "m", **FAST)
            ids.append(backend.identity())
            assert backend.provenance() == {"base_url": srv.base_url}
            backend.close()
    assert ids[0] == ids[1]
    assert ids[2] != ids[0]
    assert ids[2]["canary"] == prompt_hash("purple, pink, grey")[:16]
    assert ids[0]["canary"] == CANARY


def test_canary_can_be_replaced_by_a_declared_model_id(make: Callable[..., Any]) -> None:
    srv, backend = make(canary=False, model_id="llama-3.1-8b-q4@sha:abc")
    assert backend.identity() == {
        "backend": "openai",
        "model": "m",
        "served_model": "m",
        "model_id": "llama-3.1-8b-q4@sha:abc",
    }
    assert srv.canary_requests == []


def test_canary_failure_is_one_line_error(make: Callable[..., Any]) -> None:
    srv, backend = make(max_retries=0)
    srv.canary = lambda _body: (_ for _ in ()).throw(RuntimeError("boom"))  # server bug: 500
    with pytest.raises(BackendError, match=r"did not answer lem's canary prompt"):
        backend.identity()


def test_timeout_is_a_total_deadline_for_a_trickling_server(make: Callable[..., Any]) -> None:
    srv, backend = make(server={"plan": ["trickle"], "trickle_s": 0.05}, timeout=0.6, max_retries=0)
    full = len(json.dumps(srv.completion({"messages": [{"role": "user", "content": "say t"}]})))
    res = one(backend, req("t"))
    assert res.error == "timeout: no complete reply within 0.6 s"
    assert res.extra["attempts"] == 1
    assert 0 < srv.trickled < full  # the reply was still arriving when lem gave up


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {
                "choices": [
                    {"message": {"role": "assistant", "content": None}, "finish_reason": "length"}
                ]
            },
            "malformed reply: the reply had no content (message.content is null, "
            "finish_reason length)",
        ),
        ({"choices": {"0": 1}}, "malformed reply: 'choices' is a dict, not a list"),
        (
            {"choices": [{"message": "hello"}]},
            "malformed reply: choices[0].message is a str, not an object",
        ),
        ({"choices": []}, "malformed reply: 'choices' is empty"),
        ({"id": "x"}, "malformed reply: no 'choices' list"),
        ([1, 2], "malformed reply: the reply is a JSON list, not an object"),
        (
            {"choices": [{"message": {"content": 42}}]},
            "malformed reply: choices[0].message.content is a int, not text",
        ),
    ],
)
def test_malformed_and_empty_replies_are_failures(
    make: Callable[..., Any], body: Any, reason: str
) -> None:
    _, backend = make(server={"plan": [status(200, body=json.dumps(body))]})
    res = one(backend, req("x"))
    assert res.error == reason
    assert res.text == ""
    assert res.extra["attempts"] == 1


def test_null_content_with_reasoning_is_an_answer(make: Callable[..., Any]) -> None:
    body = {"choices": [{"message": {"content": None, "reasoning_content": "hmm"}}]}
    _, backend = make(server={"plan": [status(200, body=json.dumps(body))]})
    res = one(backend, req("x"))
    assert res.ok and res.text == "" and res.reasoning == "hmm"


def test_context_overflow_is_named_and_not_retried(make: Callable[..., Any]) -> None:
    body = json.dumps(
        {
            "error": {
                "message": "This model's maximum context length is 4096 tokens. However, "
                "you requested 5500 tokens."
            }
        }
    )
    srv, backend = make(server={"plan": [status(400, body=body)]})
    res = one(backend, req("x"))
    assert res.error is not None
    assert res.error.startswith("prompt + max_tokens exceed the server's context (HTTP 400: ")
    assert res.extra == {"attempts": 1, "context_overflow": True}
    assert len(srv.chat_requests) == 1


def test_server_reported_context_length_is_read() -> None:
    with FakeOpenAIServer(models=["m"]) as srv:
        srv.model_entries = {"m": {"max_model_len": 8192}}
        backend = OpenAIBackend(srv.url, "m", **FAST)
        try:
            assert backend.context_length() == 8192
        finally:
            backend.close()


def test_queueing_server_lowers_concurrency(make: Callable[..., Any]) -> None:
    """A server that answers one request at a time (mlx_lm.server): with 4 in flight the
    queued ones time out while the first completes, so concurrency is halved until the
    run goes through."""
    srv, backend = make(
        server={"serial": True, "latency_s": 0.25}, concurrency=4, timeout=0.6, max_retries=6
    )
    results = list(backend.generate([req(f"k{i}") for i in range(8)]))
    assert sorted(r.key for r in results) == [f"k{i}" for i in range(8)]
    assert all(r.ok for r in results), [r.error for r in results]
    assert backend.effective_concurrency < 4
    notes = backend.notices()
    assert len(notes) >= 1
    assert notes[-1].startswith(f"server at {srv.base_url} let queued requests time out")
    assert notes[-1].endswith(f"--concurrency {backend.effective_concurrency}")


def test_fixed_concurrency_when_adaptation_is_off(make: Callable[..., Any]) -> None:
    _, backend = make(
        server={"serial": True, "latency_s": 0.25},
        concurrency=4,
        timeout=0.6,
        max_retries=0,
        adaptive_concurrency=False,
    )
    results = list(backend.generate([req(f"k{i}") for i in range(4)]))
    assert any(not r.ok for r in results)
    assert backend.effective_concurrency == 4 and backend.notices() == []
