"""``lem data approve``: stored answers at or above a scorer threshold as a training set.

The answers of one or more runs (any condition, or the ones named) are selected by the
same rules as ``lem distill`` (:mod:`lem.distill.select`): a threshold on the scorer's
own scale (checked against its declared range), at most K per prompt if asked, exact and
near-duplicate answers removed, rejections counted. The rows hold the bare prompt and the
answer (never the kernel), with lineage back to each stored item, and the dataset is
recorded in the store by its content hash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lem.distill.dataset import DatasetRow, WrittenDataset, split_prompts
from lem.distill.dataset import write_dataset as _write
from lem.distill.select import Selection, check_threshold, select_answers
from lem.errors import InputError
from lem.redact import redact
from lem.responses import ScoredResponse, read_run

__all__ = ["ApproveOutcome", "approve", "scorer_range"]


@dataclass(frozen=True)
class ApproveOutcome:
    selection: Selection
    dataset: WrittenDataset


def scorer_range(scorer: str) -> tuple[float, float]:
    """The declared range of a scorer id (judges: their rubric's scale)."""
    from lem.scoring.base import default_scorer

    if scorer.startswith("judge:"):
        from lem.scoring.rubrics import load_rubric

        rubric = scorer.removeprefix("judge:").rpartition("@")[0] or scorer
        low, high = load_rubric(rubric).scale
        return float(low), float(high)
    built = default_scorer(scorer)
    if built is None:
        raise InputError(
            f"--scorer {scorer}: lem has no such scorer to check the threshold against"
        )
    return built.value_range()


def approve(
    db: str,
    runs: list[str],
    *,
    scorer: str,
    min_score: float,
    out: str | Path,
    conditions: list[str] | None = None,
    per_prompt: int | None = None,
    near_duplicate: float = 0.7,
    keep_truncated: bool = False,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    name: str | None = None,
) -> ApproveOutcome:
    """Write the approved answers of ``runs`` as a dataset folder ``out``."""
    from lem import __version__
    from lem.store import Store

    low, high = scorer_range(scorer)
    check_threshold(min_score, scorer, low, high)
    target = Path(out)
    if target.exists() and not (target / "manifest.json").is_file():
        raise InputError(f"--out {target} exists and is not a lem dataset; choose another folder")
    store = Store(db, create=False)
    try:
        chosen = [store.get_run(r) for r in runs] if runs else store.list_runs()
        responses: list[ScoredResponse] = []
        models: dict[str, str] = {}
        for run in chosen:
            models[run["run_id"]] = str(run["manifest"].get("model_spec", ""))
            for r in read_run(store, run["run_id"], [scorer]):
                if conditions and r.condition not in conditions:
                    continue
                responses.append(r)
    finally:
        store.close()
    if not responses:
        raise InputError(
            "no stored answers in those runs and conditions; check --run and --condition"
        )
    selection = select_answers(
        responses,
        scorer=scorer,
        per_prompt=per_prompt,
        min_score=min_score,
        near_duplicate=near_duplicate,
        keep_truncated=keep_truncated,
    )
    if not selection.kept:
        reasons = ", ".join(f"{k} {v}" for k, v in selection.rejections().items() if v)
        raise InputError(
            f"no answer survived selection ({reasons}); lower --min-score, or pass "
            "--keep-truncated if answers were cut off"
        )
    rows = []
    for r in selection.kept:
        score = r.score(scorer)
        rows.append(
            DatasetRow(
                messages=[
                    {"role": "user", "content": r.prompt},
                    {"role": "assistant", "content": r.answer},
                ],
                group=r.probe_id,
                domain=r.category or "uncategorised",
                lineage={
                    "probe_id": r.probe_id,
                    "domain": r.category,
                    "item_key": r.item_key,
                    "run_id": r.run_id,
                    "model": models.get(r.run_id or "", ""),
                    "condition": r.condition,
                    "sample": r.sample,
                    "score": None if score is None else score.value,
                    "scorer": {
                        "id": scorer,
                        "version": None if score is None else score.version,
                        "definition_hash": None if score is None else score.definition_hash,
                    },
                },
            )
        )
    splits = split_prompts(
        {r.group: r.domain for r in rows},
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        seed=seed,
    )
    kept_scores = [float(r.lineage["score"]) for r in rows if r.lineage["score"] is not None]
    manifest: dict[str, Any] = {
        "kind": "approve",
        "name": name or target.name,
        "lem_version": __version__,
        "source": {
            "db": redact(db),
            "runs": [r["run_id"] for r in chosen],
            "conditions": conditions or "all",
        },
        "selection": {
            "scorer": {"id": scorer, "range": [_finite(low), _finite(high)]},
            "keep": "threshold",
            "min_score": min_score,
            "per_prompt": per_prompt,
            "tie_break": "score desc, then sample, then item key",
            "near_duplicate": {"measure": "word-trigram Jaccard", "threshold": near_duplicate},
            "keep_truncated": keep_truncated,
        },
        **selection.record(
            kept_scores,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
            seed=seed,
        ),
    }
    written = _write(target, rows, splits=splits, manifest=manifest)
    store = Store(db, create=False)
    try:
        store.record_dataset(
            written.dataset_id,
            name=str(manifest["name"]),
            kind="approve",
            path=str(target.resolve()),
            run_id=chosen[0]["run_id"] if len(chosen) == 1 else None,
            manifest=written.manifest,
        )
    finally:
        store.close()
    return ApproveOutcome(selection, written)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
