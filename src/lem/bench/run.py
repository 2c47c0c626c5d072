"""``lem bench run`` as a function: read the items, record them, ask them through the
ledger, score what needs no judge.

The items become the run's prompts (id, rendered question, group) with their reference
fields attached, so the A/B machinery does the rest: content-addressed items, leases,
resume, many workers, any backend, any condition. The item set is stored in the run store
under its hash (``bench_items``), which the run's tags name, so scoring and reports never
need the item file again.
"""

from __future__ import annotations

from dataclasses import dataclass

from lem.bench.base import Benchmark, get_benchmark
from lem.bench.config import BenchConfig
from lem.bench.items import ItemSet, load_items
from lem.config import ABConfig
from lem.errors import InputError
from lem.probes import Probe, ProbeSet
from lem.runner import ProgressHook, RunOutcome, load_inputs, scorer_options

__all__ = ["BenchOutcome", "bench_ab_config", "bench_probes", "load_bench_items", "run_bench"]

TAG_BENCH = "bench"
TAG_ITEMS = "bench_items"
TAG_STYLE = "bench_prompt_style"
TAG_SOURCE = "bench_source"


@dataclass(frozen=True)
class BenchOutcome:
    """What a benchmark run did: the generation run and the item set it asked."""

    run: RunOutcome
    items: ItemSet
    benchmark: str


def load_bench_items(config: BenchConfig) -> tuple[Benchmark, ItemSet]:
    """The benchmark and its selected items (``--items`` is required)."""
    benchmark = get_benchmark(config.benchmark)
    if not config.items:
        raise InputError(
            f"lem bench run {benchmark.name}: give the item file with --items (lem never "
            "downloads benchmark data)"
        )
    items = load_items(
        config.items, benchmark, limit=config.limit, seed=config.seed, split=config.split
    )
    return benchmark, items


def bench_probes(benchmark: Benchmark, items: ItemSet, style: str) -> ProbeSet:
    """The items as the run's prompts, each carrying its reference fields for scorers."""
    return ProbeSet(
        tuple(
            Probe(
                id=item.id,
                prompt=benchmark.prompt(item, style),  # type: ignore[arg-type]
                domain=item.group,
                fields=benchmark.score_fields(item),
            )
            for item in items.items
        ),
        source=f"{benchmark.name}:{items.source}",
    )


def bench_ab_config(config: BenchConfig, benchmark: Benchmark, items: ItemSet) -> ABConfig:
    """The A/B config a benchmark run generates with: the generation settings, the
    benchmark's exact scorer plus any others, and the tags naming the item set."""
    exact = [benchmark.exact_scorer] if benchmark.exact_scorer else []
    scorers = list(dict.fromkeys([*exact, *config.scorers]))
    data = config.ab_config().model_dump(exclude_unset=True)
    data.update(
        scorers=scorers,
        prompt_format="completion" if config.prompt_style == "base" else "chat",
        tags={
            **config.tags,
            TAG_BENCH: benchmark.name,
            TAG_ITEMS: items.digest(),
            TAG_STYLE: config.prompt_style,
            TAG_SOURCE: items.source,
        },
    )
    return ABConfig(**data)


def run_bench(config: BenchConfig, *, progress: ProgressHook | None = None) -> BenchOutcome:
    """Run (or resume) one benchmark under the config's model and conditions."""
    from lem.api import run_ab
    from lem.store import Store

    benchmark, items = load_bench_items(config)
    probes = bench_probes(benchmark, items, config.prompt_style)
    ab = bench_ab_config(config, benchmark, items)
    load_inputs(ab, probes, **scorer_options(ab))
    store = Store(ab.db)
    try:
        store.put_bench_items(items.digest(), benchmark.name, [i.as_dict() for i in items.items])
    finally:
        store.close()
    outcome = run_ab(ab, progress=progress, probe_set=probes)
    return BenchOutcome(run=outcome, items=items, benchmark=benchmark.name)
