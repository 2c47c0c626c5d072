"""``lem distill`` as a function: check, generate, select, split, write, record.

1. **Check** before anything loads: the training prompts, kernels, condition and scorers
   (as ``lem ab`` does), the threshold against the ranking scorer's range, and the
   contamination guard (training prompts against the evaluation probes).
2. **Generate** through the same ledger as ``lem ab`` (:func:`lem.api.run_ab`): N seeded
   samples per prompt under the one condition, content-addressed, leased, resumable and
   shared between workers; every answer is scored inline.
3. **Select** (:mod:`lem.distill.select`), **split** by prompt and domain, and **write**
   the chat JSONL without the kernel, with lineage and a manifest
   (:mod:`lem.distill.dataset`); the dataset is recorded in the store by content hash.

Re-running the same command resumes the generation and writes the same dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.distill.config import DistillConfig
from lem.distill.dataset import DatasetRow, WrittenDataset, split_prompts
from lem.distill.dataset import write_dataset as _write
from lem.distill.select import Selection, check_threshold, select_answers
from lem.errors import InputError
from lem.probes import Probe, load_probes
from lem.redact import redact
from lem.responses import ScoredResponse, read_run
from lem.runner import ProgressHook, RunOutcome, item_seed, load_inputs, scorer_options
from lem.scoring.base import Scorer

__all__ = ["DistillOutcome", "check_contamination", "distill", "training_rows"]

Notify = Callable[[str], None]


@dataclass(frozen=True)
class DistillOutcome:
    """What a distillation did: the generation run, the selection and the dataset."""

    run: RunOutcome
    selection: Selection
    dataset: WrittenDataset


def _ranking(config: DistillConfig, scorers: list[Scorer]) -> Scorer:
    wanted = config.ranking_scorer
    for spec, scorer in zip(config.scorers, scorers, strict=True):
        if wanted in (spec, scorer.id):
            return scorer
    raise InputError(
        f"--select-by {wanted}: not one of the scorers ({', '.join(config.scorers)}); add it "
        "with --scorer"
    )


def check_contamination(
    config: DistillConfig, train: list[Probe], notify: Notify | None = None
) -> dict[str, Any]:
    """Compare the training prompts with every evaluation probe set of ``config``.

    Returns the check's record for the manifest. Overlaps are an :class:`InputError`
    (one line; each overlapping prompt is passed to ``notify`` first) unless
    ``allow_overlap`` is set, when they are recorded instead.
    """
    record: dict[str, Any] = {"method": config.contamination, "sets": []}
    for ref in config.eval_probes:
        from lem.distill.contamination import contamination_error, describe, find_overlaps

        evals = load_probes(ref)
        found = find_overlaps(train, list(evals.probes), method=config.contamination)
        record["sets"].append(
            {
                "source": Path(evals.source).name,
                "probes": len(evals),
                "overlaps": [
                    {"train_id": o.train_id, "eval_id": o.eval_id, "similarity": o.similarity}
                    for o in found
                ],
            }
        )
        if found and not config.allow_overlap:
            if notify is not None:
                for line in describe(found).splitlines():
                    notify(line)
            raise contamination_error(
                found, train_source=Path(config.probes or "lem-train").name, eval_source=ref
            )
    record["allowed"] = config.allow_overlap
    return record


def training_rows(
    kept: list[ScoredResponse],
    prompts: dict[str, Probe],
    *,
    scorer: Scorer,
    run_id: str,
    model: str,
    seed: int,
    keep_reasoning: bool,
) -> list[DatasetRow]:
    """The kept answers as chat rows: the bare training prompt (never the kernel) and the
    answer (with its reasoning as a ``<think>`` block when asked), with lineage."""
    rows: list[DatasetRow] = []
    for r in kept:
        probe = prompts[r.probe_id]
        answer = r.answer
        if keep_reasoning and r.reasoning:
            answer = f"<think>\n{r.reasoning.strip()}\n</think>\n\n{answer}"
        score = r.score(scorer.id)
        rows.append(
            DatasetRow(
                messages=[
                    {"role": "user", "content": probe.prompt},
                    {"role": "assistant", "content": answer},
                ],
                group=r.probe_id,
                domain=probe.domain or "uncategorised",
                lineage={
                    "probe_id": r.probe_id,
                    "domain": probe.domain,
                    "item_key": r.item_key,
                    "run_id": run_id,
                    "model": model,
                    "condition": r.condition,
                    "sample": r.sample,
                    "seed": item_seed(seed, r.item_key or ""),
                    "score": None if score is None else score.value,
                    "scorer": {
                        "id": scorer.id,
                        "version": None if score is None else score.version,
                        "definition_hash": None if score is None else score.definition_hash,
                    },
                },
            )
        )
    return rows


def distill(
    config: DistillConfig,
    *,
    progress: ProgressHook | None = None,
    notify: Notify | None = None,
) -> DistillOutcome:
    """Run (or resume) a distillation and write its dataset (see the module docstring)."""
    from lem import __version__
    from lem.api import run_ab
    from lem.store import Store

    ab = config.ab_config()
    probe_set, conditions, scorers = load_inputs(ab, **scorer_options(ab))
    ranking = _ranking(config, scorers)
    check_threshold(config.min_score, ranking.id, *ranking.value_range())
    train = list(probe_set.probes)
    contamination = check_contamination(config, train, notify)
    out = Path(config.out)
    if out.exists() and not (out / "manifest.json").is_file():
        raise InputError(
            f"--out {out} exists and is not a lem dataset; choose another --out folder"
        )
    outcome = run_ab(ab, progress=progress)
    store = Store(config.db, create=False)
    try:
        run = store.get_run(outcome.run_id)
        responses = list(read_run(store, outcome.run_id, [ranking.id]))
    finally:
        store.close()
    condition = conditions[0].name
    selection = select_answers(
        [r for r in responses if r.condition == condition],
        scorer=ranking.id,
        per_prompt=config.per_prompt,
        min_score=config.min_score,
        near_duplicate=config.near_duplicate,
        keep_truncated=config.keep_truncated,
    )
    manifest = run["manifest"]
    model = str(manifest.get("model_spec", config.model))
    prompts = {p.id: p for p in train}
    rows = training_rows(
        selection.kept,
        prompts,
        scorer=ranking,
        run_id=outcome.run_id,
        model=model,
        seed=config.seed,
        keep_reasoning=config.keep_reasoning,
    )
    groups = {r.group: r.domain for r in rows}
    splits = split_prompts(
        groups,
        valid_fraction=config.valid_fraction,
        test_fraction=config.test_fraction,
        seed=config.seed,
    )
    low, high = ranking.value_range()
    kept_scores = [float(r.lineage["score"]) for r in rows if r.lineage["score"] is not None]
    body: dict[str, Any] = {
        "kind": "distill",
        "name": config.dataset_name or out.name,
        "lem_version": __version__,
        "source": {
            "run_id": outcome.run_id,
            "db": redact(config.db),
            "model": model,
            "model_key": manifest.get("model_key"),
            "condition": condition,
            "mode": config.mode,
            "prompts": {
                "source": Path(probe_set.source).name,
                "sha256": manifest.get("probes", {}).get("sha256"),
                "count": len(train),
            },
            "samples": config.samples,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_tokens,
            "seed": config.seed,
            "generation_status": outcome.status,
        },
        "selection": {
            "scorer": {
                "id": ranking.id,
                "version": ranking.version,
                "definition_hash": ranking.definition_hash(),
                "range": [_finite_or_none(low), _finite_or_none(high)],
            },
            "keep": config.keep,
            "min_score": config.min_score,
            "per_prompt": config.per_prompt,
            "tie_break": "score desc, then sample, then item key",
            "near_duplicate": {
                "measure": "word-trigram Jaccard",
                "threshold": config.near_duplicate,
            },
            "keep_truncated": config.keep_truncated,
            "keep_reasoning": config.keep_reasoning,
        },
        **selection.record(
            kept_scores,
            valid_fraction=config.valid_fraction,
            test_fraction=config.test_fraction,
            seed=config.seed,
        ),
        "contamination": contamination,
    }
    if not rows:
        raise InputError(
            f"no answer survived selection ({_reasons(selection)}); lower --min-score, "
            "sample more (--samples) or check the failures with `lem runs show`"
        )
    written = _write(out, rows, splits=splits, manifest=body)
    store = Store(config.db, create=False)
    try:
        store.record_dataset(
            written.dataset_id,
            name=str(body["name"]),
            kind="distill",
            path=str(out.resolve()),
            run_id=outcome.run_id,
            manifest=written.manifest,
        )
    finally:
        store.close()
    return DistillOutcome(run=outcome, selection=selection, dataset=written)


def _finite_or_none(x: float) -> float | None:
    return x if x not in (float("inf"), float("-inf")) else None


def _reasons(sel: Selection) -> str:
    return ", ".join(f"{k} {v}" for k, v in sel.rejections().items() if v) or "no candidates"
