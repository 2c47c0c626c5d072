"""Checks run on the model being trained (``lem train --eval-every N``): capability
quick-checks (:mod:`lem.evals`) and lek-v2 on a subset of the bundled probes, so a loss of
capability shows while training, not only after it.

Answers are greedy, batched with left padding, rendered with the model's chat template
and no system message; the scores are deterministic for a given adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["generate_greedy", "make_evaluator"]


def generate_greedy(
    model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int, batch: int = 16
) -> list[str]:
    """Greedy answers to ``prompts`` as single user turns."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[str] = []
    try:
        for start in range(0, len(prompts), batch):
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
                )
                for p in prompts[start : start + batch]
            ]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            enc = {k: v.to(model.device) for k, v in enc.items()}
            with torch.no_grad():
                gen = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad
                )
            width = enc["input_ids"].shape[1]
            out += [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in gen]
    finally:
        tokenizer.padding_side = side
    return out


def make_evaluator(
    *, probes: int, max_new_tokens: int
) -> Callable[[Any, Any, int], dict[str, Any]]:
    """An evaluation hook for :func:`lem.train.loop.train_hf`: quick-check pass rates and
    the mean lek-v2 score of the first ``probes`` bundled probes."""
    from lem.evals import grade, load_quick_checks
    from lem.probes import load_probes
    from lem.scoring.lek_v2 import lek_v2_score

    checks = load_quick_checks()
    probe_set = list(load_probes(None).probes)[:probes]

    def evaluate(model: Any, tokenizer: Any, step: int) -> dict[str, Any]:
        answers = generate_greedy(
            model, tokenizer, [c.prompt for c in checks], max_new_tokens=max_new_tokens
        )
        result = grade(checks, {c.id: a for c, a in zip(checks, answers, strict=True)})
        out: dict[str, Any] = {
            "quick_checks": {
                "passed": result.passed,
                "total": result.total,
                "rate": round(result.rate, 4),
                "per_category": result.per_category,
            }
        }
        if probe_set:
            texts = generate_greedy(
                model, tokenizer, [p.prompt for p in probe_set], max_new_tokens=max_new_tokens
            )
            scores = [lek_v2_score(t) for t in texts]
            out["lek_v2"] = {"n": len(scores), "mean": round(sum(scores) / len(scores), 4)}
        return out

    return evaluate
