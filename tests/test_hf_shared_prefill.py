"""The hf backend's shared prefill: N samples of one prompt in a batch compute the prompt
once, and the outputs are exactly those of the plain path (tiny models, float64, CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lem.backends.base import GenerationRequest, SamplingParams, backend_options
from tests.tiny_models import tiny_models

__all__ = ["tiny_models"]

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from lem.backends.hf import HFBackend  # noqa: E402

SYSTEM = "Honesty matters more than flattery; harm avoidance matters more than speed."
PROMPT_A = "Tell me about the weather in the mountains and the rivers, then the cities."
PROMPT_B = "What is fairness?"
PROMPT_C = "Explain consent, autonomy, dignity and trust in plain words."
SAMPLED = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def shared(tiny_models: Callable[..., Path]) -> Iterator[HFBackend]:
    backend = HFBackend(str(tiny_models("system")), dtype="float64", batch_size=8)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def plain(tiny_models: Callable[..., Path]) -> Iterator[HFBackend]:
    backend = HFBackend(
        str(tiny_models("system")), dtype="float64", batch_size=8, share_prefill=False
    )
    yield backend
    backend.close()


def _request(key: str, prompt: str, sampling: SamplingParams, seed: int) -> GenerationRequest:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    return GenerationRequest(key, messages, sampling, seed=seed)


def _texts(
    backend: HFBackend, requests: list[GenerationRequest], batch_size: int
) -> dict[str, str]:
    before = backend.batch_size
    backend.batch_size = batch_size
    try:
        results = list(backend.generate(requests))
    finally:
        backend.batch_size = before
    assert sorted(r.key for r in results) == sorted(r.key for r in requests)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return {r.key: r.text for r in results}


class _Forwards:
    """Records (rows, columns) of every forward call of a model."""

    def __init__(self, backend: HFBackend) -> None:
        self.shapes: list[tuple[int, int]] = []
        self._handle = backend._model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.shapes.append((int(ids.shape[0]), int(ids.shape[1])))

    def close(self) -> None:
        self._handle.remove()


def test_one_prompt_eight_seeds_matches_each_alone(shared: HFBackend, plain: HFBackend) -> None:
    reqs = [_request(f"s{i}", PROMPT_A, SAMPLED, seed=1000 + i) for i in range(8)]
    width = len(shared._encode(shared.render(reqs[0].messages)[0]))

    saved = shared.prefill_rows_saved
    forwards = _Forwards(shared)
    try:
        batched = _texts(shared, reqs, 8)
    finally:
        forwards.close()
    assert shared.prefill_rows_saved - saved == 7
    # One prefill of the prompt less its last token, then generate starts at that token.
    assert forwards.shapes[0] == (1, width - 1)
    assert forwards.shapes[1] == (8, 1)
    assert all(shape == (8, 1) for shape in forwards.shapes[1:])

    alone = _texts(plain, reqs, 1)
    unshared = _texts(plain, reqs, 8)
    assert batched == alone == unshared
    assert len(set(batched.values())) > 4  # the seeds really differ
    assert plain.prefill_rows_saved == 0


def test_mixed_batch_matches_one_at_a_time(shared: HFBackend, plain: HFBackend) -> None:
    reqs = [
        *(_request(f"a{i}", PROMPT_A, SAMPLED, seed=i) for i in range(3)),
        _request("c0", PROMPT_C, SAMPLED, seed=50),
        *(_request(f"b{i}", PROMPT_B, SAMPLED, seed=10 + i) for i in range(3)),
    ]
    saved = shared.prefill_rows_saved
    batched = _texts(shared, reqs, 8)
    assert shared.prefill_rows_saved - saved == 4  # 7 rows, 3 distinct prompts
    assert batched == _texts(plain, reqs, 1)
    assert batched == _texts(plain, reqs, 8)


def test_greedy_shared_matches_plain(shared: HFBackend, plain: HFBackend) -> None:
    greedy = SamplingParams(max_tokens=16)
    reqs = [
        *(_request(f"a{i}", PROMPT_A, greedy, seed=i) for i in range(3)),
        *(_request(f"b{i}", PROMPT_B, greedy, seed=i) for i in range(2)),
        _request("c0", PROMPT_C, greedy, seed=0),
        # A sampled row of a shared prompt in the same batch as greedy ones.
        _request("s0", PROMPT_B, SamplingParams(temperature=0.8, max_tokens=16), seed=7),
    ]
    saved = shared.prefill_rows_saved
    batched = _texts(shared, reqs, 8)
    assert shared.prefill_rows_saved - saved == 4  # a: 3 rows, b: 3 rows (one sampled)
    assert batched == _texts(plain, reqs, 1)
    assert len({batched["a0"], batched["a1"], batched["a2"]}) == 1
    assert batched["b0"] == batched["b1"]


def test_identical_prompts_are_batched_together(shared: HFBackend) -> None:
    # Two prompts of the same token length, interleaved: the sort puts each prompt's
    # rows in one batch of 4, so each batch shares its prefill 3 times.
    first, second = "Numbers: 1 2 3", "Numbers: 4 5 6"
    enc = [
        shared._encode(shared.render(_request("x", p, SAMPLED, 0).messages)[0])
        for p in (first, second)
    ]
    assert len(enc[0]) == len(enc[1]) and enc[0] != enc[1]
    reqs = [
        _request(f"{tag}{i}", prompt, SAMPLED, seed=i)
        for i in range(4)
        for tag, prompt in (("p", first), ("q", second))
    ]
    saved = shared.prefill_rows_saved
    batched = _texts(shared, reqs, 4)
    assert shared.prefill_rows_saved - saved == 6
    alone = {k: v for r in reqs for k, v in _texts(shared, [r], 1).items()}
    assert batched == alone


def test_stop_strings_with_shared_prefill(shared: HFBackend, plain: HFBackend) -> None:
    base = _texts(plain, [_request(f"s{i}", PROMPT_A, SAMPLED, seed=i) for i in range(4)], 1)
    text = next(t for t in base.values() if len(t) > 3)
    stop = text[1:3]
    stopping = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12, stop=[stop])
    reqs = [_request(f"s{i}", PROMPT_A, stopping, seed=i) for i in range(4)]
    saved = shared.prefill_rows_saved
    batched = _texts(shared, reqs, 4)
    assert shared.prefill_rows_saved - saved == 3
    assert batched == _texts(plain, reqs, 1)
    assert all(stop not in t for t in batched.values())


def test_share_prefill_is_a_backend_option() -> None:
    field = backend_options(HFBackend).model_fields["share_prefill"]
    assert field.default is True
