"""``lem bench score``: score stored benchmark runs from the store alone.

Each run's item set is read back from the store (``bench_items``) for the reference fields;
the benchmark's exact rule (GSM8K) is applied to every run, and with ``--judge`` its two
judged dimensions (``judge:RUBRIC@MODEL`` with the benchmark's rubric). The judge sees the
item, the reference answer where the rubric asks for one, and the answer, never the model
or the condition. Failed judgements are stored as failures with their reason, never as a
score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lem.bench.base import BenchItem, Benchmark, get_benchmark
from lem.bench.run import TAG_BENCH, TAG_ITEMS
from lem.errors import InputError
from lem.scoring.base import Scorer
from lem.scoring.service import build_scorers, judge_options, score_run
from lem.store import Store

__all__ = [
    "BenchRun",
    "bench_runs",
    "item_fields",
    "judge_scorer_id",
    "score_bench",
    "stored_fields",
]


@dataclass(frozen=True)
class BenchRun:
    """A stored benchmark run: its id, benchmark, item set hash and manifest."""

    run_id: str
    benchmark: str
    items_sha: str
    manifest: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None

    @property
    def tags(self) -> Mapping[str, str]:
        return self.manifest.get("tags") or {}


def bench_runs(store: Store, run_ids: list[str] | None = None) -> list[BenchRun]:
    """The store's benchmark runs (those tagged by ``lem bench run`` or ``import``),
    oldest first; ``run_ids`` (ids or unique prefixes) keeps only those."""
    found = []
    for r in store.list_runs():
        tags = r["manifest"].get("tags") or {}
        if TAG_BENCH in tags and TAG_ITEMS in tags:
            found.append(
                BenchRun(
                    r["run_id"], tags[TAG_BENCH], tags[TAG_ITEMS], r["manifest"], r.get("name")
                )
            )
    if run_ids:
        chosen = []
        for ref in run_ids:
            match = [b for b in found if b.run_id.startswith(ref)]
            if len(match) != 1:
                raise InputError(
                    f"--run {ref}: {'no' if not match else 'more than one'} benchmark run "
                    "matches; `lem bench report` lists them"
                )
            chosen.append(match[0])
        return chosen
    return found


def stored_fields(store: Store, benchmark: Benchmark, items_sha: str) -> dict[str, dict[str, str]]:
    """Each item's reference fields (as scorers see them), from the stored item set
    ``items_sha``; empty when the store does not have it."""
    return {
        r["id"]: benchmark.score_fields(BenchItem(r["id"], r["question"], r["fields"], r["group"]))
        for r in store.get_bench_items(items_sha)
    }


def item_fields(store: Store, run: BenchRun, benchmark: Benchmark) -> dict[str, dict[str, str]]:
    """:func:`stored_fields` of a benchmark run; an error when the store lacks its items."""
    fields = stored_fields(store, benchmark, run.items_sha)
    if not fields:
        raise InputError(
            f"run {run.run_id}: its benchmark items ({run.items_sha[:12]}) are not in this "
            "store; run `lem bench run` again with the same --items"
        )
    return fields


def judge_scorer_id(benchmark: Benchmark, judge: str) -> str | None:
    """``judge:RUBRIC@MODEL`` for a benchmark with a rubric; MODEL is the part of the
    judge spec after ``#`` (``openai:URL#MODEL``), else ``judge``."""
    if benchmark.rubric is None:
        return None
    model = judge.rpartition("#")[2].strip() if "#" in judge else "judge"
    return f"judge:{benchmark.rubric}@{model or 'judge'}"


def score_bench(
    db: str,
    *,
    run_ids: list[str] | None = None,
    judge: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 4,
) -> dict[str, dict[str, int]]:
    """Score every (or the named) benchmark run; returns rows written per run and scorer."""
    store = Store(db, create=False)
    try:
        runs = bench_runs(store, run_ids)
        if not runs:
            raise InputError(f"no benchmark runs in {store.display_url}; run `lem bench run` first")
        written: dict[str, dict[str, int]] = {}
        for run in runs:
            benchmark = get_benchmark(run.benchmark)
            names = [benchmark.exact_scorer] if benchmark.exact_scorer else []
            jid = judge_scorer_id(benchmark, judge) if judge else None
            if jid:
                names.append(jid)
            if not names:
                written[run.run_id] = {}
                continue
            opts = judge_options(
                names, judge=judge, api_key_env=api_key_env, concurrency=concurrency, store=store
            )
            scorers: list[Scorer] = build_scorers(names, **opts)
            try:
                written[run.run_id] = score_run(
                    store, run.run_id, scorers, item_fields(store, run, benchmark)
                )
            finally:
                for s in scorers:
                    close = getattr(s, "close", None)
                    if close is not None:
                        close()
        return written
    finally:
        store.close()
