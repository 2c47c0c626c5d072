"""Local Hugging Face causal LMs through transformers, batched, with reproducible sampling.

Two promises matter for kernel experiments and are tested:

* **Greedy output does not depend on batching.** Prompts are left-padded with an explicit
  attention mask; transformers derives position ids from the mask, so a padded row sees
  exactly what it would alone (up to floating-point reduction order).
* **Sampled output depends only on the request's seed.** Sampling is done by a logits
  processor that draws each row's token with that row's own ``torch.Generator`` (seeded
  from :attr:`GenerationRequest.seed`) and masks every other token, while ``generate`` runs
  greedily. The global RNG is never touched, so batch composition cannot leak into a row.

A batch holding the same prompt several times (``samples`` > 1) computes each distinct
prompt's prefill once and copies its KV cache to the rows that share it (``share_prefill``).

Decoding is defined by :class:`SamplingParams` alone: the model's own
``generation_config.json`` contributes its EOS ids and nothing else (its suggested
temperature or repetition penalty are ignored), as an API server with explicit parameters
would behave.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lem.backends.base import (
    GenerationRequest,
    GenerationResult,
    SamplingParams,
    iter_chunks,
    prompt_hash,
    register_backend,
)
from lem.backends.local import NO_LIMIT, LocalModelBackend, as_id_list, describe_error
from lem.backends.templates import has_chat_template
from lem.errors import BackendError

if TYPE_CHECKING:
    import torch

__all__ = ["DTYPES", "HFBackend", "pick_device", "pick_dtype", "resolve_model_dir"]

DTYPES = ("float32", "float16", "bfloat16", "float64")
_DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
_DTYPE_ALIASES.update({"fp64": "float64", "double": "float64", "float": "float32"})


def resolve_model_dir(target: str) -> Path:
    """The absolute model directory ``target`` names, checked for config and safetensors.

    ``demo`` names the small model bundled in ``lem/data/demo-model``. Anything else is a
    local directory; nothing is ever downloaded.
    """
    if target == "demo":
        import lem

        path = Path(lem.__file__).parent / "data" / "demo-model"
        if not path.is_dir():
            raise BackendError(
                f"the bundled demo model is missing at {path}; reinstall lem or pass a local "
                "model directory instead of 'demo'"
            )
    else:
        path = Path(target).expanduser()
    path = path.resolve()
    if not path.exists():
        raise BackendError(
            f"model directory {path} does not exist; pass a local Hugging Face model "
            "directory (config.json + *.safetensors); lem never downloads models"
        )
    if not path.is_dir():
        raise BackendError(f"{path} is not a directory; pass a local Hugging Face model directory")
    if not (path / "config.json").is_file():
        raise BackendError(
            f"no config.json in {path}; pass the directory that save_pretrained() wrote"
        )
    if not any(path.glob("*.safetensors")):
        if any(path.glob("*.bin")) or any(path.glob("*.pt")) or any(path.glob("*.pth")):
            raise BackendError(
                f"{path} has only PyTorch pickle weights (.bin/.pt); convert them to "
                "safetensors (load, then save_pretrained(dir, safe_serialization=True))"
            )
        raise BackendError(
            f"no *.safetensors weights in {path}; lem loads only safetensors weights"
        )
    return path


@dataclass
class _Prepared:
    """A request after rendering and tokenization, remembering its original position."""

    index: int
    request: GenerationRequest
    ids: list[int]
    fallback: bool
    rendered_hash: str


@register_backend("hf")
class HFBackend(LocalModelBackend):
    """A local transformers causal LM (safetensors only), generating in padded batches.

    ``target`` is a model directory or ``demo``; ``model`` is accepted for spec symmetry and
    ignored. ``device="auto"`` picks cuda, then mps, then cpu; ``dtype="auto"`` picks
    bfloat16 on cuda and float32 elsewhere. The keyword-only parameters are the backend's
    options; anything else is an error. ``share_prefill`` computes the prefill of a prompt
    that appears several times in a batch (N samples of one prompt) once, not N times; turn
    it off only to compare against the plain path.
    """

    def __init__(
        self,
        target: str,
        model: str | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
        share_prefill: bool = True,
    ) -> None:
        self.path = resolve_model_dir(target)
        if batch_size < 1:
            raise BackendError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.share_prefill = bool(share_prefill)
        #: Rows whose prompt prefill was taken from another row's (counts every batch).
        self.prefill_rows_saved = 0

        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.device = pick_device(device)
        self.dtype_name = pick_dtype(dtype, self.device)
        try:
            tokenizer: Any = AutoTokenizer.from_pretrained(
                self.path, trust_remote_code=trust_remote_code, local_files_only=True
            )
            lm: Any = AutoModelForCausalLM.from_pretrained(
                self.path,
                dtype=getattr(torch, self.dtype_name),
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
                local_files_only=True,
            )
            lm.to(self.device)
        except Exception as exc:
            raise BackendError(
                f"cannot load the model in {self.path} on {self.device}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        lm.eval()

        tokenizer.padding_side = "left"
        eos_ids = as_id_list(getattr(lm.generation_config, "eos_token_id", None))
        eos_ids += [i for i in as_id_list(tokenizer.eos_token_id) if i not in eos_ids]
        eos_ids += [i for i in as_id_list(lm.config.eos_token_id) if i not in eos_ids]
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token is not None:
                tokenizer.pad_token = tokenizer.eos_token
            elif eos_ids:
                tokenizer.pad_token = tokenizer.convert_ids_to_tokens(eos_ids[0])
        self._eos_ids: list[int] = eos_ids
        self._strip_id: int | None = tokenizer.pad_token_id
        self._pad_id: int = int(tokenizer.pad_token_id or 0)
        self._bos_id: int | None = tokenizer.bos_token_id
        lm.generation_config = GenerationConfig(
            bos_token_id=self._bos_id,
            eos_token_id=eos_ids or None,
            pad_token_id=self._pad_id,
        )
        tokenizer.model_max_length = NO_LIMIT  # lem checks the context itself (runner)
        self._tokenizer: Any = tokenizer
        self._model: Any = lm
        self._has_template = has_chat_template(tokenizer)
        self._keeps_logits = "logits_to_keep" in inspect.signature(lm.forward).parameters

    def close(self) -> None:
        """Drop the model and tokenizer and return cached accelerator memory."""
        if getattr(self, "_model", None) is None:
            return
        self._model = None
        self._tokenizer = None
        _free_accelerator_memory()

    # -- generation ---------------------------------------------------------------------

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        """Generate in batches of similar-length prompts, yielding each batch when done.

        Requests are grouped by ``(max_tokens, stop)``, sorted by prompt length (longest
        first, identical prompts next to each other so their prefill can be shared) and cut
        into batches of :attr:`batch_size`. A batch that raises (say, out of
        memory) is retried one row at a time; a row that still fails comes back with
        ``error`` set.
        """
        if self._model is None:
            raise BackendError("this hf backend was closed; create a new one")
        groups: dict[tuple[int, tuple[str, ...]], list[_Prepared]] = {}
        for index, request in enumerate(requests):
            try:
                text, fallback = self.render(request.messages)
                ids = self._encode(text)
            except Exception as exc:
                yield GenerationResult(
                    key=request.key, error=describe_error(exc, "rendering failed")
                )
                continue
            prepared = _Prepared(
                index=index,
                request=request,
                ids=ids,
                fallback=fallback,
                rendered_hash=prompt_hash(text),
            )
            sampling = request.sampling
            groups.setdefault((sampling.max_tokens, tuple(sampling.stop)), []).append(prepared)
        for rows in groups.values():
            rows.sort(key=lambda p: (-len(p.ids), p.ids, p.index))
            for batch in iter_chunks(rows, self.batch_size):
                yield from self._run_batch(batch)

    def _run_batch(self, batch: list[_Prepared]) -> Iterator[GenerationResult]:
        started = time.perf_counter()
        try:
            outputs = self._generate_ids(batch)
        except Exception as exc:
            _free_accelerator_memory()
            if len(batch) == 1:
                row = batch[0]
                yield GenerationResult(
                    key=row.request.key,
                    prompt_tokens=len(row.ids),
                    system_fallback=row.fallback,
                    rendered_hash=row.rendered_hash,
                    time_s=time.perf_counter() - started,
                    error=describe_error(exc, "generation failed"),
                )
                return
            for row in batch:
                for result in self._run_batch([row]):
                    result.extra["retried_alone"] = True
                    yield result
            return
        elapsed = time.perf_counter() - started
        for row, generated in zip(batch, outputs, strict=True):
            result = self._finish(row, generated)
            result.time_s = elapsed / len(batch)
            result.extra.update({"batch_time_s": elapsed, "batch_size": len(batch)})
            yield result

    def _generate_ids(self, batch: list[_Prepared]) -> list[list[int]]:
        """Run ``model.generate`` on one left-padded batch; the new ids of each row."""
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        sampling = batch[0].request.sampling
        width = max(len(row.ids) for row in batch)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, row in enumerate(batch):
            if row.ids:
                input_ids[i, width - len(row.ids) :] = torch.tensor(row.ids, dtype=torch.long)
                attention[i, width - len(row.ids) :] = 1
        config = GenerationConfig(
            max_new_tokens=max(1, sampling.max_tokens),
            do_sample=False,
            num_beams=1,
            bos_token_id=self._bos_id,
            eos_token_id=self._eos_ids or None,
            pad_token_id=self._pad_id,
            stop_strings=list(sampling.stop) or None,
        )
        processors = LogitsProcessorList()
        if any(not row.request.sampling.greedy for row in batch):
            processors.append(_seeded_sampler([row.request for row in batch]))
        extra: dict[str, Any] = {"tokenizer": self._tokenizer} if sampling.stop else {}
        with torch.inference_mode():
            if self.share_prefill:
                cache = self._shared_prefill(batch, input_ids, attention)
                if cache is not None:
                    extra["past_key_values"] = cache
            out = self._model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                generation_config=config,
                logits_processor=processors,
                **extra,
            )
        return [list(map(int, seq)) for seq in out[:, width:].tolist()]

    def _shared_prefill(
        self, batch: list[_Prepared], input_ids: torch.Tensor, attention: torch.Tensor
    ) -> Any:
        """The batch's KV cache over all but the last column, each distinct prompt computed
        once and copied to its rows; None when every prompt is distinct (nothing to share).

        The forward pass runs on the distinct rows of the padded batch itself (same width,
        same left padding, position ids from the mask as ``generate`` derives them), so the
        expanded cache is exactly what ``generate``'s own prefill would have built for those
        columns, and ``generate`` continues from the last prompt token.
        """
        import torch
        from transformers import DynamicCache

        width = input_ids.shape[1]
        if len(batch) < 2 or width < 2:
            return None
        first: dict[tuple[int, ...], int] = {}
        owner = [first.setdefault(tuple(row.ids), len(first)) for row in batch]
        if len(first) == len(batch):
            return None
        reps = torch.tensor([owner.index(k) for k in range(len(first))], dtype=torch.long)
        ids = input_ids[reps, :-1].to(self.device)
        mask = attention[reps, :-1].to(self.device)
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        cache = DynamicCache(config=self._model.config)
        keep = {"logits_to_keep": 1} if self._keeps_logits else {}
        self._model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            **keep,
        )
        index = torch.tensor(owner, dtype=torch.long, device=self.device)
        cache.reorder_cache(cast("torch.LongTensor", index))  # also expands: rows may repeat
        self.prefill_rows_saved += len(batch) - len(first)
        return cache

    def _finish(self, row: _Prepared, generated: list[int]) -> GenerationResult:
        """Cut a row's new ids at EOS or stop string and decode them, special tokens kept."""
        sampling: SamplingParams = row.request.sampling
        eos = set(self._eos_ids)
        cut = next((i for i, tok in enumerate(generated) if tok in eos), None)
        body = generated if cut is None else generated[:cut]
        while body and body[-1] == self._strip_id:
            body = body[:-1]
        text = self._tokenizer.decode(
            [tok for tok in body if tok != self._strip_id],
            skip_special_tokens=False,
            clean_up_tokenization_spaces=False,
        )
        stop_at = min((text.find(s) for s in sampling.stop if s and s in text), default=-1)
        if stop_at >= 0:
            text = text[:stop_at]
            completion = len(body)
        elif cut is not None:
            completion = cut + 1
        else:
            completion = len(body)
        return GenerationResult(
            key=row.request.key,
            text=text,
            prompt_tokens=len(row.ids),
            completion_tokens=completion,
            finish_reason="stop" if (cut is not None or stop_at >= 0) else "length",
            system_fallback=row.fallback,
            rendered_hash=row.rendered_hash,
        )


def _seeded_sampler(requests: list[GenerationRequest]) -> Any:
    """A logits processor that samples each row with its own seeded generator.

    Row ``i`` of the batch is ``requests[i]``. For a sampled row the processor applies
    temperature and top-p, draws one token by inverse CDF over the vocabulary in id order
    (so tiny logit differences move the draw's boundaries only slightly) with a uniform
    number from the row's CPU generator, and returns ``-inf`` everywhere but that token.
    Greedy rows pass through. Each row consumes one draw per step whatever the batch.
    """
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.rows = [i for i, r in enumerate(requests) if not r.sampling.greedy]
            picked = [requests[i] for i in self.rows]
            self.temperature = torch.tensor([r.sampling.temperature for r in picked])
            self.top_p = torch.tensor([r.sampling.top_p for r in picked])
            self.generators = [
                torch.Generator(device="cpu").manual_seed(r.seed % (1 << 64)) for r in picked
            ]

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if not self.rows:
                return scores
            device = scores.device
            work = torch.float32 if device.type == "mps" else torch.float64
            rows = torch.tensor(self.rows, device=device)
            temperature = self.temperature.to(device=device, dtype=work).unsqueeze(-1)
            probs = torch.softmax(scores[rows].to(work) / temperature, dim=-1)
            top_p = self.top_p.to(device=device, dtype=work).unsqueeze(-1)
            if bool((top_p < 1.0).any()):
                ordered, order = torch.sort(probs, dim=-1, descending=True, stable=True)
                keep = ((ordered.cumsum(-1) - ordered) < top_p) | (top_p >= 1.0)
                keep[:, 0] = True
                probs = probs * torch.zeros_like(keep).scatter(-1, order, keep)
            cdf = probs.cumsum(-1)
            uniform = torch.stack(
                [torch.rand((), generator=g, dtype=torch.float64) for g in self.generators]
            ).to(device=device, dtype=work)
            target = (uniform * cdf[:, -1]).unsqueeze(-1)
            vocab = probs.shape[-1]
            token = torch.searchsorted(cdf, target, right=True).clamp(max=vocab - 1)
            last_live = (vocab - 1) - (probs > 0).flip(-1).to(torch.int32).argmax(-1, keepdim=True)
            token = torch.where(probs.gather(-1, token) > 0, token, last_live).squeeze(-1)
            out = scores.clone()
            out[rows] = float("-inf")
            out[rows, token] = 0.0
            return out

    return SeededSampler()


def pick_device(device: str) -> str:
    """``device``, or for ``auto`` the best available: CUDA, then MPS, then the CPU."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str, device: str) -> str:
    """The dtype name for ``dtype`` on ``device`` (``auto``: bfloat16 on CUDA, else
    float32)."""
    name = _DTYPE_ALIASES.get(dtype.lower(), dtype.lower())
    if name == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if name not in DTYPES:
        raise BackendError(f"unknown dtype {dtype!r}; use auto or one of {', '.join(DTYPES)}")
    return name


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of this backend
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if (
        mps is not None
        and getattr(torch.backends, "mps", None)
        and torch.backends.mps.is_available()
    ):
        mps.empty_cache()
