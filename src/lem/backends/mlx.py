"""Local causal LMs through Apple's MLX (mlx-lm), one prompt at a time, reproducibly.

The prompt side is shared with the hf backend (:mod:`lem.backends.templates`): the same
Hugging Face tokenizer renders the same chat template, folds the system role by the same
rule and encodes to the same ids, so a conversation has one ``rendered_hash`` whichever
framework runs the weights, and greedy output of a float32 model matches the hf backend's.

Each request runs alone through :func:`mlx_lm.generate.generate_step` (no padding, so greedy
output cannot depend on batching). Sampling draws from a PRNG key derived from the
request's seed and split once per step, never from MLX's global RNG, so the same seed gives
the same text whatever ran before. As in the hf backend, decoding is defined by
:class:`SamplingParams` alone; the model's ``generation_config.json`` contributes only its
EOS ids.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lem.backends.base import (
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    prompt_hash,
    register_backend,
)
from lem.backends.hf import resolve_model_dir
from lem.backends.local import NO_LIMIT, LocalModelBackend, as_id_list, describe_error
from lem.backends.templates import has_chat_template
from lem.errors import BackendError

__all__ = ["MLXBackend"]

_MISSING = "the mlx backend needs `pip install mlx-lm` (Apple Silicon, or mlx[cpu] on Linux)"


@register_backend("mlx")
class MLXBackend(LocalModelBackend):
    """A local model directory (safetensors) run with ``mlx_lm.load``; spec ``mlx:PATH``.

    ``target`` is a model directory or ``demo``; ``model`` is accepted for spec symmetry
    and ignored. ``batch_size`` is only what :meth:`preferred_batch_size` reports (how many
    requests the runner hands over at once); generation itself is sequential. Unknown
    keyword options (``device``, ``dtype``, ...) are ignored so one option set can
    configure every backend; the weights run in the dtype they are stored in.
    """

    def __init__(
        self,
        target: str,
        model: str | None = None,
        *,
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ) -> None:
        self.path = resolve_model_dir(target)
        if batch_size < 1:
            raise BackendError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        try:
            import mlx.core  # noqa: F401
            import mlx_lm
        except ImportError as exc:
            raise BackendError(_MISSING) from exc
        try:
            load: Any = mlx_lm.load
            lm, wrapper, config = load(
                str(self.path),
                tokenizer_config={"trust_remote_code": trust_remote_code},
                return_config=True,
                trust_remote_code=trust_remote_code,
            )
        except Exception as exc:
            raise BackendError(
                f"cannot load the model in {self.path} with mlx-lm: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())}"
            ) from exc
        tokenizer: Any = getattr(wrapper, "_tokenizer", wrapper)
        eos_ids = as_id_list(_generation_eos(self.path))
        eos_ids += [i for i in as_id_list(tokenizer.eos_token_id) if i not in eos_ids]
        eos_ids += [i for i in as_id_list(config.get("eos_token_id")) if i not in eos_ids]
        self._eos_ids: list[int] = eos_ids
        self._strip_id: int | None = tokenizer.pad_token_id
        self._bos_id: int | None = tokenizer.bos_token_id
        tokenizer.model_max_length = NO_LIMIT  # lem checks the context itself (runner)
        self._tokenizer: Any = tokenizer
        self._model: Any = lm
        self.dtype_name = _model_dtype(lm)
        self._has_template = has_chat_template(tokenizer)

    def close(self) -> None:
        """Drop the model and return MLX's cached buffers."""
        self._model = None
        try:
            import mlx.core as mx

            mx.clear_cache()
        except Exception:  # pragma: no cover - best effort
            pass

    # -- generation ---------------------------------------------------------------------

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        """Generate each request in order, yielding its result as soon as it is done.

        A request that fails (rendering, an empty prompt, an MLX error) comes back with
        ``error`` set; the others are unaffected.
        """
        if self._model is None:
            raise BackendError("this mlx backend was closed; create a new one")
        for request in requests:
            yield self._generate_one(request)

    def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        try:
            text, fallback = self.render(request.messages)
            ids = self._encode(text)
        except Exception as exc:
            return GenerationResult(key=request.key, error=describe_error(exc, "rendering failed"))
        rendered_hash = prompt_hash(text)
        try:
            result = self._decode(request, ids)
        except Exception as exc:
            result = GenerationResult(
                key=request.key,
                prompt_tokens=len(ids),
                error=describe_error(exc, "generation failed"),
            )
        result.system_fallback = fallback
        result.rendered_hash = rendered_hash
        result.time_s = time.perf_counter() - started
        return result

    def _decode(self, request: GenerationRequest, ids: list[int]) -> GenerationResult:
        """Run one prompt up to EOS, a stop string or ``max_tokens``; decode with special
        tokens (reasoning tags) kept."""
        import mlx.core as mx
        from mlx_lm.generate import generate_step

        if not ids:
            raise BackendError("the rendered prompt encodes to no tokens")
        sampling: SamplingParams = request.sampling
        stops = [s for s in sampling.stop if s]
        eos = set(self._eos_ids)
        body: list[int] = []
        hit_eos = False
        stop_at = -1
        text = ""
        steps: Iterator[tuple[Any, Any]] = generate_step(
            mx.array(ids),
            self._model,
            max_tokens=max(1, sampling.max_tokens),
            sampler=_sampler(sampling, request.seed),
        )
        for raw, _ in steps:
            token = int(raw)
            if token in eos:
                hit_eos = True
                break
            body.append(token)
            if stops:
                text = self._text(body)
                stop_at = min((text.find(s) for s in stops if s in text), default=-1)
                if stop_at >= 0:
                    break
        text = text[:stop_at] if stop_at >= 0 else self._text(body)
        return GenerationResult(
            key=request.key,
            text=text,
            prompt_tokens=len(ids),
            completion_tokens=len(body) + (1 if hit_eos else 0),
            finish_reason="stop" if (hit_eos or stop_at >= 0) else "length",
        )

    def _text(self, body: list[int]) -> str:
        return str(
            self._tokenizer.decode(
                [tok for tok in body if tok != self._strip_id],
                skip_special_tokens=False,
                clean_up_tokenization_spaces=False,
            )
        )


def _sampler(sampling: SamplingParams, seed: int) -> Callable[[Any], Any]:
    """Greedy argmax, or temperature and top-p sampling from a key seeded by ``seed``.

    The key is split once per step, so a request's draws depend on its seed and its own
    logits only, not on MLX's global RNG or on other requests.
    """
    import mlx.core as mx
    from mlx_lm.sample_utils import apply_top_p

    if sampling.greedy:
        return lambda logprobs: mx.argmax(logprobs, axis=-1)
    key = mx.random.key(seed % (1 << 64))
    inv_temp = 1.0 / sampling.temperature
    top_p = sampling.top_p

    def sample(logprobs: Any) -> Any:
        nonlocal key
        key, sub = mx.random.split(key)
        if 0.0 < top_p < 1.0:
            logprobs = apply_top_p(logprobs, top_p)
        return mx.random.categorical(logprobs * inv_temp, key=sub)

    return sample


def _generation_eos(path: Path) -> Any:
    """The ``eos_token_id`` of the model's ``generation_config.json``, if any."""
    file = path / "generation_config.json"
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError, AttributeError):
        return None


def _model_dtype(model: Any) -> str:
    """The dtype name (``float32``, ``bfloat16``, ...) of the model's floating weights."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    leaves: Any = tree_flatten(model.parameters())
    for _, value in leaves:
        if mx.issubdtype(value.dtype, mx.floating):
            return str(value.dtype).rsplit(".", 1)[-1]
    return "unknown"
