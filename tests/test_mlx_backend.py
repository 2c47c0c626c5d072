"""The MLX backend (mlx-lm, CPU on Linux) on the bundled demo model and tiny models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from lem.backends.base import GenerationRequest, SamplingParams, create_backend
from lem.errors import BackendError
from tests.ci import in_ci
from tests.tiny_models import BOS, tiny_models

__all__ = ["tiny_models"]

try:
    import mlx.core  # noqa: F401
    import mlx_lm  # noqa: F401
except ImportError:  # pragma: no cover - depends on the machine
    if in_ci():
        pytest.fail("mlx / mlx-lm is not importable on CI", pytrace=False)
    pytest.skip("mlx / mlx-lm is not installed", allow_module_level=True)

from lem.backends.mlx import MLXBackend

PROMPTS = ["What is fairness?", "Should I read my sister's diary?", "How do I grow basil?"]
SYSTEM = "Be kind and careful."


@pytest.fixture(scope="module")
def demo() -> Iterator[MLXBackend]:
    backend = MLXBackend("demo")
    yield backend
    backend.close()


def _requests(sampling: SamplingParams, seed: int = 0) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            f"k{i}",
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
            sampling,
            seed=seed,
        )
        for i, prompt in enumerate(PROMPTS)
    ]


def test_spec_and_identity(demo: MLXBackend, demo_model_dir: Path) -> None:
    ident = demo.identity()
    assert ident["backend"] == "mlx" and "path" not in ident
    assert demo.provenance() == {"path": str(demo_model_dir)}
    assert len(ident["fingerprint"]) == 64 and ident["dtype"] == "float32"
    assert demo.preferred_batch_size() == 8


def test_greedy_matches_hf_backend(demo: MLXBackend) -> None:
    pytest.importorskip("torch")
    from lem.backends.hf import HFBackend

    sampling = SamplingParams(max_tokens=24)
    got = {r.key: r for r in demo.generate(_requests(sampling))}
    hf = HFBackend("demo", dtype="float32")
    want = {r.key: r for r in hf.generate(_requests(sampling))}
    hf.close()
    assert set(got) == set(want) == {"k0", "k1", "k2"}
    for key, result in got.items():
        assert result.ok, result.error
        assert result.text == want[key].text, key
        assert result.text.strip()
        assert result.rendered_hash == want[key].rendered_hash
        assert result.prompt_tokens == want[key].prompt_tokens
        assert result.completion_tokens == want[key].completion_tokens
        assert result.finish_reason == want[key].finish_reason
        assert result.system_fallback is False and result.time_s > 0


def test_seeded_sampling_is_reproducible(demo: MLXBackend) -> None:
    sampling = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16)
    first = [r.text for r in demo.generate(_requests(sampling, seed=7))]
    again = [r.text for r in demo.generate(_requests(sampling, seed=7)[::-1])]
    other = [r.text for r in demo.generate(_requests(sampling, seed=8))]
    assert sorted(first) == sorted(again)
    assert first != other
    greedy = [r.text for r in demo.generate(_requests(SamplingParams(max_tokens=16)))]
    assert first != greedy


def test_finish_reason_and_stop_strings(demo: MLXBackend) -> None:
    (short,) = demo.generate(_requests(SamplingParams(max_tokens=4))[:1])
    assert short.finish_reason == "length" and short.completion_tokens == 4
    (full,) = demo.generate(_requests(SamplingParams(max_tokens=24))[:1])
    words = full.text.split()
    stop = words[2]
    (cut,) = demo.generate(_requests(SamplingParams(max_tokens=24, stop=(stop,)))[:1])
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.find(stop)]
    assert stop not in cut.text
    assert cut.completion_tokens is not None and cut.completion_tokens < 24
    (eos,) = demo.generate(_requests(SamplingParams(max_tokens=400))[:1])
    assert eos.finish_reason == "stop" and eos.completion_tokens is not None
    assert eos.completion_tokens < 400


@pytest.mark.parametrize(("template", "supported"), [("system", True), ("no_system_raise", False)])
def test_system_role_detection_and_fold(
    tiny_models: Callable[..., Path], template: str, supported: bool
) -> None:
    backend = MLXBackend(str(tiny_models(template)))
    assert backend.supports_system_role() is supported
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hello"}]
    text, fallback = backend.render(messages)
    assert fallback is (not supported)
    if supported:
        assert "<|system|>\nBe kind.<|end|>\n<|user|>\nhello<|end|>\n<|assistant|>\n" in text
    else:
        assert text == f"{BOS}<|user|>\nBe kind.\n\nhello<|end|>\n<|assistant|>\n"
    (result,) = backend.generate([GenerationRequest("a", messages, SamplingParams(max_tokens=3))])
    assert result.ok, result.error
    assert result.system_fallback is (not supported)
    assert backend.render([{"role": "user", "content": "hello"}])[1] is False
    backend.close()


def test_demo_model_supports_system_role(demo: MLXBackend) -> None:
    assert demo.supports_system_role() is True
    assert demo.render([{"role": "system", "content": SYSTEM}])[1] is False


def test_failing_row_has_error_and_others_succeed(
    demo: MLXBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    encode = demo._encode
    monkeypatch.setattr(demo, "_encode", lambda text: [] if "EMPTY" in text else encode(text))
    sampling = SamplingParams(max_tokens=2)
    bad = GenerationRequest("bad", [{"role": "user", "content": "EMPTY"}], sampling)
    good = _requests(sampling)[0]
    results = {r.key: r for r in demo.generate([bad, good])}
    assert not results["bad"].ok and "no tokens" in (results["bad"].error or "")
    assert results["k0"].ok and results["k0"].completion_tokens == 2


def test_bad_directory_is_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        MLXBackend(str(tmp_path / "missing"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackendError, match="safetensors"):
        create_backend(f"mlx:{tmp_path}")


def test_run_ab_end_to_end(tmp_path: Path) -> None:
    from lem.api import run_ab
    from lem.config import ABConfig
    from lem.store import Store
    from lem.store.schema import items, scores

    db = str(tmp_path / "runs.db")
    out = run_ab(ABConfig(model="mlx:demo", limit=2, max_tokens=16, db=db))
    assert out.status == "done" and out.generated == 6 and out.failed == 0, out.errors
    store = Store(db)
    with store.engine.connect() as conn:
        statuses = list(conn.execute(select(items.c.status)).scalars())
        scored = list(conn.execute(select(scores.c.item_key, scores.c.status)).all())
    store.close()
    assert statuses == ["done"] * 6
    assert len({key for key, _ in scored}) == 6
