"""What a run store is doing: progress per run, condition and domain, each worker's rate
and last sign of life, ETAs, and the training runs lem knows about.

Everything is read from the store (and training folders' ``metrics.jsonl``), so any
machine that can reach the store can watch: ``lem status --db URL --watch``. Rates come
from completion times: a run's rate is the items it finished in the last ``window_s``
seconds, its ETA the remaining items at that rate. A worker is identified by the id the
ledger records on every item it claims and finishes (``host:pid:random``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from lem.store import Store
from lem.store.schema import items, run_items, runs

__all__ = [
    "RunStatus",
    "StoreStatus",
    "TrainStatus",
    "WorkerStatus",
    "eta_text",
    "render_html",
    "store_status",
    "train_status",
]

DONE, FAILED, CLAIMED = "done", "failed", "claimed"


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


@dataclass
class Counts:
    """Item counts by state; ``remaining`` is everything not done."""

    total: int = 0
    done: int = 0
    failed: int = 0
    claimed: int = 0
    pending: int = 0

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def add(self, status: str, n: int) -> None:
        self.total += n
        if status == DONE:
            self.done += n
        elif status == FAILED:
            self.failed += n
        elif status == CLAIMED:
            self.claimed += n
        else:
            self.pending += n

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "remaining": self.remaining}


@dataclass
class RunStatus:
    run_id: str
    name: str | None
    model: str
    status: str
    counts: Counts
    by_condition: dict[str, Counts]
    by_domain: dict[str, Counts]
    rate_per_min: float
    eta_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "model": self.model,
            "status": self.status,
            **self.counts.as_dict(),
            "by_condition": {k: v.as_dict() for k, v in self.by_condition.items()},
            "by_domain": {k: v.as_dict() for k, v in self.by_domain.items()},
            "rate_per_min": round(self.rate_per_min, 3),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }


@dataclass
class WorkerStatus:
    worker: str
    host: str
    done: int
    failed: int
    claimed_now: int
    first_seen: str | None
    last_seen: str | None
    rate_per_min: float

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate_per_min": round(self.rate_per_min, 3)}


@dataclass
class TrainStatus:
    out: str
    step: int
    total_steps: int | None
    loss: float | None
    val_loss: float | None
    tokens_per_s: float | None
    eta_s: float | None
    finished: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StoreStatus:
    db: str
    at: str
    runs: list[RunStatus] = field(default_factory=list)
    workers: list[WorkerStatus] = field(default_factory=list)
    training: list[TrainStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "at": self.at,
            "runs": [r.as_dict() for r in self.runs],
            "workers": [w.as_dict() for w in self.workers],
            "training": [t.as_dict() for t in self.training],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)


def train_status(out: str | Path) -> TrainStatus | None:
    """A training folder's progress from its ``metrics.jsonl`` (None without one): the
    last step and loss, the last validation loss, and an ETA from the time per step."""
    folder = Path(out)
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return None
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if not lines:
        return None
    last = lines[-1]
    step = int(last.get("step", 0))
    total = last.get("total_steps")
    val = next((x["val_loss"] for x in reversed(lines) if x.get("val_loss") is not None), None)
    finished = (folder / "adapter").is_dir() or (folder / "adapters.safetensors").is_file()
    eta = None
    elapsed = last.get("elapsed_s")
    first = lines[0]
    if (
        isinstance(total, int)
        and not finished
        and isinstance(elapsed, int | float)
        and step > int(first.get("step", 0))
    ):
        per_step = (float(elapsed) - float(first.get("elapsed_s", 0.0))) / (
            step - int(first.get("step", 0))
        )
        eta = max(0.0, per_step * (total - step))
    return TrainStatus(
        out=str(folder),
        step=step,
        total_steps=total if isinstance(total, int) else None,
        loss=last.get("loss"),
        val_loss=val,
        tokens_per_s=last.get("tokens_per_s"),
        eta_s=None if eta is None else round(eta, 1),
        finished=finished,
    )


def _training_folders(store: Store) -> list[str]:
    from lem.store.schema import experiment_stages

    with store.engine.connect() as conn:
        rows = conn.execute(select(experiment_stages.c.stage, experiment_stages.c.outputs)).all()
    found = []
    for stage, outputs in rows:
        if not str(stage).endswith("/train"):
            continue
        out = json.loads(outputs or "{}").get("out")
        if out and out not in found:
            found.append(out)
    return found


def store_status(
    db: str,
    *,
    run_ids: list[str] | None = None,
    train: list[str] | None = None,
    window_s: float = 600.0,
    now: float | None = None,
) -> StoreStatus:
    """The store's status (see the module doc); ``run_ids`` (ids or prefixes) narrows
    the runs; ``train`` adds training folders to those the experiment stages name."""
    now = now if now is not None else datetime.now(UTC).timestamp()
    store = Store(db, create=False)
    try:
        out = StoreStatus(db=store.display_url, at=datetime.fromtimestamp(now, UTC).isoformat())
        with store.engine.connect() as conn:
            run_rows = conn.execute(
                select(runs.c.run_id, runs.c.name, runs.c.status, runs.c.manifest).order_by(
                    runs.c.created_at
                )
            ).all()
            for run_id, name, status, manifest in run_rows:
                if run_ids and not any(run_id.startswith(r) for r in run_ids):
                    continue
                grouped = conn.execute(
                    select(
                        run_items.c.condition,
                        run_items.c.category,
                        items.c.status,
                        func.count(),
                    )
                    .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
                    .where(run_items.c.run_id == run_id)
                    .group_by(run_items.c.condition, run_items.c.category, items.c.status)
                ).all()
                counts = Counts()
                by_cond: dict[str, Counts] = defaultdict(Counts)
                by_dom: dict[str, Counts] = defaultdict(Counts)
                for cond, cat, st, n in grouped:
                    counts.add(st, n)
                    by_cond[cond].add(st, n)
                    by_dom[cat].add(st, n)
                recent = conn.execute(
                    select(items.c.completed_at)
                    .select_from(run_items.join(items, items.c.key == run_items.c.item_key))
                    .where(run_items.c.run_id == run_id, items.c.status == DONE)
                ).scalars()
                times = [
                    t for t in (_ts(x) for x in recent) if t is not None and t >= now - window_s
                ]
                rate = 0.0
                if times:
                    span = max(now - min(times), 1.0)
                    rate = len(times) / span * 60.0
                eta = counts.remaining / rate * 60.0 if rate > 0 and counts.remaining else None
                m = json.loads(manifest or "{}")
                out.runs.append(
                    RunStatus(
                        run_id,
                        name,
                        str(m.get("model_spec", "")),
                        status,
                        counts,
                        dict(by_cond),
                        dict(by_dom),
                        rate,
                        eta,
                    )
                )
            workers = conn.execute(
                select(
                    items.c.worker,
                    items.c.status,
                    func.count(),
                    func.min(items.c.completed_at),
                    func.max(items.c.completed_at),
                )
                .where(items.c.worker != "", items.c.worker.is_not(None))
                .group_by(items.c.worker, items.c.status)
            ).all()
        per: dict[str, dict[str, Any]] = {}
        for worker, st, n, first, last in workers:
            w = per.setdefault(
                worker, {"done": 0, "failed": 0, "claimed": 0, "first": None, "last": None}
            )
            if st == DONE:
                w["done"] += n
            elif st == FAILED:
                w["failed"] += n
            elif st == CLAIMED:
                w["claimed"] += n
            if first and (w["first"] is None or first < w["first"]):
                w["first"] = first
            if last and (w["last"] is None or last > w["last"]):
                w["last"] = last
        for worker, w in sorted(per.items(), key=lambda kv: kv[1]["last"] or "", reverse=True):
            a, b = _ts(w["first"]), _ts(w["last"])
            finished = w["done"] + w["failed"]
            rate = finished / (b - a) * 60.0 if a is not None and b is not None and b > a else 0.0
            out.workers.append(
                WorkerStatus(
                    worker=worker,
                    host=worker.partition(":")[0],
                    done=w["done"],
                    failed=w["failed"],
                    claimed_now=w["claimed"],
                    first_seen=w["first"],
                    last_seen=w["last"],
                    rate_per_min=rate,
                )
            )
        folders = [*_training_folders(store), *(train or [])]
    finally:
        store.close()
    for folder in dict.fromkeys(folders):
        t = train_status(folder)
        if t is not None:
            out.training.append(t)
    return out


def eta_text(seconds: float | None) -> str:
    """Seconds as ``1h05m`` or ``4m09s`` (``—`` when unknown)."""
    if seconds is None:
        return "—"
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def render_html(status: StoreStatus, *, window_s: float = 600.0) -> str:
    """The status as a self-contained HTML page (the run page beside the reports)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lem.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    return env.get_template("status.html.j2").render(s=status, window=int(window_s), eta=eta_text)
