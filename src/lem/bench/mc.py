"""TruthfulQA multiple choice (MC1, MC2) from log-likelihoods, for ``hf`` models.

For each item and condition the context is the rendered prompt the model would get (the
benchmark's chat or base prompt, under the condition's kernel placement), and each answer
choice is a continuation of it; its log-likelihood is the sum of the log-probabilities of
its tokens. As in lm-evaluation-harness:

* **MC1**: 1 if the choice with the highest log-likelihood is the true one (the best answer
  among the incorrect answers), else 0;
* **MC2**: the normalised probability mass of the true answers,
  ``sum(p_true) / (sum(p_true) + sum(p_false))`` with ``p = exp(loglik)``.

Unlike the harness, the prompt is zero-shot (no six-question primer), so figures compare
variants with each other, not with leaderboard numbers. Choices are scored in padded
batches (``batch_size`` sequences per forward pass); each (item, condition) is one item of
a stored run, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lem.bench.base import BenchItem, Benchmark
from lem.bench.config import BenchConfig
from lem.bench.items import ItemSet
from lem.bench.run import TAG_BENCH, TAG_ITEMS, TAG_SOURCE, TAG_STYLE, load_bench_items
from lem.errors import InputError
from lem.runner import ProgressHook, model_key_of

__all__ = [
    "MC1",
    "MC2",
    "TAG_MODE",
    "MCOutcome",
    "choice_logliks",
    "mc_scores",
    "run_mc",
    "split_continuation",
]

MC1 = "truthfulqa-mc1"
MC2 = "truthfulqa-mc2"
TAG_MODE = "bench_mode"
_VERSION = "1"
_DEFINITION = {
    "context": "the rendered prompt of the item under the condition (zero-shot)",
    "continuation": "the choice text (base prompts: a leading space)",
    "loglik": "sum of token log-probabilities of the continuation",
    "mc1": "argmax loglik is a true choice",
    "mc2": "sum exp(loglik) of true choices / sum over all choices",
}
DEFINITION_HASH = hashlib.sha256(json.dumps(_DEFINITION, sort_keys=True).encode()).hexdigest()


def split_continuation(
    encode: Callable[[str], list[int]], context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """Token ids of ``context`` and of ``continuation`` after it: the whole text is
    encoded once and split where the context's own encoding ends, so a token that spans
    the boundary is never counted twice; when the split does not line up, the
    continuation is encoded on its own."""
    ctx = encode(context)
    whole = encode(context + continuation)
    if len(whole) > len(ctx) and whole[: len(ctx)] == ctx:
        return ctx, whole[len(ctx) :]
    return ctx, encode(continuation)


def choice_logliks(
    model: Any, requests: Sequence[tuple[list[int], list[int]]], *, batch_size: int = 16
) -> list[float]:
    """Log-likelihood of each ``(context ids, continuation ids)`` request, computed in
    right-padded batches of ``batch_size`` (longest first); one forward pass per batch."""
    import torch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    device = next(model.parameters()).device
    order = sorted(range(len(requests)), key=lambda i: -(len(requests[i][0]) + len(requests[i][1])))
    out = [math.nan] * len(requests)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        seqs = [requests[i][0] + requests[i][1] for i in idx]
        width = max(len(s) for s in seqs)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            logp = torch.log_softmax(logits.double(), dim=-1)
        for row, i in enumerate(idx):
            ctx, cont = requests[i]
            if not ctx or not cont:
                raise ValueError("a log-likelihood request needs a context and a continuation")
            pos = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=logp.device)
            target = torch.tensor(cont, dtype=torch.long, device=logp.device)
            out[i] = float(logp[row, pos, target].sum())
    return out


def mc_scores(logliks: Sequence[float], labels: Sequence[int]) -> tuple[float, float]:
    """``(mc1, mc2)`` of one item from its choices' log-likelihoods and 0/1 labels."""
    if len(logliks) != len(labels) or not any(labels) or all(labels):
        raise ValueError("MC scoring needs true and false choices, one label per choice")
    best = max(range(len(logliks)), key=lambda i: (logliks[i], -i))
    top = max(logliks)
    mass = [math.exp(x - top) for x in logliks]
    true_mass = sum(m for m, lab in zip(mass, labels, strict=True) if lab)
    return float(bool(labels[best])), true_mass / sum(mass)


@dataclass(frozen=True)
class MCOutcome:
    run_id: str
    items: ItemSet
    scored: int
    skipped: int


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def run_mc(
    config: BenchConfig,
    *,
    backend: Any | None = None,
    progress: ProgressHook | None = None,
) -> MCOutcome:
    """Score MC1/MC2 of the config's ``hf`` model on TruthfulQA items under each
    condition and store them as a run (resumable by item)."""
    from lem.api import backend_for
    from lem.backends.base import parse_model_spec, prompt_hash
    from lem.conditions.base import parse_conditions
    from lem.kernels import resolve_kernels
    from lem.store import Store
    from lem.store.ledger import ItemPlan

    if config.benchmark != "truthfulqa":
        raise InputError("lem bench mc scores TruthfulQA only: use --benchmark truthfulqa")
    kind, _, _ = parse_model_spec(config.model)
    if backend is None and kind != "hf":
        raise InputError(
            f"--model {config.model}: multiple choice needs token log-probabilities, which "
            "lem reads from hf models only; use hf:PATH"
        )
    benchmark, items = load_bench_items(config)
    kernels = resolve_kernels(config.kernels, render=config.render_json_kernels)
    conditions = parse_conditions(config.condition_specs(kernels), kernels)
    own = backend is None
    backend = backend or backend_for(config.ab_config())
    store = Store(config.db)
    try:
        model_key = model_key_of(backend)
        sha = items.digest()
        store.put_bench_items(sha, benchmark.name, [i.as_dict() for i in items.items])
        plan = []
        contexts = {}
        position = 0
        for item in items.items:
            for cond in conditions:
                messages = cond.messages(benchmark.prompt(item, config.prompt_style))
                rendered, fallback = backend.render(messages)
                key = _sha(
                    {"model": model_key, "prompt": prompt_hash(rendered), "mc": DEFINITION_HASH}
                )
                plan.append(
                    ItemPlan(
                        key=key,
                        model_key=model_key,
                        messages=json.dumps(messages, ensure_ascii=False),
                        rendered_hash=prompt_hash(rendered),
                        system_fallback=fallback,
                        sampling=json.dumps({"mode": "loglik"}),
                        sample_index=0,
                        seed=0,
                        position=position,
                        probe_id=item.id,
                        category=(item.group or benchmark.name).lower(),
                        prompt=benchmark.prompt(item, config.prompt_style),
                        condition=cond.name,
                    )
                )
                contexts[key] = (item, rendered)
                position += 1
        run_id = _sha(
            {
                "model": model_key,
                "items": sha,
                "conditions": [c.name for c in conditions],
                "mc": DEFINITION_HASH,
                "style": config.prompt_style,
            }
        )[:16]
        manifest = {
            "run_id": run_id,
            "model_spec": config.model,
            "model": backend.identity(),
            "model_key": model_key,
            "probes": {"source": items.source, "sha256": sha, "count": len(items)},
            "conditions": [c.manifest() for c in conditions],
            "samples": 1,
            "scorers": [
                {"id": s, "version": _VERSION, "definition_hash": DEFINITION_HASH}
                for s in (MC1, MC2)
            ],
            "mc": _DEFINITION,
            "tags": {
                **config.tags,
                TAG_BENCH: benchmark.name,
                TAG_ITEMS: sha,
                TAG_STYLE: config.prompt_style,
                TAG_SOURCE: items.source,
                TAG_MODE: "mc",
            },
            "items": len(plan),
        }
        store.open_run(run_id, name=config.name, config={"mc": True}, manifest=manifest)
        store.add_plan(run_id, plan)
        todo = {r["key"] for r in store.unfinished(run_id)}
        work = [p for p in plan if p.key in todo]
        if progress is not None:
            progress("start", {"total": len(plan), "done": len(plan) - len(work)})
        scored = 0
        for start in range(0, len(work), max(1, config.batch_size)):
            chunk = work[start : start + max(1, config.batch_size)]
            scored += _score_chunk(store, backend, benchmark, chunk, contexts, config)
            if progress is not None:
                for _ in chunk:
                    progress("result", {"ok": True, "tokens": 0})
        store.finish_run(run_id, status="done", extra={"invocation_s": 0.0, "remaining": 0})
        return MCOutcome(run_id, items, scored, len(plan) - len(work))
    finally:
        store.close()
        if own:
            backend.close()


def _score_chunk(
    store: Any,
    backend: Any,
    benchmark: Benchmark,
    chunk: list[Any],
    contexts: dict[str, tuple[BenchItem, str]],
    config: BenchConfig,
) -> int:
    requests: list[tuple[list[int], list[int]]] = []
    spans = []
    lead = " " if config.prompt_style == "base" else ""
    for plan in chunk:
        item, rendered = contexts[plan.key]
        mc1, mc2 = item.fields["mc1"], item.fields["mc2"]
        first = len(requests)
        for choice in [*mc1["choices"], *mc2["choices"]]:
            requests.append(split_continuation(backend._encode, rendered, lead + choice))
        spans.append((plan, first, len(mc1["choices"]), len(mc2["choices"])))
    lls = choice_logliks(backend._model, requests, batch_size=config.batch_size * 4)
    done: dict[str, dict[str, Any]] = {}
    rows = []
    for plan, first, n1, n2 in spans:
        item, _ = contexts[plan.key]
        l1 = lls[first : first + n1]
        l2 = lls[first + n1 : first + n1 + n2]
        mc1, _ = mc_scores(l1, item.fields["mc1"]["labels"])
        _, mc2 = mc_scores(l2, item.fields["mc2"]["labels"])
        pick = max(range(n1), key=lambda i: (l1[i], -i))
        done[plan.key] = {
            "text": item.fields["mc1"]["choices"][pick],
            "answer": item.fields["mc1"]["choices"][pick],
            "reasoning": "",
            "extra": json.dumps({"mc1_logliks": l1, "mc2_logliks": l2}),
        }
        for scorer, value in ((MC1, mc1), (MC2, mc2)):
            rows.append(
                {
                    "item_key": plan.key,
                    "scorer": scorer,
                    "version": _VERSION,
                    "definition_hash": DEFINITION_HASH,
                    "value": value,
                    "signals": json.dumps({}),
                    "status": "ok",
                    "reason": None,
                }
            )
    store.add_scores(rows)
    store.record_imported(done)
    return len(done)
