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

Prompts that start with the same long token prefix (a kernel as system message) compute
that prefix once (``prefix_cache``): its KV cache (batch 1) is kept in a small LRU keyed by
its token ids, copied to each batch's rows, and only the rows' own suffixes are prefilled.
A row is laid out as ``prefix, padding, suffix``, with the padding masked and position ids
from the mask, so every real token sees what it would see left-padded alone. With
``prefix_attention="cascade"`` (the default) the batch keeps one copy of the prefix's keys
and values, which every row's queries attend to, and each row's own part (padding, suffix,
generated tokens) separately; the two softmax parts are merged exactly by their maxima and
sums (:func:`_cascade_attention_forward`). ``"expanded"`` copies the prefix into every row.

Decoding is defined by :class:`SamplingParams` alone: the model's own
``generation_config.json`` contributes its EOS ids and nothing else (its suggested
temperature or repetition penalty are ignored), as an API server with explicit parameters
would behave.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

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
PREFIX_ATTENTION = ("cascade", "expanded")
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


@dataclass
class _Prefix:
    """The KV cache of one token prefix for one row, per layer; never modified once stored."""

    ids: tuple[int, ...]
    layers: list[tuple[torch.Tensor, torch.Tensor]]

    def cache(self, config: Any, rows: int, length: int, room: int, cascade: bool = False) -> Any:
        """A new cache holding a copy of the first ``length`` positions in each of ``rows``
        rows, with room for ``room`` more (see :func:`_growing_cache`): a generation that
        grows or reorders it leaves this prefix as it was. With ``cascade``, every layer
        keeps a view of those positions once (batch 1) and its rows hold only what comes
        after them (see :func:`_cascade_layer_class`)."""
        if cascade:
            cache = _growing_cache(config, room, _cascade_layer_class())
            for layer, (k, v) in zip(cache.layers, self.layers, strict=True):
                layer.prefix = (k[:, :, :length], v[:, :, :length])
            return cache
        cache = _growing_cache(config, room)
        for layer, (k, v) in zip(cache.layers, self.layers, strict=True):
            layer.update(
                k[:, :, :length].expand(rows, -1, -1, -1), v[:, :, :length].expand(rows, -1, -1, -1)
            )
        return cache


@register_backend("hf")
class HFBackend(LocalModelBackend):
    """A local transformers causal LM (safetensors only), generating in padded batches.

    ``target`` is a model directory or ``demo``; ``model`` is accepted for spec symmetry and
    ignored. ``device="auto"`` picks cuda, then mps, then cpu; ``dtype="auto"`` picks
    bfloat16 on cuda and float32 elsewhere. The keyword-only parameters are the backend's
    options; anything else is an error. ``share_prefill`` computes the prefill of a prompt
    that appears several times in a batch (N samples of one prompt) once, not N times.
    ``prefix_cache`` computes a token prefix of at least ``prefix_cache_min_tokens`` that
    prompts share (a kernel) once and reuses its KV cache in this batch and later ones
    (the last :attr:`PREFIX_CACHE_ENTRIES` prefixes are kept); it applies to models whose
    every layer attends to the full context (no sliding window) with ``sdpa`` or ``eager``
    attention. ``prefix_attention`` is how a batch attends to a cached prefix: ``cascade``
    (one copy of the prefix for all rows, merged exactly with each row's own part) or
    ``expanded`` (a copy per row). Turn either off only to compare against the plain path.
    """

    #: How many prefix KV caches are kept (least recently used dropped first).
    PREFIX_CACHE_ENTRIES = 4

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
        prefix_cache: bool = True,
        prefix_cache_min_tokens: int = 64,
        prefix_attention: Literal["cascade", "expanded"] = "cascade",
    ) -> None:
        self.path = resolve_model_dir(target)
        if batch_size < 1:
            raise BackendError(f"batch_size must be at least 1, got {batch_size}")
        if prefix_cache_min_tokens < 1:
            raise BackendError(
                f"prefix_cache_min_tokens must be at least 1, got {prefix_cache_min_tokens}"
            )
        if prefix_attention not in PREFIX_ATTENTION:
            raise BackendError(
                f"unknown prefix_attention {prefix_attention!r}; use one of "
                f"{', '.join(PREFIX_ATTENTION)}"
            )
        self.batch_size = int(batch_size)
        self.prefix_attention = prefix_attention
        self.share_prefill = bool(share_prefill)
        self.prefix_cache = bool(prefix_cache)
        self.prefix_cache_min_tokens = int(prefix_cache_min_tokens)
        #: Rows whose prompt prefill was taken from another row's (counts every batch).
        self.prefill_rows_saved = 0
        #: Prefix tokens run through the model to build prefix caches.
        self.prefix_tokens_computed = 0
        #: Prompt tokens that rows took from a prefix cache instead of computing them.
        self.prefix_tokens_reused = 0
        self._prefixes: OrderedDict[tuple[int, ...], _Prefix] = OrderedDict()

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
        self._prefix_ok = _full_attention_only(lm)
        self._cascade_ok = self._prefix_ok and _cascade_supported(lm)

    def close(self) -> None:
        """Drop the model, tokenizer and prefix caches and return cached accelerator memory."""
        if getattr(self, "_model", None) is None:
            return
        self._prefixes.clear()
        self._model = None
        self._tokenizer = None
        _free_accelerator_memory()

    # -- generation ---------------------------------------------------------------------

    def generate(self, requests: list[GenerationRequest]) -> Iterator[GenerationResult]:
        """Generate in batches of similar-length prompts, yielding each batch when done.

        Requests are grouped by ``(max_tokens, stop)`` and, with the prefix cache, by the
        long prefix they share (a condition's kernel); each group is sorted by prompt length
        (longest first, identical prompts next to each other so their prefill can be
        shared) and cut into batches of :attr:`batch_size`. A batch that raises (say, out of
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
        for group in groups.values():
            for rows in self._prefix_groups(group):
                rows.sort(key=lambda p: (-len(p.ids), p.ids, p.index))
                for batch in iter_chunks(rows, self.batch_size):
                    yield from self._run_batch(batch)

    def _prefix_groups(self, rows: list[_Prepared]) -> list[list[_Prepared]]:
        """``rows`` split into runs that share a prefix of at least
        ``prefix_cache_min_tokens`` tokens (neighbours in token order), then the rows that
        share none; ``[rows]`` when the prefix cache is off."""
        if not self._prefix_enabled() or len(rows) < 2:
            return [rows]
        ordered = sorted(rows, key=lambda p: p.ids)
        runs = [[ordered[0]]]
        for before, row in itertools.pairwise(ordered):
            if _common_length(before.ids, row.ids) >= self.prefix_cache_min_tokens:
                runs[-1].append(row)
            else:
                runs.append([row])
        alone = [run[0] for run in runs if len(run) == 1]
        return [run for run in runs if len(run) > 1] + ([alone] if alone else [])

    def _prefix_enabled(self) -> bool:
        return self.prefix_cache and self._prefix_ok

    def _cascade_enabled(self) -> bool:
        return self._prefix_enabled() and self._cascade_ok and self.prefix_attention == "cascade"

    def _run_batch(self, batch: list[_Prepared]) -> Iterator[GenerationResult]:
        started = time.perf_counter()
        try:
            outputs = self._generate_ids(batch)
        except Exception as exc:
            self._prefixes.clear()  # out of memory, perhaps: stored prefixes are recomputed
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
        """Run ``model.generate`` on one padded batch; the new ids of each row.

        Rows are left-padded; with a shared prefix of ``start`` tokens, the prefix fills
        the first columns of every row and the padding sits between it and the suffix.
        """
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        sampling = batch[0].request.sampling
        with torch.inference_mode():
            prefix = self._prefix_for(batch)
        start = prefix[0] if prefix is not None else 0
        tails = [row.ids[start:] for row in batch]
        width = start + max(len(tail) for tail in tails)
        input_ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        if start:
            input_ids[:, :start] = torch.tensor(batch[0].ids[:start], dtype=torch.long)
            attention[:, :start] = 1
        for i, tail in enumerate(tails):
            if tail:
                input_ids[i, width - len(tail) :] = torch.tensor(tail, dtype=torch.long)
                attention[i, width - len(tail) :] = 1
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
        cascade = prefix is not None and self._cascade_enabled()
        with torch.inference_mode(), _cascade_attention(self._model, cascade):
            cache = self._shared_prefill(batch, input_ids, attention, prefix, config.max_new_tokens)
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
        self,
        batch: list[_Prepared],
        input_ids: torch.Tensor,
        attention: torch.Tensor,
        prefix: tuple[int, _Prefix] | None = None,
        new_tokens: int = 0,
    ) -> Any:
        """The batch's KV cache over all but the last column, each distinct prompt computed
        once (``share_prefill``) and copied to its rows, starting from the first ``start``
        columns of ``prefix = (start, cached prefix)`` when given; None when there is
        neither a prefix nor a repeated prompt (nothing to share).

        The forward pass runs on the distinct rows of the padded batch itself (same width,
        same padding, position ids from the mask as ``generate`` derives them), so the
        expanded cache is what ``generate``'s own prefill would have built for those
        columns, and ``generate`` continues from the last prompt token. For a full-attention
        model the cache has room for the prompt and ``new_tokens`` (:func:`_growing_cache`).
        With cascade prefix attention the prefix stays one shared copy in the cache's layers
        (:func:`_cascade_layer_class`), and the caller runs ``generate`` on it inside
        :func:`_cascade_attention`.
        """
        import torch
        from transformers import DynamicCache

        width = input_ids.shape[1]
        start = prefix[0] if prefix is not None else 0
        if prefix is None and (not self.share_prefill or len(batch) < 2 or width < 2):
            return None
        if self.share_prefill:
            first: dict[tuple[int, ...], int] = {}
            owner = [first.setdefault(tuple(row.ids), len(first)) for row in batch]
            distinct = len(first)
        else:
            owner, distinct = list(range(len(batch))), len(batch)
        if prefix is None and distinct == len(batch):
            return None
        config, room = self._model.config, width - start + new_tokens
        cascade = prefix is not None and self._cascade_enabled()
        if prefix is not None:
            cache = prefix[1].cache(config, distinct, start, room, cascade)
            self.prefix_tokens_reused += start * len(batch)
        elif self._prefix_ok:
            cache = _growing_cache(config, room)
        else:
            cache = DynamicCache(config=config)
        if width - 1 > start:
            reps = torch.tensor([owner.index(k) for k in range(distinct)], dtype=torch.long)
            mask = attention[reps, :-1].to(self.device)
            positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
            with _cascade_attention(self._model, cascade):
                self._forward(input_ids[reps, start:-1], mask, positions[:, start:], cache)
        if distinct < len(batch):
            index = torch.tensor(owner, dtype=torch.long, device=self.device)
            cache.reorder_cache(cast("torch.LongTensor", index))  # also expands: rows repeat
            self.prefill_rows_saved += len(batch) - distinct
        return cache

    def _forward(
        self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
    ) -> None:
        """One forward pass that fills ``cache`` (logits of the last position only)."""
        keep = {"logits_to_keep": 1} if self._keeps_logits else {}
        self._model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=cache,
            use_cache=True,
            **keep,
        )

    def _prefix_for(self, batch: list[_Prepared]) -> tuple[int, _Prefix] | None:
        """``(start, prefix)``: the batch's rows all begin with the first ``start`` tokens of
        ``prefix``, whose KV cache is stored; None when they share fewer than
        ``prefix_cache_min_tokens`` tokens (or the prefix cache is off).

        The shared part is the batch's common token prefix (for one row, its prompt), less
        each row's last token, which ``generate`` must feed itself. A stored prefix that
        covers at least ``prefix_cache_min_tokens`` of it is reused (cut to the common
        part) unless the batch shares that many tokens more, in which case the longer
        prefix is computed from the stored one and stored too; with none, the shared part
        is computed and stored.
        """
        if not self._prefix_enabled():
            return None
        least = self.prefix_cache_min_tokens
        ids = batch[0].ids
        shared = min(len(row.ids) for row in batch) - 1
        for row in batch[1:]:
            shared = min(shared, _common_length(ids, row.ids))
        if shared < least:
            return None
        best, reuse = None, 0
        for stored in self._prefixes.values():
            common = _common_length(stored.ids, ids[:shared])
            if common > reuse:
                best, reuse = stored, common
        if best is not None and reuse >= least and (len(batch) == 1 or shared - reuse < least):
            self._prefixes.move_to_end(best.ids)
            return reuse, best
        return shared, self._store_prefix(ids[:shared], best, reuse)

    def _store_prefix(self, ids: list[int], base: _Prefix | None, reuse: int) -> _Prefix:
        """Compute the KV cache of ``ids`` (continuing from the first ``reuse`` positions of
        ``base`` when given) and store it, dropping the least recently used beyond
        :attr:`PREFIX_CACHE_ENTRIES`."""
        import torch

        config, begin = self._model.config, reuse if base is not None else 0
        room = len(ids) - begin
        cache = _growing_cache(config, room) if base is None else base.cache(config, 1, begin, room)
        self._forward(
            torch.tensor([ids[begin:]], dtype=torch.long),
            torch.ones((1, len(ids)), dtype=torch.long),
            torch.arange(begin, len(ids), dtype=torch.long).unsqueeze(0),
            cache,
        )
        prefix = _Prefix(tuple(ids), [(layer.keys, layer.values) for layer in cache.layers])
        self._prefixes[prefix.ids] = prefix
        while len(self._prefixes) > self.PREFIX_CACHE_ENTRIES:
            self._prefixes.popitem(last=False)
        self.prefix_tokens_computed += len(ids) - begin
        return prefix

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


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    if tuple(a[:n]) == tuple(b[:n]):
        return n
    return next(i for i in range(n) if a[i] != b[i])


def _growing_cache(config: Any, room: int, layer_class: type | None = None) -> Any:
    """An empty ``DynamicCache`` whose layers keep their keys and values in buffers with
    ``room`` spare positions, so that appending a token writes it in place; a plain
    ``DynamicLayer`` concatenates (copies) its whole cache every step, which with a kernel
    in the context costs more than the model itself on a small model. Only for models whose
    layers are all plain ``DynamicLayer`` (see :func:`_full_attention_only`)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    make = layer_class or _growing_layer_class()
    cache.layers = [make(room) for _ in cache.layers]
    return cache


_GROWING_LAYER: type | None = None


def _growing_layer_class() -> type:
    """The ``DynamicLayer`` subclass of :func:`_growing_cache` (defined on first use, as
    transformers is imported lazily)."""
    global _GROWING_LAYER
    if _GROWING_LAYER is not None:
        return _GROWING_LAYER
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """``keys``/``values`` are views of the first positions of buffers of
        :attr:`capacity` positions (the first update's length plus ``room``; a quarter more
        when outgrown). Whatever replaces them (``reorder_cache``, ``crop``) is copied into
        new buffers on the next ``update``."""

        def __init__(self, room: int) -> None:
            super().__init__()
            self.room = max(0, room)
            self.capacity = 0
            self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None
            self._view: torch.Tensor | None = None

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            n, add = self.stored(), key_states.shape[-2]
            buffers = self._buffers
            if buffers is None or self.keys is not self._view or buffers[0].shape[-2] < n + add:
                if not self.capacity:
                    self.capacity = n + add + self.room
                elif n + add > self.capacity:
                    self.capacity = n + add + (n + add) // 4
                size = (*key_states.shape[:-2], self.capacity)
                keys = key_states.new_empty((*size, key_states.shape[-1]))
                values = value_states.new_empty((*size, value_states.shape[-1]))
                if n:
                    keys[..., :n, :] = cast("torch.Tensor", self.keys)
                    values[..., :n, :] = cast("torch.Tensor", self.values)
                buffers = self._buffers = (keys, values)
            buffers[0][..., n : n + add, :] = key_states
            buffers[1][..., n : n + add, :] = value_states
            self.keys = self._view = buffers[0][..., : n + add, :]
            self.values = buffers[1][..., : n + add, :]
            return self.keys, self.values

        def stored(self) -> int:
            """How many positions ``keys`` holds."""
            return int(DynamicLayer.get_seq_length(self))

    _GROWING_LAYER = GrowingLayer
    return GrowingLayer


_CASCADE_LAYER: type | None = None
_CASCADE = threading.local()  # .layer: the cascade layer whose update ran last (this thread)
_CASCADE_NAME = "lem_cascade"


def _cascade_layer_class() -> type:
    """A growing layer that keeps a shared prefix apart from its rows (defined on first use).

    :attr:`prefix` is the prefix's keys and values, batch 1, never written; ``keys`` and
    ``values`` hold each row's positions after it (padding, suffix, generated tokens), and
    are all that ``update`` returns. The lengths the model sees (``get_seq_length``, hence
    mask sizes and cache positions) count the prefix too. ``update`` leaves the layer for
    :func:`_cascade_attention_forward`, which the model calls next, to find the prefix.
    """
    global _CASCADE_LAYER
    if _CASCADE_LAYER is not None:
        return _CASCADE_LAYER
    growing = _growing_layer_class()

    class CascadeLayer(growing):  # type: ignore[valid-type,misc]
        def __init__(self, room: int) -> None:
            super().__init__(room)
            self.prefix: tuple[torch.Tensor, torch.Tensor] | None = None

        def prefix_length(self) -> int:
            return 0 if self.prefix is None else int(self.prefix[0].shape[-2])

        def get_seq_length(self) -> int:
            return self.prefix_length() + self.stored()

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = super().update(key_states, value_states, *args, **kwargs)
            _CASCADE.layer = self
            return keys, values

        def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
            if self.stored():  # the prefix is shared by every row: nothing to reorder
                super().reorder_cache(beam_idx)

        def batch_repeat_interleave(self, repeats: int) -> None:
            if self.stored():
                super().batch_repeat_interleave(repeats)

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.stored():
                super().batch_select_indices(indices)

    _CASCADE_LAYER = CascadeLayer
    return CascadeLayer


@contextmanager
def _cascade_attention(model: Any, active: bool = True) -> Iterator[None]:
    """While active, ``model`` attends with :func:`_cascade_attention_forward` (registered
    with transformers on first use, its masks built as for ``sdpa``); its attention
    implementation is restored afterwards. Only for a cache of cascade layers."""
    if not active:
        yield
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if _CASCADE_NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(_CASCADE_NAME, _cascade_attention_forward)
    if _CASCADE_NAME not in AttentionMaskInterface._global_mapping:
        AttentionMaskInterface.register(_CASCADE_NAME, sdpa_mask)
    config = model.config
    before = config._attn_implementation
    config._attn_implementation = _CASCADE_NAME
    try:
        yield
    finally:
        config._attn_implementation = before
        _CASCADE.layer = None


def _cascade_attention_forward(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention over a shared prefix and each row's own part, merged exactly.

    ``key``/``value`` are a cascade layer's rows (batch B, after the prefix); the prefix
    (batch 1) comes from that layer. Every query attends to the whole prefix (rows are laid
    out prefix, padding, suffix, so no row masks any of it) and to its row's part under
    ``attention_mask``'s columns after the prefix (None: all of it). For a decoding step
    (one query per row) the prefix scores are one matrix product per key/value head over
    all rows' queries, so the prefix is read once, not once per row; grouped query heads
    share their key/value head without copies. The two parts' exponentials are taken
    against their common maximum and summed, which is the softmax over the concatenated
    keys. A suffix prefill (several queries per row) goes to :func:`_prefill_attention`.
    """
    import torch

    layer = getattr(_CASCADE, "layer", None)
    _CASCADE.layer = None
    if layer is None or key is not layer.keys or layer.prefix is None:
        raise BackendError(
            "cascade attention was called without the cache layer it needs; "
            "use prefix_attention='expanded' with this model"
        )
    prefix_keys, prefix_values = layer.prefix
    rows, heads, q_len, dim = query.shape
    kv_heads, own, p_len = key.shape[1], key.shape[-2], prefix_keys.shape[-2]
    if q_len > 1:
        return _prefill_attention(module, query, key, value, attention_mask, scaling, layer)
    groups = heads // kv_heads
    gq = groups * q_len
    work = torch.float64 if query.dtype == torch.float64 else torch.float32
    scale = scaling if scaling is not None else dim**-0.5
    q = (query * scale).reshape(rows, kv_heads, gq, dim)

    # The prefix: (kv_heads, rows * groups * q_len, P), one product per key/value head.
    q_shared = q.transpose(0, 1).reshape(kv_heads, rows * gq, dim)
    s_prefix = torch.matmul(q_shared, prefix_keys[0].transpose(-1, -2)).to(work)
    # Each row's own part: (rows, kv_heads, groups * q_len, own).
    s_own = torch.matmul(q, key.transpose(-1, -2)).to(work).view(rows, kv_heads, groups, q_len, own)
    if attention_mask is not None:
        visible = attention_mask[..., p_len:]
        if visible.dtype == torch.bool:
            s_own = s_own.masked_fill(~visible.unsqueeze(2), float("-inf"))
        else:
            s_own = s_own + visible.to(work).unsqueeze(2)
    s_own = s_own.view(rows, kv_heads, gq, own)

    # Both parts' exponentials against the common maximum (finite: no row masks the
    # prefix), in place on the large prefix scores, which keep their layout throughout.
    own_top = s_own.amax(-1, keepdim=True)  # (rows, kv_heads, gq, 1)
    top = torch.maximum(
        s_prefix.amax(-1, keepdim=True), own_top.transpose(0, 1).reshape(kv_heads, rows * gq, 1)
    )
    e_prefix = s_prefix.sub_(top).exp_()
    e_own = (s_own - top.view(kv_heads, rows, gq, 1).transpose(0, 1)).exp_()
    total = e_prefix.sum(-1, keepdim=True).view(kv_heads, rows, gq, 1).transpose(0, 1)
    total = total + e_own.sum(-1, keepdim=True)
    v_dim = value.shape[-1]
    o_prefix = torch.matmul(e_prefix.to(value.dtype), prefix_values[0])
    o_own = torch.matmul(e_own.to(value.dtype), value)
    out = o_prefix.view(kv_heads, rows, gq, v_dim).transpose(0, 1).to(work) + o_own.to(work)
    out = (out / total).to(query.dtype).reshape(rows, heads, q_len, v_dim)
    return out.transpose(1, 2).contiguous(), None


def _prefill_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None,
    layer: Any,
) -> tuple[torch.Tensor, None]:
    """A suffix prefill's attention: ``sdpa`` over the prefix (copied to each row for this
    one pass) followed by the rows' own keys, which on a CPU is about twice as fast as
    the two-part computation for many queries at once (its fused kernel never writes the
    scores out); the copy is dropped when the pass ends."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    prefix_keys, prefix_values = layer.prefix
    rows, q_len = query.shape[0], query.shape[2]
    keys = torch.cat([prefix_keys.expand(rows, -1, -1, -1), key], dim=-2)
    values = torch.cat([prefix_values.expand(rows, -1, -1, -1), value], dim=-2)
    if attention_mask is None:  # causal; sdpa would align it to the first key, not the last
        width = keys.shape[-2]
        attention_mask = torch.ones(q_len, width, dtype=torch.bool, device=query.device).tril(
            width - q_len
        )[None, None]
    out, _ = sdpa_attention_forward(
        module, query, keys, values, attention_mask, scaling=scaling, is_causal=False
    )
    return out, None


def _cascade_supported(lm: Any) -> bool:
    """Whether :func:`_cascade_attention_forward` computes ``lm``'s attention: plain scaled
    dot products (no logit soft-capping, no attention sinks)."""
    config = lm.config
    if getattr(config, "attn_logit_softcapping", None) or getattr(config, "use_sinks", False):
        return False
    return not any(name.endswith("sinks") for name, _ in lm.named_parameters())


def _full_attention_only(lm: Any) -> bool:
    """Whether every layer of ``lm`` caches its full context in a plain ``DynamicLayer``
    and attention is ``sdpa`` or ``eager``: then padding between a prefix and a suffix is
    masked like left padding. Sliding-window layers count columns, padding included, so a
    prefix with padding after it would see another window; they get the plain path."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    if getattr(lm.config, "_attn_implementation", None) not in ("sdpa", "eager"):
        return False
    if "position_ids" not in inspect.signature(lm.forward).parameters:
        return False
    try:
        layers = DynamicCache(config=lm.config).layers
    except Exception:
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


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
