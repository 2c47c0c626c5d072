"""The transformers backend on tiny random-weight Llama models (offline, CPU)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lem.backends.base import GenerationRequest, GenerationResult, SamplingParams
from lem.errors import BackendError
from tests.tiny_models import BOS, build_tiny_model, tiny_models

__all__ = ["tiny_models"]

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from lem.backends.hf import HFBackend, _Prepared, _seeded_sampler, resolve_model_dir  # noqa: E402

PROMPTS = [
    "hello",
    "Tell me about the weather in the mountains and the rivers, then the cities and the ocean.",
    "What is fairness?",
    "x",
    "Explain consent, autonomy, dignity and trust in plain words, with five examples each.",
    "Numbers: 1 2 3",
    "The quick brown fox jumps over the lazy dog.",
    "When you are unsure, say so.",
    "Pack my box",
    "Honesty matters more than flattery; harm avoidance matters more than speed. Why?",
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and much faster on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def backend64(tiny_models: Callable[..., Path]) -> Iterator[HFBackend]:
    backend = HFBackend(str(tiny_models("system")), dtype="float64", batch_size=4)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def backend32(tiny_models: Callable[..., Path]) -> Iterator[HFBackend]:
    backend = HFBackend(str(tiny_models("system")), batch_size=4)
    yield backend
    backend.close()


def _requests(
    prompts: list[str], sampling: SamplingParams, seed0: int = 0, system: str | None = None
) -> list[GenerationRequest]:
    out = []
    for i, prompt in enumerate(prompts):
        messages = [{"role": "user", "content": prompt}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        out.append(GenerationRequest(f"k{i}", messages, sampling, seed=seed0 + i))
    return out


def _run(backend: HFBackend, requests: list[GenerationRequest], batch_size: int) -> dict[str, Any]:
    backend.batch_size = batch_size
    try:
        results = list(backend.generate(requests))
    finally:
        backend.batch_size = 4
    assert sorted(r.key for r in results) == sorted(r.key for r in requests)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return {r.key: r for r in results}


# -- greedy ---------------------------------------------------------------------------------


def test_greedy_does_not_depend_on_batching_float64(backend64: HFBackend) -> None:
    reqs = _requests(PROMPTS, SamplingParams(max_tokens=16))
    batched = _run(backend64, reqs, 4)
    alone = _run(backend64, reqs, 1)
    assert {k: r.text for k, r in batched.items()} == {k: r.text for k, r in alone.items()}
    assert len({r.text for r in batched.values()}) > len(PROMPTS) // 2
    assert {r.extra["batch_size"] for r in batched.values()} == {4, 2}
    assert {r.prompt_tokens for r in batched.values()} == {r.prompt_tokens for r in alone.values()}
    for r in batched.values():
        assert r.extra["batch_time_s"] >= r.time_s > 0
        assert r.completion_tokens == 16 and r.finish_reason == "length"


def test_greedy_float32_differs_only_at_near_ties(backend32: HFBackend) -> None:
    rows = [
        _Prepared(i, req, backend32._encode(backend32.render(req.messages)[0]), False, "")
        for i, req in enumerate(_requests(PROMPTS, SamplingParams(max_tokens=16)))
    ]
    rows.sort(key=lambda p: -len(p.ids))
    batched = [
        ids for i in range(0, len(rows), 4) for ids in backend32._generate_ids(rows[i : i + 4])
    ]
    alone = [backend32._generate_ids([row])[0] for row in rows]
    differing = 0
    for row, a, b in zip(rows, batched, alone, strict=True):
        assert len(a) == len(b) == 16 or a[-1] in backend32._eos_ids  # every row generated
        if a == b:
            continue
        differing += 1
        step = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        with torch.inference_mode():
            logits = backend32._model(torch.tensor([row.ids + b[:step]])).logits[0, -1]
        top2 = torch.topk(logits.double(), 2).values
        assert float(top2[0] - top2[1]) < 1e-3, f"row {row.index} differs without a near tie"
    assert differing < len(rows) // 2, f"{differing}/{len(rows)} differ: batching is broken"


# -- sampling -------------------------------------------------------------------------------


def test_sampling_is_reproducible_and_independent_of_batching(backend64: HFBackend) -> None:
    sampling = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=12)
    reqs = _requests(PROMPTS, sampling, seed0=100)
    first = _run(backend64, reqs, 4)
    again = _run(backend64, reqs, 4)
    alone = _run(backend64, reqs, 1)
    texts = {k: r.text for k, r in first.items()}
    assert texts == {k: r.text for k, r in again.items()}
    assert texts == {k: r.text for k, r in alone.items()}

    shuffled = list(reversed(reqs))[:7]
    assert {r.key: r.text for r in _run(backend64, shuffled, 3).values()} == {
        r.key: texts[r.key] for r in shuffled
    }

    other = _run(backend64, _requests(PROMPTS, sampling, seed0=5000), 4)
    differing = sum(other[k].text != texts[k] for k in texts)
    assert differing >= len(PROMPTS) - 1


def test_greedy_and_sampled_rows_share_a_batch(backend64: HFBackend) -> None:
    greedy = _requests(PROMPTS[:4], SamplingParams(max_tokens=10))
    sampled = [
        GenerationRequest(
            f"s{i}", r.messages, SamplingParams(temperature=0.8, max_tokens=10), seed=i
        )
        for i, r in enumerate(greedy)
    ]
    mixed = _run(backend64, [*greedy, *sampled], 8)
    assert {r.extra["batch_size"] for r in mixed.values()} == {8}
    for key, r in _run(backend64, greedy, 1).items():
        assert mixed[key].text == r.text
    for key, r in _run(backend64, sampled, 1).items():
        assert mixed[key].text == r.text


def test_temperature_zero_is_greedy_and_top_p_tiny_is_greedy(backend64: HFBackend) -> None:
    greedy = _run(backend64, _requests(PROMPTS[:3], SamplingParams(max_tokens=8)), 4)
    nucleus = _run(
        backend64,
        _requests(PROMPTS[:3], SamplingParams(temperature=1.0, top_p=1e-9, max_tokens=8), 7),
        4,
    )
    assert {k: r.text for k, r in greedy.items()} == {k: r.text for k, r in nucleus.items()}


def test_sampler_draws_from_the_tempered_nucleus() -> None:
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0], [5.0, 0.0, 0.0, 0.0]])
    plain = GenerationRequest("a", [], SamplingParams(temperature=1.0), seed=3)
    greedy = GenerationRequest("b", [], SamplingParams(), seed=3)
    sampler = _seeded_sampler([plain, greedy])
    counts = torch.zeros(4)
    for _ in range(3000):
        out = sampler(None, logits)
        assert torch.equal(out[1], logits[1])
        assert int(torch.isfinite(out[0]).sum()) == 1
        counts[int(out[0].argmax())] += 1
    assert torch.allclose(counts / 3000, torch.softmax(logits[0], -1), atol=0.03)

    nucleus = GenerationRequest("c", [], SamplingParams(temperature=1.0, top_p=0.8), seed=3)
    sampler = _seeded_sampler([nucleus])
    drawn = {int(sampler(None, logits[:1])[0].argmax()) for _ in range(500)}
    assert drawn == {1, 2}  # p = 0.64, 0.24, 0.09, 0.03: the top two reach 0.8


# -- prompts and system role ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "supported"),
    [("system", True), ("no_system_raise", False), ("no_system_merge", False), ("none", True)],
)
def test_system_role_detection_and_fold(
    tiny_models: Callable[..., Path], template: str, supported: bool
) -> None:
    backend = HFBackend(str(tiny_models(template)))
    assert backend.supports_system_role() is supported
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hello"}]
    text, fallback = backend.render(messages)
    assert fallback is (not supported)
    if template == "system":
        assert "<|system|>\nBe kind.<|end|>\n<|user|>\nhello<|end|>\n<|assistant|>\n" in text
    elif template == "none":
        assert text == "System: Be kind.\nUser: hello\nAssistant:"
    else:
        assert text == f"{BOS}<|user|>\nBe kind.\n\nhello<|end|>\n<|assistant|>\n"
    (result,) = backend.generate([GenerationRequest("a", messages, SamplingParams(max_tokens=3))])
    assert result.ok and result.system_fallback is (not supported)
    assert len(result.rendered_hash) == 64
    no_system = backend.render([{"role": "user", "content": "hello"}])
    assert no_system[1] is False


_LLAMA2 = (
    "{% set ns = namespace(sys='') %}{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.sys = m['content'] %}"
    "{% elif m['role'] == 'user' %}{{ '[INST] ' }}{% if ns.sys %}"
    "{{ '<<SYS>>\\n' + ns.sys + '\\n<</SYS>>\\n\\n' }}{% set ns.sys = '' %}{% endif %}"
    "{{ m['content'] + ' [/INST]' }}{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)
_DEFAULT_SYSTEM = (
    "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are helpful, this is'"
    " + ' the default.<|im_end|>\\n' }}{% endif %}{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_DROPS_SYSTEM = (
    "{% for m in messages %}{% if m['role'] != 'system' %}"
    "{{ '<|' + m['role'] + '|>' + m['content'] }}{% endif %}{% endfor %}"
)
_MERGE_AFTER = (
    "{% set ns = namespace(sys='') %}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{% set ns.sys = m['content'] %}{% else %}{{ '<|' + m['role'] + '|>' + m['content'] }}"
    "{% if ns.sys %}{{ '\\n' + ns.sys }}{% set ns.sys = '' %}{% endif %}{{ '<|end|>' }}"
    "{% endif %}{% endfor %}"
)
_MERGE_DASHES = (
    "{% set ns = namespace(sys='') %}{% for m in messages %}{% if m['role'] == 'system' %}"
    "{% set ns.sys = m['content'] %}{% else %}{{ '<start_of_turn>' + m['role'] + '\\n' }}"
    "{% if ns.sys %}{{ ns.sys + '\\n---\\n' }}{% set ns.sys = '' %}{% endif %}"
    "{{ m['content'] + '<end_of_turn>\\n' }}{% endif %}{% endfor %}"
)


@pytest.mark.parametrize(
    ("chat_template", "supported"),
    [
        (_LLAMA2, True),
        (_DEFAULT_SYSTEM, True),
        (_DROPS_SYSTEM, False),
        (_MERGE_AFTER, False),
        (_MERGE_DASHES, False),
    ],
    ids=["llama2-sys-block", "default-system", "drops-system", "merge-after", "merge-dashes"],
)
def test_system_role_detection_on_other_template_shapes(
    tiny_models: Callable[..., Path], chat_template: str, supported: bool
) -> None:
    backend = HFBackend(str(tiny_models("system")))
    backend._tokenizer.chat_template = chat_template
    assert backend.supports_system_role() is supported


def test_prompt_has_exactly_one_bos(backend32: HFBackend, tiny_models: Callable[..., Path]) -> None:
    tok = backend32._tokenizer
    bos = tok.bos_token_id
    text, _ = backend32.render([{"role": "user", "content": "hello"}])
    assert text.startswith(BOS)
    assert tok(text)["input_ids"][:2] == [bos, bos]  # the trap: the tokenizer adds BOS too
    ids = backend32._encode(text)
    assert ids[0] == bos and ids[1] != bos
    (result,) = backend32.generate(
        [
            GenerationRequest(
                "a", [{"role": "user", "content": "hello"}], SamplingParams(max_tokens=2)
            )
        ]
    )
    assert result.prompt_tokens == len(ids)

    raw = HFBackend(str(tiny_models("none")))
    raw_ids = raw._encode(raw.render([{"role": "user", "content": "hello"}])[0])
    assert raw_ids[0] == bos and raw_ids[1] != bos and tok.eos_token_id not in raw_ids


def test_pad_token_model_batches_like_single(tiny_models: Callable[..., Path]) -> None:
    backend = HFBackend(str(tiny_models("system", pad_token=True, seed=3)), dtype="float64")
    assert backend._pad_id != backend._tokenizer.eos_token_id
    reqs = _requests(PROMPTS[:6], SamplingParams(max_tokens=8))
    assert {k: r.text for k, r in _run(backend, reqs, 6).items()} == {
        k: r.text for k, r in _run(backend, reqs, 1).items()
    }


# -- stopping -------------------------------------------------------------------------------


def test_stop_strings_truncate(backend64: HFBackend) -> None:
    reqs = _requests(PROMPTS, SamplingParams(max_tokens=24))
    base = _run(backend64, reqs, 4)
    key, text = next(
        (k, r.text)
        for k, r in sorted(base.items())
        if any(text_slice_ok(r.text[i : i + 3]) for i in range(4, len(r.text) - 3))
    )
    start = next(i for i in range(4, len(text) - 3) if text_slice_ok(text[i : i + 3]))
    stop = text[start : start + 3]
    expected = text[: text.index(stop)]

    index = int(key[1:])
    stop_req = GenerationRequest(
        key,
        reqs[index].messages,
        SamplingParams(max_tokens=24, stop=(stop, "never-generated-zzz")),
        seed=index,
    )
    others = [r for r in reqs if r.key != key][:3]
    got = _run(backend64, [stop_req, *others], 4)
    assert got[key].text == expected
    assert got[key].finish_reason == "stop"
    assert got[key].completion_tokens is not None and got[key].completion_tokens < 24
    for r in others:
        assert got[r.key].text == base[r.key].text


def text_slice_ok(s: str) -> bool:
    return len(s) == 3 and s.isascii() and s.isalpha()


def test_max_tokens_and_eos_finish(
    backend32: HFBackend, tiny_models: Callable[..., Path], tmp_path: Path
) -> None:
    msgs = [{"role": "user", "content": PROMPTS[1]}]
    (short,) = backend32.generate([GenerationRequest("a", msgs, SamplingParams(max_tokens=5))])
    assert (short.completion_tokens, short.finish_reason) == (5, "length")

    row = _Prepared(0, GenerationRequest("a", msgs, SamplingParams(max_tokens=8)), [], False, "")
    row.ids = backend32._encode(backend32.render(msgs)[0])
    ids = backend32._generate_ids([row])[0]
    stop_id = ids[3]
    cut = ids.index(stop_id)

    copy = tmp_path / "model"
    shutil.copytree(tiny_models("system"), copy)
    gen_path = copy / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["eos_token_id"] = [gen["eos_token_id"], stop_id]
    gen_path.write_text(json.dumps(gen))
    backend = HFBackend(str(copy))
    (result,) = backend.generate([GenerationRequest("a", msgs, SamplingParams(max_tokens=8))])
    assert result.finish_reason == "stop"
    assert result.completion_tokens == cut + 1
    assert result.text == backend._tokenizer.decode(ids[:cut], skip_special_tokens=False)


def test_special_tokens_survive_decoding(backend32: HFBackend) -> None:
    tok = backend32._tokenizer
    ids = tok("<think> plan </think> answer", add_special_tokens=False)["input_ids"]
    pad = backend32._pad_id
    row = _Prepared(0, GenerationRequest("a", [], SamplingParams()), [1, 2], False, "h")
    result = backend32._finish(row, [*ids, tok.eos_token_id, pad, pad])
    assert result.text == "<think> plan </think> answer"
    assert (result.finish_reason, result.completion_tokens) == ("stop", len(ids) + 1)


# -- batching and errors --------------------------------------------------------------------


def test_results_stream_per_batch(backend32: HFBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = backend32._model.generate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(int(kwargs["input_ids"].shape[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(backend32._model, "generate", counting)
    stream = backend32.generate(_requests(PROMPTS, SamplingParams(max_tokens=2)))
    first = [next(stream) for _ in range(4)]
    assert calls == [4]
    assert [r.prompt_tokens for r in first] == sorted(
        (r.prompt_tokens or 0 for r in first), reverse=True
    )
    rest = list(stream)
    assert len(rest) == len(PROMPTS) - 4 and calls == [4, 4, 2]


def test_failing_batch_is_retried_row_by_row(
    backend32: HFBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = backend32._model.generate
    poison = backend32._encode(backend32.render([{"role": "user", "content": "x"}])[0])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        ids = kwargs["input_ids"]
        if ids.shape[0] > 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        if ids[0].tolist() == poison:
            raise RuntimeError("bad row\nsecond line")
        return real(*args, **kwargs)

    monkeypatch.setattr(backend32._model, "generate", flaky)
    monkeypatch.setattr(backend32, "batch_size", 8)
    results: list[GenerationResult] = list(
        backend32.generate(_requests(PROMPTS[:5], SamplingParams(max_tokens=3)))
    )
    assert len(results) == 5
    failed = [r for r in results if not r.ok]
    assert [r.key for r in failed] == ["k3"]
    assert failed[0].error == "generation failed: RuntimeError: bad row second line"
    assert all(r.extra.get("retried_alone") for r in results)
    assert all(r.completion_tokens == 3 for r in results if r.ok)


# -- paths, identity and fingerprint --------------------------------------------------------


def _bad_dirs(tmp: Path, model: Path) -> dict[str, Path]:
    missing = tmp / "missing"
    afile = tmp / "afile"
    afile.write_text("x")
    noconfig = tmp / "noconfig"
    noconfig.mkdir()
    shutil.copy(model / "model.safetensors", noconfig)
    binonly = tmp / "binonly"
    binonly.mkdir()
    shutil.copy(model / "config.json", binonly)
    (binonly / "pytorch_model.bin").write_bytes(b"\0")
    noweights = tmp / "noweights"
    noweights.mkdir()
    shutil.copy(model / "config.json", noweights)
    return {
        "does not exist": missing,
        "not a directory": afile,
        "no config.json": noconfig,
        "safetensors": binonly,
        "no *.safetensors": noweights,
    }


def test_bad_directories_raise_one_line(tiny_models: Callable[..., Path], tmp_path: Path) -> None:
    for phrase, path in _bad_dirs(tmp_path, tiny_models("system")).items():
        with pytest.raises(BackendError) as info:
            HFBackend(str(path))
        message = str(info.value)
        assert "\n" not in message and str(path) in message and phrase in message, message
    with pytest.raises(BackendError, match="unknown dtype"):
        HFBackend(str(tiny_models("system")), dtype="int8")


def test_demo_target_resolves_bundled_dir(
    tiny_models: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lem

    fake_pkg = tmp_path / "lem"
    monkeypatch.setattr(lem, "__file__", str(fake_pkg / "__init__.py"))
    with pytest.raises(BackendError, match="demo model is missing"):
        resolve_model_dir("demo")
    shutil.copytree(tiny_models("system"), fake_pkg / "data" / "demo-model")
    assert resolve_model_dir("demo") == (fake_pkg / "data" / "demo-model").resolve()


def test_identity_and_fingerprint_cache(
    tiny_models: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lem.fingerprint as fp

    model = tmp_path / "model"
    shutil.copytree(tiny_models("system"), model)
    hashed: list[str] = []
    real = fp._hash_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(fp, "_hash_file", counting)
    first = fp.weights_fingerprint(model)
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(hashed)
    hashed.clear()
    assert fp.weights_fingerprint(model) == first and hashed == []
    assert (fp.cache_dir() / "fingerprints.json").is_file()

    backend = HFBackend(str(model), dtype="float64")
    assert backend.identity() == {"backend": "hf", "fingerprint": first, "dtype": "float64"}
    assert backend.provenance() == {"path": str(model.resolve())}
    assert hashed == []

    moved = tmp_path / "moved-clone" / "model"
    shutil.copytree(model, moved)
    assert HFBackend(str(moved), dtype="float64").identity() == backend.identity()
    hashed.clear()
    assert HFBackend(str(model)).identity()["dtype"] == "float32"

    other = build_tiny_model(tmp_path / "other", seed=1)
    shutil.copy(other / "model.safetensors", model / "model.safetensors")
    second = fp.weights_fingerprint(model)
    assert second != first and hashed == ["model.safetensors"]

    (fp.cache_dir() / "fingerprints.json").write_text("{not json")
    assert fp.weights_fingerprint(model) == second
