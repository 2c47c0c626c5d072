"""The hf backend's prefix cache: a long prefix that prompts share (a kernel) is computed
once and its KV cache reused within a batch and across batches, and the outputs are
exactly those of the plain path (tiny models, float64, CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lem.backends.base import (
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    backend_options,
    create_backend,
)
from lem.errors import BackendError, LemError
from tests.tiny_models import tiny_models

__all__ = ["tiny_models"]

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from lem.backends.hf import HFBackend, _full_attention_only  # noqa: E402

KERNEL = (
    "The kernel is a short statement of principles. Honesty matters more than flattery; "
    "harm avoidance matters more than speed. When you are unsure, say so. "
) * 3
OTHER_KERNEL = (
    "System prompts set the stage; user turns ask; assistant turns answer. "
    "When a user asks for help, help them well. "
) * 4
PROMPTS = [
    "hello",
    "Tell me about the weather in the mountains and the rivers, then the cities and the ocean.",
    "What is fairness?",
    "Explain consent, autonomy, dignity and trust in plain words, with five examples each.",
    "Numbers: 1 2 3",
    "The quick brown fox jumps over the lazy dog.",
]
MORE_PROMPTS = [
    "When you are unsure, say so.",
    "Pack my box with five dozen liquor jugs, then tell me about the history of ideas.",
    "x",
    "What is the meaning of fairness? Explain it.",
]
GREEDY = SamplingParams(max_tokens=16)
SAMPLED = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dir(tiny_models: Callable[..., Path]) -> Path:
    return tiny_models("system")


@pytest.fixture
def cached(model_dir: Path) -> Iterator[HFBackend]:
    """A fresh backend with the prefix cache (and shared prefill) on, nothing cached yet."""
    backend = HFBackend(str(model_dir), dtype="float64", batch_size=8)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def plain(model_dir: Path) -> Iterator[HFBackend]:
    """The plain path: every row computes its whole prompt."""
    backend = HFBackend(
        str(model_dir), dtype="float64", batch_size=8, share_prefill=False, prefix_cache=False
    )
    yield backend
    backend.close()


def _system(
    key: str, system: str, prompt: str, sampling: SamplingParams = GREEDY, seed: int = 0
) -> GenerationRequest:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    return GenerationRequest(key, messages, sampling, seed=seed)


def _user(
    key: str, text: str, sampling: SamplingParams = GREEDY, seed: int = 0
) -> GenerationRequest:
    return GenerationRequest(key, [{"role": "user", "content": text}], sampling, seed=seed)


def _kernel_requests(
    prompts: list[str], sampling: SamplingParams = GREEDY, kernel: str = KERNEL, tag: str = "k"
) -> list[GenerationRequest]:
    return [_system(f"{tag}{i}", kernel, p, sampling, seed=i) for i, p in enumerate(prompts)]


def _results(
    backend: HFBackend, requests: list[GenerationRequest], batch_size: int
) -> dict[str, GenerationResult]:
    before = backend.batch_size
    backend.batch_size = batch_size
    try:
        results = list(backend.generate(requests))
    finally:
        backend.batch_size = before
    assert sorted(r.key for r in results) == sorted(r.key for r in requests)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    # A batch that raised would be retried row by row and could still match: not here.
    assert not any(r.extra.get("retried_alone") for r in results)
    return {r.key: r for r in results}


def _texts(
    backend: HFBackend, requests: list[GenerationRequest], batch_size: int
) -> dict[str, tuple[str, int | None]]:
    return {
        k: (r.text, r.completion_tokens) for k, r in _results(backend, requests, batch_size).items()
    }


def _ids(backend: HFBackend, request: GenerationRequest) -> list[int]:
    return backend._encode(backend.render(request.messages)[0])


def _kernel_tokens(backend: HFBackend, kernel: str = KERNEL) -> int:
    """Tokens of the rendered prompt up to the end of the kernel's system turn: what two
    prompts under the kernel share whatever the user text."""
    a, b = (_ids(backend, _system("x", kernel, text)) for text in ("x", "Numbers"))
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)


class _Fed:
    """The position ids of every forward call of a model (padding has position 0)."""

    def __init__(self, backend: HFBackend) -> None:
        self.positions: list[Any] = []
        self._handle = backend._model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, _module: Any, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.positions.append(kwargs["position_ids"].detach().clone())

    def count(self, below: int) -> int:
        """(row, position) pairs fed with 1 <= position < ``below``."""
        return sum(int(((p >= 1) & (p < below)).sum()) for p in self.positions)

    def close(self) -> None:
        self._handle.remove()


def _fed(backend: HFBackend, requests: list[GenerationRequest], batch_size: int) -> _Fed:
    fed = _Fed(backend)
    try:
        _results(backend, requests, batch_size)
    finally:
        fed.close()
    return fed


# -- identical outputs ----------------------------------------------------------------------


def test_batched_greedy_matches_plain_path(cached: HFBackend, plain: HFBackend) -> None:
    reqs = _kernel_requests(PROMPTS)
    lengths = {len(_ids(cached, r)) for r in reqs}
    assert len(lengths) == len(reqs)  # every suffix differs in length: padding matters

    batched = _texts(cached, reqs, 8)
    assert cached.prefix_tokens_reused >= len(reqs) * _kernel_tokens(cached)
    assert batched == _texts(plain, reqs, 8)
    assert batched == _texts(plain, reqs, 1)
    assert len({text for text, _ in batched.values()}) == len(reqs)
    assert _texts(cached, reqs, 4) == batched  # batches of 4 and 2, the second from the cache


def test_one_prompt_at_a_time_matches_plain_path(cached: HFBackend, plain: HFBackend) -> None:
    reqs = _kernel_requests(PROMPTS + MORE_PROMPTS)
    alone = _texts(cached, reqs, 1)
    # The first prompt is computed whole and stored; every later one reuses its kernel.
    assert cached.prefix_tokens_reused >= (len(reqs) - 1) * _kernel_tokens(cached)
    assert alone == _texts(plain, reqs, 1)
    assert alone == _texts(plain, reqs, 8)


def test_sampled_rows_match_plain_path(cached: HFBackend, plain: HFBackend) -> None:
    reqs = [
        _system(f"s{i}-{j}", KERNEL, prompt, SAMPLED, seed=100 * i + j)
        for i, prompt in enumerate(PROMPTS[:4])
        for j in range(2)
    ]
    reused = cached.prefix_tokens_reused
    saved = cached.prefill_rows_saved
    batched = _texts(cached, reqs, 8)
    assert cached.prefix_tokens_reused > reused
    assert cached.prefill_rows_saved - saved == 4  # the two samples of each prompt
    assert batched == _texts(plain, reqs, 1)
    assert batched == _texts(plain, reqs, 8)
    assert len({text for text, _ in batched.values()}) > len(reqs) // 2  # seeds differ


def test_greedy_and_sampled_rows_in_one_batch(cached: HFBackend, plain: HFBackend) -> None:
    greedy = _kernel_requests(PROMPTS[:3])
    sampled = _kernel_requests(PROMPTS[:3], SAMPLED, tag="s")
    reqs = [*greedy, *sampled]
    batched = _texts(cached, reqs, 8)
    assert cached.prefix_tokens_reused > 0
    assert batched == _texts(plain, reqs, 1)


def test_stop_strings_with_prefix(cached: HFBackend, plain: HFBackend) -> None:
    base = _texts(plain, _kernel_requests(PROMPTS[:4]), 1)
    text = next(t for t, _ in base.values() if len(t) > 4)
    stop = text[2:4]
    stopping = SamplingParams(max_tokens=16, stop=(stop,))
    reqs = [*_kernel_requests(PROMPTS[:4], stopping), *_kernel_requests(PROMPTS[:4], tag="g")]
    batched = _texts(cached, reqs, 8)
    assert cached.prefix_tokens_reused >= 8 * _kernel_tokens(cached)
    assert batched == _texts(plain, reqs, 1)
    assert all(stop not in t for k, (t, _) in batched.items() if k.startswith("k"))
    assert any((n or 0) < 16 for k, (_, n) in batched.items() if k.startswith("k"))  # it did stop


# -- the cache is used, once, and never changed -----------------------------------------------


def test_prefix_tokens_are_fed_once_across_batches(cached: HFBackend, plain: HFBackend) -> None:
    kernel = _kernel_tokens(cached)
    assert kernel >= cached.prefix_cache_min_tokens
    first, second = _kernel_requests(PROMPTS[:4]), _kernel_requests(MORE_PROMPTS, tag="m")

    fed_first = _fed(cached, first, 4)
    # One row computes the kernel once (and the batch's common user header with it).
    assert fed_first.count(kernel) == kernel - 1
    assert fed_first.positions[0].shape[0] == 1
    fed_second = _fed(cached, second, 4)
    assert fed_second.count(kernel) == 0  # the second batch takes the kernel from the cache
    assert len(cached._prefixes) == 1

    # The plain path feeds the kernel once per row, which the counts above would catch.
    assert _fed(plain, first, 4).count(kernel) == 4 * (kernel - 1)
    assert _texts(cached, first + second, 4) == _texts(plain, first + second, 4)


def test_one_at_a_time_feeds_the_kernel_once(cached: HFBackend) -> None:
    kernel = _kernel_tokens(cached)
    reqs = _kernel_requests(PROMPTS)
    fed = _fed(cached, reqs, 1)
    assert fed.count(kernel) == kernel - 1


def test_stored_prefix_is_not_changed_by_generation(cached: HFBackend, plain: HFBackend) -> None:
    reqs = _kernel_requests(PROMPTS[:3])
    _texts(cached, reqs, 8)
    (stored,) = cached._prefixes.values()
    before = [(k.clone(), v.clone()) for k, v in stored.layers]
    again = _kernel_requests(MORE_PROMPTS, SAMPLED, tag="m")
    assert _texts(cached, again, 8) == _texts(plain, again, 8)
    assert _texts(cached, again, 1) == _texts(plain, again, 1)
    (after,) = cached._prefixes.values()
    assert after is stored
    for (k0, v0), (k1, v1) in zip(before, stored.layers, strict=True):
        assert torch.equal(k0, k1) and torch.equal(v0, v1)


def test_longer_shared_prefix_extends_a_stored_one(cached: HFBackend, plain: HFBackend) -> None:
    _texts(cached, _kernel_requests(PROMPTS[:3]), 8)
    (stored,) = cached._prefixes.values()
    lead = "Tell me about the weather, the ocean, mountains, rivers, cities and ideas. " * 5
    reqs = _kernel_requests([lead + p for p in MORE_PROMPTS], tag="m")
    ids = [_ids(cached, r) for r in reqs]
    common = min(
        next((i for i, (x, y) in enumerate(zip(ids[0], b, strict=False)) if x != y), len(b))
        for b in ids[1:]
    )
    assert common - len(stored.ids) >= cached.prefix_cache_min_tokens

    computed = cached.prefix_tokens_computed
    fed = _fed(cached, reqs, 8)
    # Only the part beyond the stored prefix's kernel is computed, once.
    kernel = _kernel_tokens(cached)
    assert fed.count(kernel) == 0
    assert cached.prefix_tokens_computed - computed <= common - kernel
    assert len(cached._prefixes) == 2
    assert _texts(cached, reqs, 8) == _texts(plain, reqs, 1)


# -- which prompts share what ---------------------------------------------------------------


def test_system_and_prefix_placements_cache_different_prefixes(
    cached: HFBackend, plain: HFBackend
) -> None:
    as_system = _kernel_requests(PROMPTS[:4])
    in_turn = [_user(f"u{i}", KERNEL + "\n\n" + p) for i, p in enumerate(PROMPTS[:4])]
    reqs = [*as_system, *in_turn]
    results = _results(cached, reqs, 8)
    # One generate call, two prefixes: the rows are batched by the prefix they share.
    assert {r.extra["batch_size"] for r in results.values()} == {4}
    assert len(cached._prefixes) == 2
    a, b = cached._prefixes
    assert a[: cached.prefix_cache_min_tokens] != b[: cached.prefix_cache_min_tokens]
    assert {k: (r.text, r.completion_tokens) for k, r in results.items()} == _texts(plain, reqs, 1)
    texts = {k: r.text for k, r in results.items()}
    assert [texts[f"k{i}"] for i in range(4)] != [texts[f"u{i}"] for i in range(4)]


def test_template_without_system_role_shares_one_prefix(
    tiny_models: Callable[..., Path],
) -> None:
    # The template folds a system message into the first user turn (like Gemma 3's), so
    # system:K and the kernel before the prompt render the same prompt.
    path = str(tiny_models("no_system_merge"))
    cached = HFBackend(path, dtype="float64", batch_size=8)
    plain = HFBackend(path, dtype="float64", batch_size=8, prefix_cache=False)
    try:
        as_system = _kernel_requests(PROMPTS[:3])
        in_turn = [_user(f"u{i}", KERNEL + "\n\n" + p) for i, p in enumerate(PROMPTS[:3])]
        assert [_ids(cached, r) for r in as_system] == [_ids(cached, r) for r in in_turn]
        reqs = [*as_system, *in_turn]
        batched = _texts(cached, reqs, 8)
        assert len(cached._prefixes) == 1
        assert cached.prefix_tokens_reused >= 6 * cached.prefix_cache_min_tokens
        assert batched == _texts(plain, reqs, 1)
        assert [batched[f"k{i}"] for i in range(3)] == [batched[f"u{i}"] for i in range(3)]
    finally:
        cached.close()
        plain.close()


def test_rows_without_a_shared_prefix_take_the_plain_path(
    cached: HFBackend, plain: HFBackend
) -> None:
    baseline = [_user(f"b{i}", p) for i, p in enumerate(PROMPTS)]
    fed = _fed(cached, baseline, 8)
    assert not cached._prefixes and cached.prefix_tokens_reused == 0
    assert fed.positions[0].shape[0] == len(baseline)  # one prefill of the whole batch

    mixed = [*baseline, *_kernel_requests(PROMPTS)]
    results = _results(cached, mixed, 8)
    assert len(cached._prefixes) == 1
    assert {results[f"b{i}"].extra["batch_size"] for i in range(6)} == {6}
    assert {k: (r.text, r.completion_tokens) for k, r in results.items()} == _texts(plain, mixed, 8)


def test_min_tokens_threshold(model_dir: Path, plain: HFBackend) -> None:
    reqs = _kernel_requests(PROMPTS[:4])
    kernel_plus = len(_ids(plain, reqs[2]))  # longer than what the rows share
    strict = HFBackend(
        str(model_dir), dtype="float64", batch_size=8, prefix_cache_min_tokens=kernel_plus
    )
    try:
        assert _texts(strict, reqs, 8) == _texts(plain, reqs, 8)
        assert not strict._prefixes and strict.prefix_tokens_reused == 0
    finally:
        strict.close()


def test_prefix_cache_off_caches_nothing(model_dir: Path, plain: HFBackend) -> None:
    off = HFBackend(str(model_dir), dtype="float64", batch_size=8, prefix_cache=False)
    try:
        reqs = _kernel_requests(PROMPTS)
        assert _texts(off, reqs, 8) == _texts(plain, reqs, 8)
        assert not off._prefixes and off.prefix_tokens_computed == 0
    finally:
        off.close()


def test_cache_is_bounded_and_freed_on_close(cached: HFBackend, plain: HFBackend) -> None:
    cached.PREFIX_CACHE_ENTRIES = 2
    kernels = [KERNEL, OTHER_KERNEL, "Say so. " * 40]
    for n, kernel in enumerate(kernels):
        reqs = _kernel_requests(PROMPTS[:2], kernel=kernel, tag=f"c{n}")
        assert _texts(cached, reqs, 8) == _texts(plain, reqs, 8)
    assert len(cached._prefixes) == 2
    assert [ids[:80] for ids in cached._prefixes] == [
        tuple(_ids(cached, _system("x", k, "x"))[:80]) for k in kernels[1:]
    ]
    cached.close()
    assert not cached._prefixes


# -- options and eligibility ----------------------------------------------------------------


def test_prefix_cache_options(model_dir: Path) -> None:
    fields = backend_options(HFBackend).model_fields
    assert fields["prefix_cache"].default is True
    assert fields["prefix_cache_min_tokens"].default == 64
    with pytest.raises(BackendError, match="prefix_cache_min_tokens"):
        HFBackend(str(model_dir), prefix_cache_min_tokens=0)
    with pytest.raises(LemError, match="prefix_cache"):
        create_backend(f"hf:{model_dir}", prefix_cahce=False)


def test_only_full_attention_models_use_the_prefix_cache() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    small: dict[str, Any] = {
        "vocab_size": 32,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    }
    assert _full_attention_only(LlamaForCausalLM(LlamaConfig(**small)))
    # A sliding window counts columns, padding included: such a model keeps the plain path.
    assert not _full_attention_only(MistralForCausalLM(MistralConfig(sliding_window=8, **small)))
    eager = LlamaForCausalLM(LlamaConfig(**small, attn_implementation="eager"))
    assert _full_attention_only(eager)
    flex = LlamaForCausalLM(LlamaConfig(**small))
    flex.config._attn_implementation = "flex_attention"
    assert not _full_attention_only(flex)


# -- the growing KV layer -------------------------------------------------------------------


def test_growing_layer_appends_in_place(cached: HFBackend) -> None:
    from lem.backends.hf import _growing_cache

    cache = _growing_cache(cached._model.config, room=2)
    layer = cache.layers[0]
    steps = [torch.randn(2, 3, n, 4, dtype=torch.float64) for n in (5, 1, 1, 1)]
    reference = torch.cat(steps[:1], dim=-2)
    pointers = []
    for i, step in enumerate(steps):
        keys, values = layer.update(step, -step)
        reference = torch.cat(steps[: i + 1], dim=-2)
        assert torch.equal(keys, reference) and torch.equal(values, -reference)
        pointers.append(layer._buffers[0].data_ptr())
    # Two appends fit the room; the third copies into larger buffers.
    assert pointers[0] == pointers[1] == pointers[2] != pointers[3]

    cache.reorder_cache(torch.tensor([1, 1, 0]))
    more = torch.randn(3, 3, 1, 4, dtype=torch.float64)
    keys, _ = layer.update(more, more)
    assert torch.equal(keys, torch.cat([reference[[1, 1, 0]], more], dim=-2))
    assert layer._buffers[0].shape == (3, 3, 10, 4)  # 8 outgrew 7 by a quarter; 9 fits


def test_generation_never_regrows_the_prefix_cache(cached: HFBackend, plain: HFBackend) -> None:
    reqs = _kernel_requests(PROMPTS[:4])
    caches: list[tuple[Any, list[int]]] = []
    original = cached._shared_prefill

    def spy(*args: Any, **kwargs: Any) -> Any:
        cache = original(*args, **kwargs)
        caches.append((cache, [layer._buffers[0].data_ptr() for layer in cache.layers]))
        return cache

    cached._shared_prefill = spy  # type: ignore[method-assign]
    try:
        texts = _texts(cached, reqs, 4)
    finally:
        del cached._shared_prefill
    assert texts == _texts(plain, reqs, 4)
    ((cache, pointers),) = caches
    generated = max(n or 0 for _, n in texts.values())
    for layer, pointer in zip(cache.layers, pointers, strict=True):
        # Every decoding step wrote into the buffers the prefill had allocated.
        assert layer._buffers[0].data_ptr() == pointer == layer.keys.data_ptr()
        assert layer.get_seq_length() >= len(_ids(cached, reqs[0])) + generated - 1


# -- cascade attention: one copy of the prefix for every row ---------------------------------


def test_cascade_is_the_default_and_expanded_is_an_option(model_dir: Path) -> None:
    fields = backend_options(HFBackend).model_fields
    assert fields["prefix_attention"].default == "cascade"
    with pytest.raises(BackendError, match="prefix_attention"):
        HFBackend(str(model_dir), prefix_attention="shared")  # type: ignore[arg-type]
    with pytest.raises(LemError, match="prefix_attention"):
        create_backend(f"hf:{model_dir}", prefix_attention="shared")


class _CascadeCalls:
    """Every call of the cascade attention function: query length, the rows' keys and the
    prefix keys it used (shapes and storage), and the model's attention implementation."""

    def __init__(self) -> None:
        from transformers import AttentionInterface

        from lem.backends import hf

        self.calls: list[dict[str, Any]] = []
        self._interface = AttentionInterface
        self._real = hf._cascade_attention_forward
        self._hf = hf

    def __enter__(self) -> _CascadeCalls:
        def spy(module: Any, query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
            layer = self._hf._CASCADE.layer
            self.calls.append(
                {
                    "q_len": query.shape[2],
                    "rows": query.shape[0],
                    "keys": tuple(key.shape),
                    "prefix": tuple(layer.prefix[0].shape),
                    "prefix_ptr": layer.prefix[0].data_ptr(),
                    "layer": module.layer_idx,
                }
            )
            return self._real(module, query, key, value, *args, **kwargs)

        self._interface.register(self._hf._CASCADE_NAME, spy)
        return self

    def __exit__(self, *exc: object) -> None:
        self._interface.register(self._hf._CASCADE_NAME, self._real)


def test_cascade_keeps_one_copy_of_the_prefix(cached: HFBackend, plain: HFBackend) -> None:
    _texts(cached, _kernel_requests(PROMPTS[:2], tag="w"), 8)  # registers, stores the kernel
    (stored,) = cached._prefixes.values()
    reqs = _kernel_requests(PROMPTS)
    with _CascadeCalls() as spy:
        texts = _texts(cached, reqs, 8)
    assert texts == _texts(plain, reqs, 1)
    assert cached._model.config._attn_implementation == "sdpa"  # restored
    kernel = _kernel_tokens(cached)
    decode = [c for c in spy.calls if c["q_len"] == 1]
    prefill = [c for c in spy.calls if c["q_len"] > 1]
    assert prefill and decode
    assert len(decode) >= 8 * len(cached._model.model.layers)
    for call in spy.calls:
        # The cache holds one copy (batch 1, the stored prefix itself) and the rows' keys
        # are only what comes after it: every decoding step reads the prefix once.
        rows, prefix_len = call["rows"], call["prefix"][-2]
        assert rows == len(reqs) and call["prefix"][0] == 1
        assert prefix_len >= kernel
        assert call["keys"][0] == rows and call["keys"][-2] < 40 + 16
        assert call["prefix_ptr"] == stored.layers[call["layer"]][0].data_ptr()


def test_cascade_matches_plain_path_in_every_layout(cached: HFBackend, plain: HFBackend) -> None:
    with _CascadeCalls() as spy:
        # Suffixes of different lengths, two successive batches (the second from the cache).
        reqs = _kernel_requests(PROMPTS + MORE_PROMPTS)
        assert _texts(cached, reqs, 5) == _texts(plain, reqs, 1)
        # One prompt alone, then the very same prompt again: nothing of it is left to
        # prefill but its last token, which generate feeds itself.
        one = _kernel_requests(PROMPTS[:1], tag="o")
        assert _texts(cached, one, 1) == _texts(plain, one, 1)
        assert _texts(cached, one, 1) == _texts(plain, one, 1)
        # Suffixes of one length: no padding, so transformers may pass no mask at all.
        same = _kernel_requests(["abc", "abd", "abe"], tag="e")
        assert len({len(_ids(cached, r)) for r in same}) == 1
        assert _texts(cached, same, 8) == _texts(plain, same, 1)
        # Seeded sampling, samples sharing their prefill, and stop strings.
        sampled = [
            _system(f"s{i}-{j}", KERNEL, p, SAMPLED, seed=7 * i + j)
            for i, p in enumerate(PROMPTS[:3])
            for j in range(2)
        ]
        assert _texts(cached, sampled, 8) == _texts(plain, sampled, 1)
        base = _texts(plain, _kernel_requests(PROMPTS[:3], tag="t"), 1)
        stop = next(t for t, _ in base.values() if len(t) > 4)[2:4]
        stopping = _kernel_requests(PROMPTS[:3], SamplingParams(max_tokens=16, stop=(stop,)))
        assert _texts(cached, stopping, 8) == _texts(plain, stopping, 1)
    assert {c["rows"] for c in spy.calls} >= {1, 3, 5, 6}
    assert all(c["prefix"][0] == 1 for c in spy.calls)


def test_expanded_prefix_attention_matches_plain_path(model_dir: Path, plain: HFBackend) -> None:
    expanded = HFBackend(str(model_dir), dtype="float64", prefix_attention="expanded")
    try:
        reqs = _kernel_requests(PROMPTS)
        with _CascadeCalls() as spy:
            assert _texts(expanded, reqs, 4) == _texts(plain, reqs, 1)
        assert not spy.calls and expanded.prefix_tokens_reused > 0
    finally:
        expanded.close()


@pytest.mark.parametrize(
    ("q_len", "padded"), [(1, True), (1, False), (5, True), (5, False)], ids=str
)
def test_cascade_attention_equals_attention_over_the_whole_row(q_len: int, padded: bool) -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from lem.backends import hf

    gen = torch.Generator().manual_seed(q_len)
    rows, heads, kv_heads, dim, prefix_len, own = 3, 4, 2, 8, 11, 7

    def rand(*shape: int) -> Any:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    query = rand(rows, heads, q_len, dim)
    prefix_k, prefix_v = rand(1, kv_heads, prefix_len, dim), rand(1, kv_heads, prefix_len, dim)
    own_k, own_v = rand(rows, kv_heads, own, dim), rand(rows, kv_heads, own, dim)
    full_k = torch.cat([prefix_k.expand(rows, -1, -1, -1), own_k], dim=-2)
    full_v = torch.cat([prefix_v.expand(rows, -1, -1, -1), own_v], dim=-2)
    width = prefix_len + own
    columns = torch.arange(width)
    queries = torch.arange(width - q_len, width)
    visible = columns[None, :] <= queries[:, None]  # causal
    mask = visible[None, None].expand(rows, 1, -1, -1).clone()
    if padded:  # row r has r padding columns right after the prefix
        for r in range(rows):
            mask[r, :, :, prefix_len : prefix_len + r] = False

    class Module:
        num_key_value_groups = heads // kv_heads
        is_causal = True

    layer = hf._cascade_layer_class()(room=0)
    layer.prefix = (prefix_k, prefix_v)
    layer.update(own_k, own_v)
    assert layer.get_seq_length() == width
    hf._CASCADE.layer = layer
    got, _ = hf._cascade_attention_forward(
        Module(), query, layer.keys, layer.values, mask if padded else None, scaling=0.3
    )
    want, _ = sdpa_attention_forward(Module(), query, full_k, full_v, mask, scaling=0.3)
    assert got.shape == want.shape == (rows, q_len, heads, dim)
    assert torch.allclose(got, want, rtol=0, atol=1e-12)
    with pytest.raises(BackendError, match="cascade attention"):
        hf._cascade_attention_forward(Module(), query, own_k, own_v, None)  # no layer left
